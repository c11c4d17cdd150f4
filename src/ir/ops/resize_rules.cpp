#include "ir/ops/resize_rules.h"

#include <algorithm>
#include <cmath>

namespace kiln::ir::rules {

namespace {

template <typename E>
E pick(const Fail& fail, const std::string& key, const std::string& value,
       const std::vector<std::pair<const char*, E>>& table) {
  for (const auto& [name, e] : table)
    if (value == name) return e;
  fail("unknown " + key + " '" + value + "'");
}

}  // namespace

ResizeAttrs resize_attrs(const Fail& fail, int64_t opset, int64_t rank) {
  const Node& n = fail.node();
  ResizeAttrs a;
  a.mode = pick<ResizeMode>(fail, "mode", n.attr_s("mode", "nearest"),
                            {{"nearest", ResizeMode::Nearest}, {"linear", ResizeMode::Linear},
                             {"bilinear", ResizeMode::Linear}, {"trilinear", ResizeMode::Linear},
                             {"cubic", ResizeMode::Cubic}});
  if (n.op_type == "Upsample" || opset < 11) {
    // Resize-10 and Upsample had no coordinate or nearest modes.
    a.coord = CoordMode::Asymmetric;
    a.nearest = NearestMode::Simple;
  } else {
    a.coord = pick<CoordMode>(fail, "coordinate_transformation_mode",
                              n.attr_s("coordinate_transformation_mode", "half_pixel"),
                              {{"half_pixel", CoordMode::HalfPixel},
                               {"half_pixel_symmetric", CoordMode::HalfPixelSymmetric},
                               {"pytorch_half_pixel", CoordMode::PytorchHalfPixel},
                               {"align_corners", CoordMode::AlignCorners},
                               {"asymmetric", CoordMode::Asymmetric},
                               {"tf_crop_and_resize", CoordMode::TfCropAndResize}});
    a.nearest = pick<NearestMode>(fail, "nearest_mode", n.attr_s("nearest_mode", "round_prefer_floor"),
                                  {{"round_prefer_floor", NearestMode::RoundPreferFloor},
                                   {"round_prefer_ceil", NearestMode::RoundPreferCeil},
                                   {"floor", NearestMode::Floor},
                                   {"ceil", NearestMode::Ceil}});
    a.cubic_a = n.attr_f("cubic_coeff_a", -0.75f);
    a.exclude_outside = n.attr_i("exclude_outside", 0) != 0;
    a.extrapolation = n.attr_f("extrapolation_value", 0.f);
  }
  if (opset >= 18 && n.op_type == "Resize") {
    a.antialias = n.attr_i("antialias", 0) != 0;
    a.policy = pick<AspectPolicy>(fail, "keep_aspect_ratio_policy", n.attr_s("keep_aspect_ratio_policy", "stretch"),
                                  {{"stretch", AspectPolicy::Stretch},
                                   {"not_larger", AspectPolicy::NotLarger},
                                   {"not_smaller", AspectPolicy::NotSmaller}});
    if (n.attr("axes")) a.axes = norm_axes(fail, n.attr_ints("axes"), rank);
  }
  if (a.axes.empty())
    for (int64_t i = 0; i < rank; ++i) a.axes.push_back(i);
  return a;
}

ResizePlan resize_plan(const Fail& fail, const SymShape& in, const ResizeAttrs& attrs, const ResizeArgs& args) {
  const size_t rank = in.size(), k = attrs.axes.size();
  ResizePlan p;
  p.out = in;
  p.scales.assign(rank, 1.0);
  p.roi_start.assign(rank, 0.0);
  p.roi_end.assign(rank, 1.0);
  if (args.scales && args.sizes) fail("has both scales and sizes");
  if (!args.scales && !args.sizes) fail("needs scales or sizes");
  if (args.roi && attrs.coord == CoordMode::TfCropAndResize) {
    if (args.roi->size() != 2 * k)
      fail("roi has " + std::to_string(args.roi->size()) + " values, expected " + std::to_string(2 * k));
    for (size_t j = 0; j < k; ++j) {
      p.roi_start[static_cast<size_t>(attrs.axes[j])] = (*args.roi)[j];
      p.roi_end[static_cast<size_t>(attrs.axes[j])] = (*args.roi)[k + j];
    }
  }
  if (args.scales) {
    if (args.scales->size() != k)
      fail("scales has " + std::to_string(args.scales->size()) + " values for " + std::to_string(k) + " axes");
    for (size_t j = 0; j < k; ++j) {
      const size_t d = static_cast<size_t>(attrs.axes[j]);
      const double s = (*args.scales)[j];
      if (!(s > 0) || !std::isfinite(s)) fail("scale " + std::to_string(s) + " must be positive");
      p.scales[d] = s;
      if (in[d].known()) p.out[d] = Dim(static_cast<int64_t>(std::floor(s * static_cast<double>(in[d].value))));
      else if (s != 1.0) p.out[d] = Dim();
    }
    return p;
  }
  const std::vector<int64_t>& sizes = *args.sizes;
  if (sizes.size() != k) fail("sizes has " + std::to_string(sizes.size()) + " values for " + std::to_string(k) + " axes");
  bool all_known = true;
  for (size_t j = 0; j < k; ++j) {
    if (sizes[j] < 0) fail("sizes " + shape_str(sizes) + " has a negative value");
    const Dim& d = in[static_cast<size_t>(attrs.axes[j])];
    all_known &= d.known();
    if (d.known() && d.value == 0) fail("cannot resize a dim of size 0");
  }
  if (attrs.policy == AspectPolicy::Stretch) {
    for (size_t j = 0; j < k; ++j) {
      const size_t d = static_cast<size_t>(attrs.axes[j]);
      if (in[d].known()) p.scales[d] = static_cast<double>(sizes[j]) / static_cast<double>(in[d].value);
      p.out[d] = Dim(sizes[j]);
    }
    return p;
  }
  // not_larger / not_smaller: one scale for every axis, then sizes rounded half up.
  if (!all_known) {
    for (int64_t a : attrs.axes) p.out[static_cast<size_t>(a)] = Dim();
    return p;
  }
  double scale = attrs.policy == AspectPolicy::NotLarger ? INFINITY : 0.0;
  for (size_t j = 0; j < k; ++j) {
    const double s = static_cast<double>(sizes[j]) / static_cast<double>(in[static_cast<size_t>(attrs.axes[j])].value);
    scale = attrs.policy == AspectPolicy::NotLarger ? std::min(scale, s) : std::max(scale, s);
  }
  for (int64_t a : attrs.axes) {
    const size_t d = static_cast<size_t>(a);
    p.scales[d] = scale;
    p.out[d] = Dim(static_cast<int64_t>(scale * static_cast<double>(in[d].value) + 0.5));
  }
  return p;
}

}  // namespace kiln::ir::rules
