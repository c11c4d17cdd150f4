// Between kiln::models::Image and OpenCV's cv::Mat, without copying pixels.
#pragma once

#include <opencv2/core.hpp>

#include "kiln/models.h"

namespace kiln::models::detail {

// A header over the image's pixels (CV_8UC3 or CV_8UC1); no copy.
cv::Mat as_mat(const Image& image);
// Takes the Mat (8-bit, 1 or 3 channels); continuous Mats are shared, not copied.
Image from_mat(cv::Mat mat, PixelFormat format, std::string source = "");
// 3-channel pixels in BGR order (shared when already so).
cv::Mat as_bgr(const Image& image);

}  // namespace kiln::models::detail
