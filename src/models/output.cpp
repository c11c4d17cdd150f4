// Predictions as JSON and drawn on the image.
#include <cmath>
#include <map>

#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include "models/image_util.h"

namespace kiln::models {

namespace {

using nlohmann::json;

// Three decimals: pixel boxes and scores need no more, and the output stays readable.
double r3(double v) { return std::round(v * 1000) / 1000; }

json detection_json(const Detection& d) {
  json j = {{"class_id", d.class_id}, {"label", d.label}, {"score", r3(d.score)},
            {"box", {r3(d.box.x1), r3(d.box.y1), r3(d.box.x2), r3(d.box.y2)}}};
  if (!d.mask.empty()) {
    size_t area = 0;
    for (uint8_t v : d.mask.data) area += v;
    j["mask"] = {{"x", d.mask.x}, {"y", d.mask.y}, {"width", d.mask.width}, {"height", d.mask.height}, {"area", area}};
  }
  if (!d.keypoints.empty()) {
    json kps = json::array();
    for (const auto& k : d.keypoints) kps.push_back({{"name", k.name}, {"x", r3(k.x)}, {"y", r3(k.y)}, {"score", r3(k.score)}});
    j["keypoints"] = kps;
  }
  return j;
}

// A distinct, stable colour per class id.
cv::Scalar color_of(int id) {
  static const int palette[][3] = {{56, 56, 255}, {151, 157, 255}, {31, 112, 255}, {29, 178, 255}, {49, 210, 207},
                                   {10, 249, 72}, {23, 204, 146}, {134, 219, 61}, {52, 147, 26}, {187, 212, 0},
                                   {168, 153, 44}, {255, 194, 0}, {147, 69, 52}, {255, 115, 100}, {236, 24, 0},
                                   {255, 56, 132}, {133, 0, 82}, {255, 56, 203}, {200, 149, 255}, {199, 55, 255}};
  const auto& c = palette[(id % 20 + 20) % 20];
  return cv::Scalar(c[0], c[1], c[2]);
}

// Hershey fonts draw ASCII only.
std::string ascii(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c < 0x80) out += char(c);
    else if ((c & 0xC0) != 0x80) out += '?';
  }
  return out;
}

void label_at(cv::Mat& img, const std::string& text, cv::Point at, const cv::Scalar& color) {
  const double scale = std::max(0.4, img.cols / 1600.0);
  int base = 0;
  const cv::Size size = cv::getTextSize(text, cv::FONT_HERSHEY_SIMPLEX, scale, 1, &base);
  at.y = std::max(at.y, size.height + 2);
  cv::rectangle(img, cv::Rect(at.x, at.y - size.height - 2, size.width + 2, size.height + base + 2), color, cv::FILLED);
  cv::putText(img, text, cv::Point(at.x + 1, at.y - 1), cv::FONT_HERSHEY_SIMPLEX, scale, cv::Scalar(255, 255, 255), 1,
              cv::LINE_AA);
}

}  // namespace

std::string to_json(const Prediction& p, const std::string& source) {
  json j;
  if (!source.empty()) j["image"] = source;
  j["width"] = p.width;
  j["height"] = p.height;
  j["task"] = std::string(task_name(p.task));
  switch (p.task) {
    case Task::Classification: {
      json a = json::array();
      for (const auto& c : p.classes) a.push_back({{"class_id", c.class_id}, {"label", c.label}, {"score", r3(c.score)}});
      j["classes"] = a;
      break;
    }
    case Task::SemanticSegmentation: {
      std::map<int, size_t> counts;
      for (int32_t c : p.class_map.classes) ++counts[c];
      json a = json::array();
      for (const auto& [c, n] : counts) a.push_back({{"class_id", c}, {"pixels", n}});
      j["class_map"] = {{"width", p.class_map.width}, {"height", p.class_map.height}, {"classes", a}};
      break;
    }
    case Task::TextRecognition: {
      json a = json::array();
      for (const auto& l : p.lines) {
        json box = json::array();
        for (const auto& pt : l.box) box.push_back({r3(pt.x), r3(pt.y)});
        a.push_back({{"text", l.text}, {"score", r3(l.score)}, {"box", box}, {"rotated", l.rotated}});
      }
      j["lines"] = a;
      j["text"] = p.text();
      break;
    }
    default: {
      json a = json::array();
      for (const auto& d : p.detections) a.push_back(detection_json(d));
      j["detections"] = a;
    }
  }
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Image draw(const Image& image, const Prediction& p) {
  cv::Mat img = detail::as_bgr(image).clone();
  const int thick = std::max(1, img.cols / 500);
  if (!p.class_map.classes.empty() && p.class_map.width == img.cols && p.class_map.height == img.rows) {
    cv::Mat overlay = img.clone();
    for (int y = 0; y < img.rows; ++y)
      for (int x = 0; x < img.cols; ++x) {
        const int c = p.class_map.classes[size_t(y) * img.cols + x];
        if (c == 0) continue;  // background stays as it is
        const cv::Scalar col = color_of(c);
        overlay.at<cv::Vec3b>(y, x) = cv::Vec3b(uchar(col[0]), uchar(col[1]), uchar(col[2]));
      }
    cv::addWeighted(img, 0.5, overlay, 0.5, 0, img);
  }
  for (const auto& d : p.detections) {
    const cv::Scalar col = color_of(d.class_id);
    if (!d.mask.empty()) {
      for (int y = 0; y < d.mask.height; ++y)
        for (int x = 0; x < d.mask.width; ++x) {
          const int ix = d.mask.x + x, iy = d.mask.y + y;
          if (!d.mask.data[size_t(y) * d.mask.width + x] || ix >= img.cols || iy >= img.rows) continue;
          cv::Vec3b& px = img.at<cv::Vec3b>(iy, ix);
          for (int c = 0; c < 3; ++c) px[c] = uchar((px[c] + col[c]) / 2);
        }
    }
    cv::rectangle(img, cv::Point(int(d.box.x1), int(d.box.y1)), cv::Point(int(d.box.x2), int(d.box.y2)), col, thick);
    for (const auto& k : d.keypoints)
      if (k.score > 0) cv::circle(img, cv::Point(int(k.x), int(k.y)), 2 * thick + 1, col, cv::FILLED);
    char score[16];
    std::snprintf(score, sizeof score, " %.2f", d.score);
    label_at(img, ascii(d.label.empty() ? std::to_string(d.class_id) : d.label) + score, cv::Point(int(d.box.x1), int(d.box.y1)), col);
  }
  for (size_t i = 0; i < p.lines.size(); ++i) {
    const auto& l = p.lines[i];
    std::vector<cv::Point> quad;
    for (const auto& pt : l.box) quad.emplace_back(int(pt.x), int(pt.y));
    cv::polylines(img, quad, true, color_of(int(i)), thick, cv::LINE_AA);
    label_at(img, ascii(l.text), quad[0], color_of(int(i)));
  }
  if (!p.classes.empty()) {
    const auto& c = p.classes[0];
    char score[16];
    std::snprintf(score, sizeof score, " %.2f", c.score);
    label_at(img, ascii(c.label.empty() ? std::to_string(c.class_id) : c.label) + score, cv::Point(4, 4), color_of(c.class_id));
  }
  return detail::from_mat(std::move(img), PixelFormat::BGR);
}

}  // namespace kiln::models
