#include "models/ocr.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <opencv2/imgproc.hpp>

#include "kiln/error.h"
#include "models/image_util.h"

namespace kiln::models::detail {

std::pair<std::string, float> ctc_decode(const float* probs, int steps, int classes,
                                         const std::vector<std::string>& characters) {
  std::string text;
  double sum = 0;
  int kept = 0, prev = -1;
  for (int t = 0; t < steps; ++t) {
    const float* p = probs + size_t(t) * classes;
    const int best = int(std::max_element(p, p + classes) - p);
    if (best != prev && best != 0) {
      text += characters[best];
      sum += p[best];
      ++kept;
    }
    prev = best;
  }
  return {text, kept ? float(sum / kept) : 0.0f};
}

Image crop_text(const Image& image, const std::array<Point, 4>& box) {
  auto dist = [](const Point& a, const Point& b) { return std::hypot(double(a.x - b.x), double(a.y - b.y)); };
  const int w = int(std::max(dist(box[0], box[1]), dist(box[2], box[3])));
  const int h = int(std::max(dist(box[0], box[3]), dist(box[1], box[2])));
  if (w < 1 || h < 1) return {};
  const cv::Point2f src[4] = {{box[0].x, box[0].y}, {box[1].x, box[1].y}, {box[2].x, box[2].y}, {box[3].x, box[3].y}};
  const cv::Point2f dst[4] = {{0, 0}, {float(w), 0}, {float(w), float(h)}, {0, float(h)}};
  cv::Mat out;
  cv::warpPerspective(as_bgr(image), out, cv::getPerspectiveTransform(src, dst), cv::Size(w, h), cv::INTER_CUBIC,
                      cv::BORDER_REPLICATE);
  if (double(out.rows) / out.cols >= 1.5) cv::rotate(out, out, cv::ROTATE_90_COUNTERCLOCKWISE);
  return from_mat(std::move(out), PixelFormat::BGR);
}

namespace {

// resize_norm_img of the classifier and recognizer: height fixed, width by
// the aspect ratio up to `width`, padded on the right with zeros; values
// (pixel / 255 - 0.5) / 0.5 as the package's input spec says.
void fill_line(const Image& crop, const InputSpec& spec, int height, int width, float* out) {
  const cv::Mat src = as_bgr(crop);
  const double ratio = double(src.cols) / src.rows;
  const int rw = std::clamp(int(std::ceil(height * ratio)), 1, width);
  cv::Mat resized;
  cv::resize(src, resized, cv::Size(rw, height), 0, 0, cv::INTER_LINEAR);
  std::vector<cv::Mat> planes;
  cv::split(resized, planes);
  for (int c = 0; c < 3; ++c) {
    const double a = spec.scale / spec.std[c], b = -spec.mean[c] / spec.std[c];
    cv::Mat dst(height, width, CV_32FC1, out + size_t(c) * height * width);
    planes[spec.rgb ? 2 - c : c].convertTo(dst(cv::Rect(0, 0, rw, height)), CV_32F, a, b);
  }
}

struct Crop {
  int image = 0, box = 0;
  Image pixels;
  bool rotated = false;
};

void classify_angles(std::vector<Crop>& crops, const PackageSpec& spec, int batch, const RunNetwork& run) {
  const InputSpec& in = spec.network("classifier").input;
  for (size_t k = 0; k < crops.size(); k += batch) {
    const int n = int(std::min(crops.size() - k, size_t(batch)));
    Tensor t = Tensor::empty(DataType::Float32, {n, 3, in.height, in.width});
    for (int i = 0; i < n; ++i)
      fill_line(crops[k + i].pixels, in, in.height, in.width, t.data<float>() + size_t(i) * 3 * in.height * in.width);
    const Tensor probs = run("classifier", t);
    if (probs.rank() != 2 || probs.shape()[0] != n || probs.shape()[1] < 2)
      throw Error(ErrorCode::InvalidModel, spec.network("classifier").file + ": the angle classifier output is " +
                                               shape_str(probs.shape()) + ", expected [" + std::to_string(n) + ",2]");
    const int64_t classes = probs.shape()[1];
    for (int i = 0; i < n; ++i) {
      const float* p = probs.data<float>() + i * classes;
      // Labels ["0", "180"]: turn the crop when "180" wins confidently.
      if (p[1] > p[0] && p[1] > spec.post.cls_threshold) {
        cv::Mat m = as_bgr(crops[k + i].pixels).clone();
        cv::rotate(m, m, cv::ROTATE_180);
        crops[k + i].pixels = from_mat(std::move(m), PixelFormat::BGR);
        crops[k + i].rotated = true;
      }
    }
  }
}

}  // namespace

std::vector<std::vector<TextLine>> read_text(const std::vector<Image>& images,
                                             const std::vector<std::vector<TextBox>>& boxes, const PackageSpec& spec,
                                             int cls_batch, int rec_batch, float min_score, const RunNetwork& run) {
  std::vector<std::vector<TextLine>> out(images.size());
  std::vector<Crop> crops;
  for (size_t i = 0; i < images.size(); ++i)
    for (size_t b = 0; b < boxes[i].size(); ++b) {
      Image c = crop_text(images[i], boxes[i][b].points);
      if (!c.empty()) crops.push_back({int(i), int(b), std::move(c), false});
    }
  if (crops.empty()) return out;
  classify_angles(crops, spec, cls_batch, run);

  // Recognizer batches by aspect ratio (narrow first), as PaddleOCR does.
  const InputSpec& in = spec.network("recognizer").input;
  std::vector<int> order(crops.size());
  std::iota(order.begin(), order.end(), 0);
  auto ratio = [&](int i) { return double(crops[i].pixels.width()) / crops[i].pixels.height(); };
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return ratio(a) < ratio(b); });
  std::vector<std::pair<std::string, float>> read(crops.size());
  for (size_t k = 0; k < order.size(); k += rec_batch) {
    const int n = int(std::min(order.size() - k, size_t(rec_batch)));
    double max_ratio = double(in.width) / in.height;
    for (int i = 0; i < n; ++i) max_ratio = std::max(max_ratio, ratio(order[k + i]));
    const int m = spec.post.width_multiple;
    const int width = (int(in.height * max_ratio) + m - 1) / m * m;
    Tensor t = Tensor::empty(DataType::Float32, {n, 3, in.height, width});
    for (int i = 0; i < n; ++i)
      fill_line(crops[order[k + i]].pixels, in, in.height, width, t.data<float>() + size_t(i) * 3 * in.height * width);
    const Tensor probs = run("recognizer", t);
    if (probs.rank() != 3 || probs.shape()[0] != n || probs.shape()[2] != int64_t(spec.characters.size()))
      throw Error(ErrorCode::InvalidModel,
                  spec.network("recognizer").file + ": the recognizer output is " + shape_str(probs.shape()) + ", expected [" +
                      std::to_string(n) + ",T," + std::to_string(spec.characters.size()) +
                      "] (the characters file's characters plus the CTC blank and, with use_space_char, a space)");
    const int steps = int(probs.shape()[1]), classes = int(probs.shape()[2]);
    for (int i = 0; i < n; ++i)
      read[order[k + i]] = ctc_decode(probs.data<float>() + size_t(i) * steps * classes, steps, classes, spec.characters);
  }
  for (size_t c = 0; c < crops.size(); ++c) {
    if (read[c].second < min_score || read[c].first.empty()) continue;
    TextLine line;
    line.box = boxes[crops[c].image][crops[c].box].points;
    line.text = read[c].first;
    line.score = read[c].second;
    line.rotated = crops[c].rotated;
    out[crops[c].image].push_back(std::move(line));
  }
  return out;
}

}  // namespace kiln::models::detail
