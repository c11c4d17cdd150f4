#include "models/vision_post.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include <opencv2/imgproc.hpp>

namespace kiln::models::detail {

namespace {

float area(const Box& b) { return (b.x2 - b.x1) * (b.y2 - b.y1); }

std::string label_of(const PackageSpec& spec, int id) {
  return id >= 0 && size_t(id) < spec.classes.size() ? spec.classes[id] : std::string();
}

Box to_image(const Box& b, const BackMap& m) { return {m.x(b.x1), m.y(b.y1), m.x(b.x2), m.y(b.y2)}; }

}  // namespace

std::vector<int> batched_nms(const std::vector<Box>& boxes, const std::vector<float>& scores,
                             const std::vector<int>& classes, float threshold) {
  // Greedy NMS within each class (boxes of different classes never suppress
  // each other), then the survivors of all classes by score, as
  // torchvision's batched_nms returns them. Coordinates and areas are laid
  // out per class in score order: the inner loop is most of the time.
  std::map<int, std::vector<int>> by_class;
  for (size_t i = 0; i < boxes.size(); ++i) by_class[classes.empty() ? 0 : classes[i]].push_back(int(i));
  std::vector<int> keep;
  std::vector<float> x1, y1, x2, y2, ar;
  std::vector<char> removed;
  for (auto& [c, order] : by_class) {
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return scores[a] > scores[b]; });
    const size_t n = order.size();
    x1.resize(n); y1.resize(n); x2.resize(n); y2.resize(n); ar.resize(n);
    removed.assign(n, 0);
    for (size_t i = 0; i < n; ++i) {
      const Box& b = boxes[order[i]];
      x1[i] = b.x1; y1[i] = b.y1; x2[i] = b.x2; y2[i] = b.y2; ar[i] = area(b);
    }
    for (size_t i = 0; i < n; ++i) {
      if (removed[i]) continue;
      keep.push_back(order[i]);
      for (size_t j = i + 1; j < n; ++j) {
        const float w = std::max(0.0f, std::min(x2[i], x2[j]) - std::max(x1[i], x1[j]));
        const float h = std::max(0.0f, std::min(y2[i], y2[j]) - std::max(y1[i], y1[j]));
        const float inter = w * h;
        if (inter / (ar[i] + ar[j] - inter) > threshold) removed[j] = 1;
      }
    }
  }
  std::stable_sort(keep.begin(), keep.end(), [&](int a, int b) { return scores[a] > scores[b] || (scores[a] == scores[b] && a < b); });
  return keep;
}

std::vector<ClassScore> classify(const float* scores, int n, const PackageSpec& spec, int top_k) {
  std::vector<float> p(scores, scores + n);
  if (spec.post.softmax) {
    const float mx = *std::max_element(p.begin(), p.end());
    double sum = 0;
    for (float& v : p) sum += (v = std::exp(v - mx));
    for (float& v : p) v = float(v / sum);
  }
  std::vector<int> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  const int k = std::min(top_k, n);
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int a, int b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
  std::vector<ClassScore> out;
  for (int i = 0; i < k; ++i) out.push_back({idx[i], label_of(spec, idx[i]), p[idx[i]]});
  return out;
}

std::vector<Detection> detect_raw(const float* boxes, const float* scores, int anchors, int num_classes,
                                  const ImageInfo& info, const PackageSpec& spec, float min_score) {
  const PostSpec& p = spec.post;
  std::vector<Box> cand_boxes;
  std::vector<float> cand_scores;
  std::vector<int> cand_classes;
  std::vector<int> idx;
  for (int c = 0; c < num_classes; ++c) {
    if (c == p.background_class) continue;
    idx.clear();
    for (int a = 0; a < anchors; ++a)
      if (scores[size_t(a) * num_classes + c] > p.score_threshold) idx.push_back(a);
    const size_t k = std::min(idx.size(), size_t(p.candidates_per_class));
    auto score_of = [&](int a) { return scores[size_t(a) * num_classes + c]; };
    std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int a, int b) { return score_of(a) > score_of(b); });
    for (size_t i = 0; i < k; ++i) {
      const float* b = boxes + size_t(idx[i]) * 4;
      cand_boxes.push_back({b[0], b[1], b[2], b[3]});
      cand_scores.push_back(score_of(idx[i]));
      cand_classes.push_back(c);
    }
  }
  std::vector<int> keep = batched_nms(cand_boxes, cand_scores, cand_classes, p.nms_iou);
  if (keep.size() > size_t(p.max_detections)) keep.resize(p.max_detections);
  const BackMap m(info);
  std::vector<Detection> out;
  for (int i : keep) {
    if (cand_scores[i] < min_score) continue;
    Detection d;
    d.box = to_image(cand_boxes[i], m);
    d.class_id = cand_classes[i];
    d.label = label_of(spec, d.class_id);
    d.score = cand_scores[i];
    out.push_back(std::move(d));
  }
  return out;
}

