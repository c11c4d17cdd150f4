// PaddleOCR's DB text-detection post-processing (DBPostProcess, then
// TextDetector's filter and sorted_boxes): the probability map thresholded,
// contours, each one's minimum-area rectangle scored by the mean probability
// inside, expanded by area * unclip_ratio / perimeter ("unclip"), scaled to
// the image and ordered top to bottom, left to right.
#pragma once

#include <array>
#include <vector>

#include "kiln/models.h"
#include "models/package.h"

namespace kiln::models::detail {

struct TextBox {
  std::array<Point, 4> points;  // top-left, top-right, bottom-right, bottom-left
  float score = 0;
};

// prob: [h, w] over the network input, which is the whole image resized.
std::vector<TextBox> db_boxes(const float* prob, int h, int w, const ImageInfo& info, const PostSpec& post);

}  // namespace kiln::models::detail
