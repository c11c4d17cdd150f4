// Images into network inputs: resize (OpenCV, 8-bit, bilinear as PaddleOCR
// and most detectors' reference code do), then channel order, scale, mean
// and std in one pass per plane, written straight into the input tensor.
#pragma once

#include <vector>

#include "kiln/models.h"
#include "models/package.h"

namespace kiln::models::detail {

// Where an image of w x h goes in the network input and how big that input is.
struct Geometry {
  int input_width = 0, input_height = 0;
  ImageInfo info;
};
Geometry plan_resize(const InputSpec& spec, int width, int height);

// Writes `image` into batch slot `index` of `tensor` (float32, [N,3,H,W] or
// [N,H,W,3] by spec.nhwc, H and W the geometry's).
void fill_input(const InputSpec& spec, const Image& image, const Geometry& geometry, Tensor& tensor, int index);

// The runs for a batch: images of one input size share a run of up to
// max_batch; LimitSide inputs differ in size, so one run per image.
PreProcessed pre_process_images(const InputSpec& spec, const std::string& input_name, int max_batch,
                                const std::vector<Image>& images);

}  // namespace kiln::models::detail