std::vector<Detection> detect_final(const float* boxes, const float* scores, const std::vector<int>& labels, int count,
                                    const ImageInfo& info, const PackageSpec& spec, float min_score,
                                    std::vector<int>* rows) {
  const BackMap m(info);
  std::vector<int> order(count);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return scores[a] > scores[b]; });
  std::vector<Detection> out;
  if (rows) rows->clear();
  for (int i : order) {
    if (scores[i] < min_score) continue;
    Detection d;
    const float* b = boxes + size_t(i) * 4;
    d.box = to_image({b[0], b[1], b[2], b[3]}, m);
    d.class_id = labels[i];
    d.label = label_of(spec, d.class_id);
    d.score = scores[i];
    out.push_back(std::move(d));
    if (rows) rows->push_back(i);
  }
  return out;
}

std::vector<float> paste_mask_probabilities(const float* mask, int m, const Box& box, int W, int H) {
  // torchvision's expand_masks / expand_boxes / paste_mask_in_image, in float32.
  const int pad = 1;
  const float scale = float(m + 2 * pad) / float(m);
  float w_half = (box.x2 - box.x1) * 0.5f, h_half = (box.y2 - box.y1) * 0.5f;
  const float xc = (box.x2 + box.x1) * 0.5f, yc = (box.y2 + box.y1) * 0.5f;
  w_half *= scale;
  h_half *= scale;
  const int64_t bx0 = int64_t(xc - w_half), bx1 = int64_t(xc + w_half);
  const int64_t by0 = int64_t(yc - h_half), by1 = int64_t(yc + h_half);
  const int w = std::max(int(bx1 - bx0 + 1), 1), h = std::max(int(by1 - by0 + 1), 1);
  cv::Mat padded(m + 2 * pad, m + 2 * pad, CV_32FC1, cv::Scalar(0));
  cv::Mat(m, m, CV_32FC1, const_cast<float*>(mask)).copyTo(padded(cv::Rect(pad, pad, m, m)));
  cv::Mat resized;
  cv::resize(padded, resized, cv::Size(w, h), 0, 0, cv::INTER_LINEAR);
  std::vector<float> out(size_t(W) * H, 0.0f);
  const int64_t x0 = std::max<int64_t>(bx0, 0), x1 = std::min<int64_t>(bx1 + 1, W);
  const int64_t y0 = std::max<int64_t>(by0, 0), y1 = std::min<int64_t>(by1 + 1, H);
  for (int64_t y = y0; y < y1; ++y)
    for (int64_t x = x0; x < x1; ++x) out[size_t(y) * W + x] = resized.at<float>(int(y - by0), int(x - bx0));
  return out;
}

void paste_masks(std::vector<Detection>& dets, const std::vector<int>& rows, const float* masks, int m,
                 const ImageInfo& info, float threshold) {
  for (size_t k = 0; k < dets.size(); ++k) {
    Detection& d = dets[k];
    const std::vector<float> full = paste_mask_probabilities(masks + size_t(rows[k]) * m * m, m, d.box, info.width, info.height);
    // Keep the bounding rectangle of the set pixels only.
    int x0 = info.width, y0 = info.height, x1 = -1, y1 = -1;
    for (int y = 0; y < info.height; ++y)
      for (int x = 0; x < info.width; ++x)
        if (full[size_t(y) * info.width + x] > threshold) {
          x0 = std::min(x0, x); x1 = std::max(x1, x); y0 = std::min(y0, y); y1 = std::max(y1, y);
        }
    if (x1 < 0) continue;
    d.mask.x = x0;
    d.mask.y = y0;
    d.mask.width = x1 - x0 + 1;
    d.mask.height = y1 - y0 + 1;
    d.mask.data.resize(size_t(d.mask.width) * d.mask.height);
    for (int y = y0; y <= y1; ++y)
      for (int x = x0; x <= x1; ++x)
        d.mask.data[size_t(y - y0) * d.mask.width + (x - x0)] = full[size_t(y) * info.width + x] > threshold;
  }
}

namespace {

// PyTorch's bicubic taps (A = -0.75) for output index `o`: four clamped
// source indices and weights, source = (o + 0.5) * scale - 0.5 unclamped.
void cubic_taps(int o, float scale, int size, int idx[4], float w[4]) {
  const float real = (o + 0.5f) * scale - 0.5f;
  const int base = int(std::floor(real));
  const float t = real - base, A = -0.75f;
  auto near = [A](float x) { return ((A + 2) * x - (A + 3)) * x * x + 1; };
  auto far = [A](float x) { return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A; };
  w[0] = far(t + 1);
  w[1] = near(t);
  w[2] = near(1 - t);
  w[3] = far(2 - t);
  for (int k = 0; k < 4; ++k) idx[k] = std::clamp(base - 1 + k, 0, size - 1);
}

}  // namespace

