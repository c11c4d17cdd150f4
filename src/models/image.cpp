#include <filesystem>
#include <fstream>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "kiln/error.h"
#include "models/image_util.h"

namespace kiln::models {

Image::Image(int width, int height, PixelFormat format) {
  if (width <= 0 || height <= 0) throw_invalid_argument("Image: width and height must be positive");
  const int c = format == PixelFormat::Gray ? 1 : 3;
  auto buf = std::shared_ptr<uint8_t[]>(new uint8_t[size_t(width) * height * c]());
  *this = wrap(buf.get(), width, height, format, buf);
}

Image Image::wrap(uint8_t* data, int width, int height, PixelFormat format, std::shared_ptr<void> owner) {
  if (!data || width <= 0 || height <= 0) throw_invalid_argument("Image::wrap: null data or empty size");
  Image im;
  im.m_data = data;
  im.m_width = width;
  im.m_height = height;
  im.m_format = format;
  im.m_owner = std::move(owner);
  return im;
}

namespace {
// IMREAD_COLOR applies a JPEG's EXIF orientation (only IMREAD_UNCHANGED and
// IMREAD_IGNORE_ORIENTATION skip it), and turns gray or 16-bit files into
// 8-bit BGR.
constexpr int k_read_flags = cv::IMREAD_COLOR;
}  // namespace

Image read_image(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw Error(ErrorCode::IO, path + ": no such image file");
  cv::Mat m;
  try {
    m = cv::imread(path, k_read_flags);
  } catch (const cv::Exception& e) {
    throw Error(ErrorCode::IO, path + ": cannot decode the image (" + e.msg + ")");
  }
  if (m.empty()) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw Error(ErrorCode::IO, path + ": cannot read");
    throw Error(ErrorCode::IO, path + ": not an image OpenCV can decode (PNG, JPEG, BMP, TIFF, WebP...) or truncated");
  }
  return detail::from_mat(std::move(m), PixelFormat::BGR, path);
}

Image decode_image(const uint8_t* bytes, size_t size, const std::string& label) {
  if (!bytes || size == 0) throw Error(ErrorCode::IO, label + ": no bytes to decode");
  cv::Mat m;
  try {
    m = cv::imdecode(cv::Mat(1, int(size), CV_8UC1, const_cast<uint8_t*>(bytes)), k_read_flags);
  } catch (const cv::Exception& e) {
    throw Error(ErrorCode::IO, label + ": cannot decode the image (" + e.msg + ")");
  }
  if (m.empty()) throw Error(ErrorCode::IO, label + ": not an image OpenCV can decode, or truncated");
  return detail::from_mat(std::move(m), PixelFormat::BGR, label);
}

void write_image(const std::string& path, const Image& image) {
  if (image.empty()) throw_invalid_argument("write_image: empty image for " + path);
  bool ok = false;
  try {
    ok = cv::imwrite(path, detail::as_bgr(image));
  } catch (const cv::Exception& e) {
    throw Error(ErrorCode::IO, path + ": cannot write the image (" + e.msg + ")");
  }
  if (!ok) throw Error(ErrorCode::IO, path + ": cannot write the image (unknown extension or unwritable)");
}

namespace detail {

cv::Mat as_mat(const Image& image) {
  if (image.empty()) throw_invalid_argument("empty image" + (image.source.empty() ? "" : " " + image.source));
  return cv::Mat(image.height(), image.width(), image.channels() == 1 ? CV_8UC1 : CV_8UC3,
                 const_cast<uint8_t*>(image.data()));
}

Image from_mat(cv::Mat mat, PixelFormat format, std::string source) {
  if (!mat.isContinuous()) mat = mat.clone();
  auto owner = std::make_shared<cv::Mat>(std::move(mat));
  Image im = Image::wrap(owner->data, owner->cols, owner->rows, format, owner);
  im.source = std::move(source);
  return im;
}

cv::Mat as_bgr(const Image& image) {
  cv::Mat m = as_mat(image);
  if (image.format() == PixelFormat::BGR) return m;
  cv::Mat out;
  cv::cvtColor(m, out, image.format() == PixelFormat::RGB ? cv::COLOR_RGB2BGR : cv::COLOR_GRAY2BGR);
  return out;
}

}  // namespace detail
}  // namespace kiln::models
