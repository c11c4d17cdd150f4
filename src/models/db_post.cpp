#include "models/db_post.h"

#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

namespace kiln::models::detail {

namespace {

// get_mini_boxes: the rectangle's corners sorted by x, then the left pair and
// the right pair each ordered by y, as [left-top, right-top, right-bottom,
// left-bottom]; and the rectangle's shorter side.
std::array<cv::Point2f, 4> mini_box(const std::vector<cv::Point2f>& points, float* shorter) {
  const cv::RotatedRect r = cv::minAreaRect(points);
  std::array<cv::Point2f, 4> p;
  r.points(p.data());
  std::stable_sort(p.begin(), p.end(), [](const cv::Point2f& a, const cv::Point2f& b) { return a.x < b.x; });
  const int i1 = p[1].y > p[0].y ? 0 : 1, i4 = p[1].y > p[0].y ? 1 : 0;
  const int i2 = p[3].y > p[2].y ? 2 : 3, i3 = p[3].y > p[2].y ? 3 : 2;
  *shorter = std::min(r.size.width, r.size.height);
  return {p[i1], p[i2], p[i3], p[i4]};
}

// box_score_fast: the mean probability inside the quad, over its bounding box.
float box_score(const cv::Mat& prob, const std::array<cv::Point2f, 4>& box) {
  const int h = prob.rows, w = prob.cols;
  float xmin = box[0].x, xmax = box[0].x, ymin = box[0].y, ymax = box[0].y;
  for (const auto& p : box) {
    xmin = std::min(xmin, p.x); xmax = std::max(xmax, p.x);
    ymin = std::min(ymin, p.y); ymax = std::max(ymax, p.y);
  }
  const int x0 = std::clamp(int(std::floor(xmin)), 0, w - 1), x1 = std::clamp(int(std::ceil(xmax)), 0, w - 1);
  const int y0 = std::clamp(int(std::floor(ymin)), 0, h - 1), y1 = std::clamp(int(std::ceil(ymax)), 0, h - 1);
  cv::Mat mask(y1 - y0 + 1, x1 - x0 + 1, CV_8UC1, cv::Scalar(0));
  std::vector<cv::Point> poly;
  for (const auto& p : box) poly.emplace_back(int(p.x - x0), int(p.y - y0));  // astype(int32): truncation
  cv::fillPoly(mask, std::vector<std::vector<cv::Point>>{poly}, cv::Scalar(1));
  return float(cv::mean(prob(cv::Rect(x0, y0, x1 - x0 + 1, y1 - y0 + 1)), mask)[0]);
}

// unclip: pyclipper's round-joined offset by area * ratio / perimeter of the
// polygon, i.e. the quad (at integer corners, as pyclipper takes it) grown by
// a disk; its points feed the next minimum-area rectangle.
std::vector<cv::Point2f> unclip(const std::array<cv::Point2f, 4>& box, float ratio) {
  double area = 0, length = 0;
  for (int i = 0; i < 4; ++i) {
    const cv::Point2f& a = box[i];
    const cv::Point2f& b = box[(i + 1) % 4];
    area += double(a.x) * b.y - double(b.x) * a.y;
    length += std::hypot(double(b.x - a.x), double(b.y - a.y));
  }
  area = std::abs(area) / 2;
  const double d = length > 0 ? area * ratio / length : 0;
  constexpr int k_steps = 64;
  std::vector<cv::Point2f> out;
  for (const auto& p : box) {
    const double px = std::trunc(p.x), py = std::trunc(p.y);
    for (int k = 0; k < k_steps; ++k) {
      const double t = 2 * M_PI * k / k_steps;
      out.emplace_back(float(std::nearbyint(px + d * std::cos(t))), float(std::nearbyint(py + d * std::sin(t))));
    }
  }
  return out;
}

// TextDetector.order_points_clockwise.
std::array<cv::Point2f, 4> order_clockwise(const std::array<cv::Point2f, 4>& pts) {
  int smin = 0, smax = 0;
  for (int i = 1; i < 4; ++i) {
    if (pts[i].x + pts[i].y < pts[smin].x + pts[smin].y) smin = i;
    if (pts[i].x + pts[i].y > pts[smax].x + pts[smax].y) smax = i;
  }
  if (smin == smax) smax = (smin + 2) % 4;
  std::vector<cv::Point2f> rest;
  for (int i = 0; i < 4; ++i)
    if (i != smin && i != smax) rest.push_back(pts[i]);
  const bool first_is_tr = rest[0].y - rest[0].x <= rest[1].y - rest[1].x;
  return {pts[smin], first_is_tr ? rest[0] : rest[1], pts[smax], first_is_tr ? rest[1] : rest[0]};
}

}  // namespace

std::vector<TextBox> db_boxes(const float* prob_data, int h, int w, const ImageInfo& info, const PostSpec& post) {
  const cv::Mat prob(h, w, CV_32FC1, const_cast<float*>(prob_data));
  cv::Mat bitmap;
  cv::threshold(prob, bitmap, post.det_threshold, 255, cv::THRESH_BINARY);
  bitmap.convertTo(bitmap, CV_8UC1);
  if (post.use_dilation) cv::dilate(bitmap, bitmap, cv::Mat::ones(2, 2, CV_8UC1));
  std::vector<std::vector<cv::Point>> contours;
  cv::findContours(bitmap, contours, cv::RETR_LIST, cv::CHAIN_APPROX_SIMPLE);
  const int dest_w = info.width, dest_h = info.height;
  std::vector<TextBox> boxes;
  const size_t n = std::min(contours.size(), size_t(post.max_candidates));
  for (size_t c = 0; c < n; ++c) {
    float shorter = 0;
    const std::vector<cv::Point2f> contour(contours[c].begin(), contours[c].end());
    const auto quad = mini_box(contour, &shorter);
    if (shorter < post.min_box_size) continue;
    const float score = box_score(prob, quad);
    if (post.box_threshold > score) continue;
    auto grown = mini_box(unclip(quad, post.unclip_ratio), &shorter);
    if (shorter < post.min_box_size + 2) continue;
    for (auto& p : grown) {
      p.x = std::clamp(float(std::nearbyint(p.x / w * dest_w)), 0.0f, float(dest_w));
      p.y = std::clamp(float(std::nearbyint(p.y / h * dest_h)), 0.0f, float(dest_h));
    }
    // filter_tag_det_res: clockwise, clipped inside the image, more than 3 px each way.
    auto box = order_clockwise(grown);
    for (auto& p : box) {
      p.x = std::clamp(p.x, 0.0f, float(dest_w - 1));
      p.y = std::clamp(p.y, 0.0f, float(dest_h - 1));
    }
    if (int(cv::norm(box[0] - box[1])) <= 3 || int(cv::norm(box[0] - box[3])) <= 3) continue;
    TextBox t;
    for (int i = 0; i < 4; ++i) t.points[i] = {box[i].x, box[i].y};
    t.score = score;
    boxes.push_back(t);
  }
  // sorted_boxes: by (y, x) of the first corner, then neighbours less than
  // 10 px apart in y swapped into x order.
  std::stable_sort(boxes.begin(), boxes.end(), [](const TextBox& a, const TextBox& b) {
    return a.points[0].y < b.points[0].y || (a.points[0].y == b.points[0].y && a.points[0].x < b.points[0].x);
  });
  for (size_t i = 0; i + 1 < boxes.size(); ++i)
    for (size_t j = i + 1; j-- > 0;) {
      if (std::abs(boxes[j + 1].points[0].y - boxes[j].points[0].y) < 10 && boxes[j + 1].points[0].x < boxes[j].points[0].x)
        std::swap(boxes[j], boxes[j + 1]);
      else
        break;
    }
  return boxes;
}

}  // namespace kiln::models::detail