std::vector<Keypoint> keypoints_from_heatmaps(const float* maps, int joints, int m, const Box& box) {
  const float widths = std::max(box.x2 - box.x1, 1.0f), heights = std::max(box.y2 - box.y1, 1.0f);
  const int w = int(std::ceil(widths)), h = int(std::ceil(heights));
  const float wc = widths / float(w), hc = heights / float(h);
  std::vector<int> xi(size_t(w) * 4), yi(size_t(h) * 4);
  std::vector<float> xw(size_t(w) * 4), yw(size_t(h) * 4);
  for (int x = 0; x < w; ++x) cubic_taps(x, float(m) / float(w), m, &xi[x * 4], &xw[x * 4]);
  for (int y = 0; y < h; ++y) cubic_taps(y, float(m) / float(h), m, &yi[y * 4], &yw[y * 4]);
  std::vector<float> rows(size_t(m) * w);  // the map resized along x
  std::vector<Keypoint> out(joints);
  for (int j = 0; j < joints; ++j) {
    const float* map = maps + size_t(j) * m * m;
    for (int r = 0; r < m; ++r)
      for (int x = 0; x < w; ++x) {
        const int* ix = &xi[x * 4];
        const float* wx = &xw[x * 4];
        rows[size_t(r) * w + x] = wx[0] * map[r * m + ix[0]] + wx[1] * map[r * m + ix[1]] + wx[2] * map[r * m + ix[2]] +
                                  wx[3] * map[r * m + ix[3]];
      }
    float best = -INFINITY;
    int bx = 0, by = 0;
    for (int y = 0; y < h; ++y) {
      const int* iy = &yi[y * 4];
      const float* wy = &yw[y * 4];
      for (int x = 0; x < w; ++x) {
        const float v = wy[0] * rows[size_t(iy[0]) * w + x] + wy[1] * rows[size_t(iy[1]) * w + x] +
                        wy[2] * rows[size_t(iy[2]) * w + x] + wy[3] * rows[size_t(iy[3]) * w + x];
        if (v > best) { best = v; bx = x; by = y; }
      }
    }
    out[j].x = (float(bx) + 0.5f) * wc + box.x1;
    out[j].y = (float(by) + 0.5f) * hc + box.y1;
    out[j].score = best;
  }
  return out;
}

ClassMap segment(const float* logits, int num_classes, int h, int w, int input_h, int input_w, const ImageInfo& info) {
  ClassMap map;
  map.width = info.width;
  map.height = info.height;
  map.classes.assign(size_t(info.width) * info.height, 0);
  std::vector<float> best(map.classes.size(), -INFINITY);
  // The image's part of the network input, in output pixels.
  const double sx = double(w) / input_w, sy = double(h) / input_h;
  const bool crop = info.pad_x < 0 || info.pad_y < 0;
  const cv::Rect2d region(info.pad_x * sx, info.pad_y * sy, info.resized_width * sx, info.resized_height * sy);
  const cv::Rect whole(0, 0, w, h);
  const cv::Rect exact(int(std::lround(region.x)), int(std::lround(region.y)), int(std::lround(region.width)),
                       int(std::lround(region.height)));
  const bool simple = !crop && (exact & whole) == exact && exact.area() > 0;
  cv::Mat up;
  for (int c = 0; c < num_classes; ++c) {
    cv::Mat plane(h, w, CV_32FC1, const_cast<float*>(logits + size_t(c) * h * w));
    if (simple) {
      cv::resize(plane(exact), up, cv::Size(info.width, info.height), 0, 0, cv::INTER_LINEAR);
    } else {
      // Image pixel centre -> output pixel centre, edges replicated.
      const double ax = region.width / info.width, ay = region.height / info.height;
      cv::Matx23d M(ax, 0, region.x + 0.5 * ax - 0.5, 0, ay, region.y + 0.5 * ay - 0.5);
      cv::warpAffine(plane, up, M, cv::Size(info.width, info.height), cv::INTER_LINEAR | cv::WARP_INVERSE_MAP,
                     cv::BORDER_REPLICATE);
    }
    const float* u = up.ptr<float>();
    for (size_t i = 0; i < best.size(); ++i)
      if (u[i] > best[i]) { best[i] = u[i]; map.classes[i] = c; }
  }
  return map;
}

}  // namespace kiln::models::detail
