#include "backends/detection_params.h"

#include <algorithm>
#include <string>

#include "core/dispatch.h"
#include "ir/ops/nn_attrs.h"

namespace kiln::backend::params {

NmsParams nms_params(const KernelContext& ctx) {
  const Tensor& boxes = ctx.input(0);
  const Tensor& scores = ctx.input(1);
  if (boxes.rank() != 3 || boxes.shape()[2] != 4)
    ctx.fail("boxes must be [batches, boxes, 4], got " + shape_str(boxes.shape()));
  if (scores.rank() != 3 || scores.shape()[0] != boxes.shape()[0] || scores.shape()[2] != boxes.shape()[1])
    ctx.fail("scores " + shape_str(scores.shape()) + " must be [batches, classes, boxes] for boxes " +
             shape_str(boxes.shape()));
  auto present = [&](size_t i) { return ctx.has_input(i) && ctx.input(i).numel() > 0; };
  NmsParams p;
  p.max_out = present(2) ? std::max<int64_t>(read_int(ctx.input(2), 0), 0) : 0;
  p.iou = present(3) ? static_cast<float>(read_double(ctx.input(3), 0)) : 0.f;
  p.by_score = present(4);
  p.score_th = p.by_score ? static_cast<float>(read_double(ctx.input(4), 0)) : 0.f;
  p.center = ctx.node().attr_i("center_point_box", 0) != 0;
  p.batches = boxes.shape()[0];
  p.classes = scores.shape()[1];
  p.boxes = boxes.shape()[1];
  return p;
}

RoiAlignParams roi_align_params(const KernelContext& ctx) {
  const ir::Node& node = ctx.node();
  const Tensor& x = ctx.input(0);
  const Tensor& rois = ctx.input(1);
  const Tensor& idx = ctx.input(2);
  if (x.rank() != 4) ctx.fail("X must be 4-D, got " + shape_str(x.shape()));
  if (rois.rank() != 2 || rois.shape()[1] != 4) ctx.fail("rois must be [num_rois, 4], got " + shape_str(rois.shape()));
  if (idx.rank() != 1 || idx.shape()[0] != rois.shape()[0])
    ctx.fail("batch_indices must be [num_rois], got " + shape_str(idx.shape()));
  RoiAlignParams a;
  a.rois = rois.shape()[0];
  a.batch = x.shape()[0];
  a.channels = x.shape()[1];
  a.h = x.shape()[2];
  a.w = x.shape()[3];
  if ((a.h == 0 || a.w == 0) && a.rois > 0) ctx.fail("X has an empty spatial dim: " + shape_str(x.shape()));
  a.ph = node.attr_i("output_height", 1);
  a.pw = node.attr_i("output_width", 1);
  a.ratio = node.attr_i("sampling_ratio", 0);
  a.scale = node.attr_f("spatial_scale", 1.f);
  a.max_mode = node.attr_s("mode", "avg") == "max";
  // Opset 10 had no coordinate_transformation_mode and behaved as output_half_pixel.
  const std::string ctm = node.attr_s("coordinate_transformation_mode",
                                      ir::opset_before(ctx.opset(), 16) ? "output_half_pixel" : "half_pixel");
  a.half_pixel = ctm == "half_pixel";
  return a;
}

GridSampleParams grid_sample_params(const KernelContext& ctx) {
  const ir::Node& node = ctx.node();
  const Tensor& x = ctx.input(0);
  const Tensor& grid = ctx.input(1);
  GridSampleParams p;
  p.rank = static_cast<size_t>(x.rank()) - 2;
  if (x.rank() < 3 || grid.rank() != x.rank() || grid.shape()[0] != x.shape()[0] ||
      grid.shape().back() != static_cast<int64_t>(p.rank))
    ctx.fail("grid " + shape_str(grid.shape()) + " does not fit X " + shape_str(x.shape()));
  const bool v16 = ir::opset_before(ctx.opset(), 20);
  const std::string ms = node.attr_s("mode", v16 ? "bilinear" : "linear");
  p.mode = ms == "nearest"                      ? GridMode::Nearest
           : (ms == "cubic" || ms == "bicubic") ? GridMode::Cubic
                                                : GridMode::Linear;
  if (p.mode == GridMode::Cubic && p.rank != 2) ctx.fail("cubic mode supports 4-D input only");
  const std::string ps = node.attr_s("padding_mode", "zeros");
  p.pad = ps == "border" ? GridPad::Border : ps == "reflection" ? GridPad::Reflection : GridPad::Zeros;
  p.align = node.attr_i("align_corners", 0) != 0;
  p.out = {x.shape()[0], x.shape()[1]};
  for (size_t i = 1; i + 1 < grid.shape().size(); ++i) p.out.push_back(grid.shape()[i]);
  for (size_t i = 2; i < x.shape().size(); ++i) p.plane *= x.shape()[i];
  if (shape_numel(p.out) != 0 && p.plane == 0) ctx.fail("X has an empty spatial dim: " + shape_str(x.shape()));
  return p;
}

}  // namespace kiln::backend::params
