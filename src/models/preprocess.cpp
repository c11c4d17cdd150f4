#include "models/preprocess.h"

#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "kiln/error.h"
#include "models/image_util.h"

namespace kiln::models::detail {

Geometry plan_resize(const InputSpec& s, int w, int h) {
  Geometry g;
  ImageInfo& i = g.info;
  i.width = w;
  i.height = h;
  switch (s.resize) {
    case Resize::Stretch:
      g.input_width = i.resized_width = s.width;
      g.input_height = i.resized_height = s.height;
      break;
    case Resize::Letterbox: {
      const double r = std::min(double(s.width) / w, double(s.height) / h);
      i.resized_width = std::clamp(int(std::lround(w * r)), 1, s.width);
      i.resized_height = std::clamp(int(std::lround(h * r)), 1, s.height);
      i.pad_x = (s.width - i.resized_width) / 2;
      i.pad_y = (s.height - i.resized_height) / 2;
      g.input_width = s.width;
      g.input_height = s.height;
      break;
    }
    case Resize::CenterCrop: {
      // torchvision: the shorter side to resize_shorter, the longer scaled
      // (truncated), then the crop's top-left at round((size - crop) / 2).
      if (w <= h) {
        i.resized_width = s.resize_shorter;
        i.resized_height = int(double(s.resize_shorter) * h / w);
      } else {
        i.resized_height = s.resize_shorter;
        i.resized_width = int(double(s.resize_shorter) * w / h);
      }
      i.pad_x = -int(std::nearbyint((i.resized_width - s.width) / 2.0));  // Python's round(): halves to even
      i.pad_y = -int(std::nearbyint((i.resized_height - s.height) / 2.0));
      g.input_width = s.width;
      g.input_height = s.height;
      break;
    }
    case Resize::LimitSide: {
      // PaddleOCR's DetResizeForTest (resize_image_type0).
      double ratio = 1;
      if (!s.limit_min && std::max(h, w) > s.limit_side) ratio = double(s.limit_side) / std::max(h, w);
      if (s.limit_min && std::min(h, w) < s.limit_side) ratio = double(s.limit_side) / std::min(h, w);
      const int d = s.size_divisor;
      // Python's round(): halves to even, as std::nearbyint in the default mode.
      auto round_to = [d](double v) { return std::max(int(std::nearbyint(double(int(v)) / d)) * d, d); };
      g.input_width = i.resized_width = round_to(w * ratio);
      g.input_height = i.resized_height = round_to(h * ratio);
      break;
    }
  }
  i.scale_x = float(i.resized_width) / w;
  i.scale_y = float(i.resized_height) / h;
  return g;
}

namespace {

// Per-channel value = pixel * a + b, reading BGR plane `src_plane[c]`.
void normalize_planes(const std::vector<cv::Mat>& bgr, const InputSpec& s, float* out, int H, int W,
                      const cv::Rect& roi) {
  for (int c = 0; c < 3; ++c) {
    const cv::Mat& plane = bgr[s.rgb ? 2 - c : c];
    const double a = s.scale / s.std[c], b = -s.mean[c] / s.std[c];
    cv::Mat dst(H, W, CV_32FC1, out + size_t(c) * H * W);
    if (roi.width != W || roi.height != H) dst.setTo(s.pad_value * a + b);
    plane.convertTo(dst(roi), CV_32F, a, b);
  }
}

}  // namespace

void fill_input(const InputSpec& s, const Image& image, const Geometry& g, Tensor& tensor, int index) {
  const int H = g.input_height, W = g.input_width;
  const ImageInfo& i = g.info;
  cv::Mat src = as_bgr(image);
  cv::Mat resized;
  if (i.resized_width == src.cols && i.resized_height == src.rows)
    resized = src;
  else
    cv::resize(src, resized, cv::Size(i.resized_width, i.resized_height), 0, 0, cv::INTER_LINEAR);
  // The part of the resized image inside the input, and where it goes.
  const cv::Rect in_input(std::max(i.pad_x, 0), std::max(i.pad_y, 0),
                          std::min(i.resized_width, W - std::max(i.pad_x, 0)),
                          std::min(i.resized_height, H - std::max(i.pad_y, 0)));
  const cv::Mat part = resized(cv::Rect(std::max(-i.pad_x, 0), std::max(-i.pad_y, 0), in_input.width, in_input.height));
  float* out = tensor.data<float>() + size_t(index) * 3 * H * W;
  if (!s.nhwc) {
    std::vector<cv::Mat> planes;
    cv::split(part, planes);
    normalize_planes(planes, s, out, H, W, in_input);
    return;
  }
  cv::Mat dst(H, W, CV_32FC3, out);
  cv::Scalar a, b;
  for (int c = 0; c < 3; ++c) {
    a[c] = s.scale / s.std[c];
    b[c] = -s.mean[c] / s.std[c];
  }
  cv::Mat ordered = part;
  if (s.rgb) cv::cvtColor(part, ordered, cv::COLOR_BGR2RGB);
  if (in_input.width != W || in_input.height != H)
    dst.setTo(cv::Scalar(s.pad_value * a[0] + b[0], s.pad_value * a[1] + b[1], s.pad_value * a[2] + b[2]));
  cv::Mat region = dst(in_input);
  ordered.convertTo(region, CV_32F);
  cv::multiply(region, a, region);
  cv::add(region, b, region);
}

PreProcessed pre_process_images(const InputSpec& s, const std::string& input_name, int max_batch,
                                const std::vector<Image>& images) {
  PreProcessed out;
  std::vector<Geometry> geos;
  for (size_t k = 0; k < images.size(); ++k) {
    if (images[k].empty())
      throw Error(ErrorCode::InvalidArgument, "image " + std::to_string(k) + (images[k].source.empty() ? "" : " (" + images[k].source + ")") + " is empty");
    geos.push_back(plan_resize(s, images[k].width(), images[k].height()));
    out.images.push_back(geos.back().info);
  }
  out.originals = images;
  size_t k = 0;
  while (k < images.size()) {
    // Consecutive images of the same input size share a run.
    size_t end = k + 1;
    while (end < images.size() && int(end - k) < max_batch && geos[end].input_width == geos[k].input_width &&
           geos[end].input_height == geos[k].input_height)
      ++end;
    const int n = int(end - k), H = geos[k].input_height, W = geos[k].input_width;
    Tensor t = Tensor::empty(DataType::Float32, s.nhwc ? Shape{n, H, W, 3} : Shape{n, 3, H, W});
    ForwardRun run;
    for (size_t j = k; j < end; ++j) {
      fill_input(s, images[j], geos[j], t, int(j - k));
      run.images.push_back(int(j));
    }
    run.inputs[input_name] = std::move(t);
    out.runs.push_back(std::move(run));
    k = end;
  }
  return out;
}

}  // namespace kiln::models::detail
