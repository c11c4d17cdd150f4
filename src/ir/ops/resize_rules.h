// Resize and Upsample: attributes across opsets and the output-size rule, shared
// by shape inference and the CPU kernel (see shape_rules.h for the convention).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ir/ops/shape_rules.h"

namespace kiln::ir::rules {

enum class ResizeMode { Nearest, Linear, Cubic };
enum class CoordMode { HalfPixel, HalfPixelSymmetric, PytorchHalfPixel, AlignCorners, Asymmetric, TfCropAndResize };
// Simple is the rule of Resize-10 and Upsample, which had no nearest_mode:
// ceil when downsampling, else truncate.
enum class NearestMode { RoundPreferFloor, RoundPreferCeil, Floor, Ceil, Simple };
enum class AspectPolicy { Stretch, NotLarger, NotSmaller };

struct ResizeAttrs {
  ResizeMode mode = ResizeMode::Nearest;
  CoordMode coord = CoordMode::HalfPixel;
  NearestMode nearest = NearestMode::RoundPreferFloor;
  AspectPolicy policy = AspectPolicy::Stretch;
  double cubic_a = -0.75;
  bool exclude_outside = false;
  double extrapolation = 0.0;
  bool antialias = false;
  std::vector<int64_t> axes;  // normalized; every dim when the attribute is absent
};

// Reads the attributes of a Resize (any opset) or Upsample node.
ResizeAttrs resize_attrs(const Fail& fail, int64_t opset, int64_t rank);

// The values of Resize's optional inputs; an absent or empty input is nullopt.
struct ResizeArgs {
  std::optional<std::vector<double>> roi, scales;
  std::optional<std::vector<int64_t>> sizes;
};

struct ResizePlan {
  SymShape out;                          // unknown dims are anonymous
  std::vector<double> scales;            // per dim, for the coordinate transform
  std::vector<double> roi_start, roi_end;  // per dim (tf_crop_and_resize)
};

ResizePlan resize_plan(const Fail& fail, const SymShape& in, const ResizeAttrs& attrs, const ResizeArgs& args);

}  // namespace kiln::ir::rules
