// Host-side parameters of the detection family that the CPU kernels
// (backends/cpu/kernels/detection.cpp, grid_sample.cpp) and the CUDA kernels
// (backends/cuda/kernels/nms.cu, roi_align.cu, grid_sample.cu) compute the
// same way: input checks and attributes. See kernel_params.h for the convention.
#pragma once

#include <cstdint>

#include "backends/kernel.h"

namespace kiln::backend::params {

// NonMaxSuppression: boxes [batches, boxes, 4], scores [batches, classes, boxes];
// the optional scalar inputs (absent or empty: none).
struct NmsParams {
  int64_t batches = 0, classes = 0, boxes = 0;
  int64_t max_out = 0;      // max_output_boxes_per_class, clamped at 0 (0 when absent)
  float iou = 0.f;          // iou_threshold
  bool by_score = false;    // a score_threshold was given
  float score_th = 0.f;
  bool center = false;      // center_point_box
};
NmsParams nms_params(const KernelContext& ctx);

// RoiAlign: X [N, C, H, W], rois [num_rois, 4], batch_indices [num_rois].
struct RoiAlignParams {
  int64_t rois = 0, batch = 0, channels = 0, h = 0, w = 0, ph = 1, pw = 1, ratio = 0;
  double scale = 1;
  bool half_pixel = true, max_mode = false;
};
RoiAlignParams roi_align_params(const KernelContext& ctx);

// GridSample: X [N, C, spatial...], grid [N, out spatial..., rank].
enum class GridMode { Nearest, Linear, Cubic };
enum class GridPad : int { Zeros, Border, Reflection };
struct GridSampleParams {
  size_t rank = 0;  // spatial
  GridMode mode = GridMode::Linear;
  GridPad pad = GridPad::Zeros;
  bool align = false;  // align_corners
  Shape out;           // [N, C, out spatial...]
  int64_t plane = 1;   // X's spatial size (checked > 0 when the output is not empty)
};
GridSampleParams grid_sample_params(const KernelContext& ctx);

}  // namespace kiln::backend::params
