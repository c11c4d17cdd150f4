// The detection op family: NonMaxSuppression (its output count depends on the
// data, so its first dim is a fresh symbol), RoiAlign and GridSample.
#include <string>

#include "ir/op_schema.h"
#include "ir/ops/elementwise_infer.h"
#include "ir/ops/families.h"
#include "ir/ops/nn_attrs.h"

namespace kiln::ir {

namespace {

using ew::bit;
using ew::check_dtype;

// Fails unless input i's rank (when known) is `rank`.
void require_rank(const InferContext& ctx, size_t i, size_t rank, const char* what) {
  const auto& s = ctx.input_shape(i);
  if (s && s->size() != rank)
    ctx.fail(std::string(what) + " must have rank " + std::to_string(rank) + ", got shape " + sym_str(*s));
}

// Unifies dim a of input i with dim b of input j, failing when both are known and differ.
void require_same_dim(const InferContext& ctx, size_t i, size_t a, size_t j, size_t b, const std::string& what) {
  const auto& si = ctx.input_shape(i);
  const auto& sj = ctx.input_shape(j);
  if (!si || !sj || a >= si->size() || b >= sj->size()) return;
  const Dim& x = (*si)[a];
  const Dim& y = (*sj)[b];
  if (x.known() && y.known() && x.value != y.value)
    ctx.fail(what + ": " + std::to_string(x.value) + " vs " + std::to_string(y.value));
}

// Fails unless the optional scalar input i holds at most one element (an
// empty tensor reads as omitted).
void require_scalar(const InferContext& ctx, size_t i, const char* what) {
  const auto& s = ctx.input_shape(i);
  if (s && (s->size() > 1 || (s->size() == 1 && (*s)[0].known() && (*s)[0].value > 1)))
    ctx.fail(std::string(what) + " must be a scalar or 1-element tensor, got shape " + sym_str(*s));
}

void infer_nms(InferContext& ctx) {
  const int64_t center = ctx.node().attr_i("center_point_box", 0);
  if (center != 0 && center != 1) ctx.fail("center_point_box must be 0 or 1");
  check_dtype(ctx, 0, ew::k_float);
  check_dtype(ctx, 1, ew::k_float);
  require_rank(ctx, 0, 3, "boxes");
  require_rank(ctx, 1, 3, "scores");
  const auto& bs = ctx.input_shape(0);
  if (bs && (*bs)[2].known() && (*bs)[2].value != 4) ctx.fail("boxes must have 4 coordinates in its last dim");
  require_same_dim(ctx, 0, 0, 1, 0, "boxes and scores differ in batch size");
  require_same_dim(ctx, 0, 1, 1, 2, "boxes and scores differ in box count");
  if (ctx.has_input(2)) check_dtype(ctx, 2, bit(DataType::Int64));
  for (size_t i = 3; i < 5; ++i)
    if (ctx.has_input(i)) check_dtype(ctx, i, ew::k_float);
  require_scalar(ctx, 2, "max_output_boxes_per_class");
  require_scalar(ctx, 3, "iou_threshold");
  require_scalar(ctx, 4, "score_threshold");
  ctx.set_output(0, DataType::Int64, SymShape{ctx.new_symbol("selected"), Dim(3)});
}

void infer_roi_align(InferContext& ctx) {
  const Node& node = ctx.node();
  const DataType dt = check_dtype(ctx, 0, ew::k_float);
  check_dtype(ctx, 1, ew::k_float);
  check_dtype(ctx, 2, bit(DataType::Int64));
  require_rank(ctx, 0, 4, "X");
  require_rank(ctx, 1, 2, "rois");
  require_rank(ctx, 2, 1, "batch_indices");
  const auto& rs = ctx.input_shape(1);
  if (rs && (*rs)[1].known() && (*rs)[1].value != 4) ctx.fail("rois must have 4 coordinates in its last dim");
  require_same_dim(ctx, 1, 0, 2, 0, "rois and batch_indices differ in length");
  const std::string mode = node.attr_s("mode", "avg");
  if (mode != "avg" && mode != "max") ctx.fail("mode must be avg or max, got '" + mode + "'");
  if (const Attribute* a = node.attr("coordinate_transformation_mode")) {
    if (opset_before(ctx.opset(), 16)) ctx.fail("coordinate_transformation_mode needs opset 16");
    if (a->s != "half_pixel" && a->s != "output_half_pixel")
      ctx.fail("coordinate_transformation_mode must be half_pixel or output_half_pixel, got '" + a->s + "'");
  }
  const int64_t oh = node.attr_i("output_height", 1), ow = node.attr_i("output_width", 1);
  if (oh < 1 || ow < 1) ctx.fail("output_height and output_width must be >= 1");
  if (node.attr_i("sampling_ratio", 0) < 0) ctx.fail("sampling_ratio must be >= 0");
  const auto& xs = ctx.input_shape(0);
  Dim rois = rs ? (*rs)[0] : Dim();
  if (!rois.known())
    if (const auto& is = ctx.input_shape(2); is && (*is)[0].known()) rois = (*is)[0];
  if (!rois.known() && rois.symbol.empty()) rois = ctx.new_symbol("rois");
  const Dim c = xs ? (*xs)[1] : ctx.new_symbol("channels");
  ctx.set_output(0, dt, SymShape{rois, c, Dim(oh), Dim(ow)});
}

void infer_grid_sample(InferContext& ctx) {
  const Node& node = ctx.node();
  const bool v16 = opset_before(ctx.opset(), 20);
  const DataType dt = check_dtype(ctx, 0, ew::k_float);
  check_dtype(ctx, 1, ew::k_float);
  const std::string mode = node.attr_s("mode", v16 ? "bilinear" : "linear");
  const bool cubic = mode == (v16 ? "bicubic" : "cubic");
  if (mode != "nearest" && mode != (v16 ? "bilinear" : "linear") && !cubic)
    ctx.fail("mode '" + mode + "' is not one of " + (v16 ? "bilinear, nearest, bicubic" : "linear, nearest, cubic"));
  const std::string pad = node.attr_s("padding_mode", "zeros");
  if (pad != "zeros" && pad != "border" && pad != "reflection")
    ctx.fail("padding_mode must be zeros, border or reflection, got '" + pad + "'");
  const auto& xs = ctx.input_shape(0);
  const auto& gs = ctx.input_shape(1);
  if (v16) {
    require_rank(ctx, 0, 4, "X");
    require_rank(ctx, 1, 4, "grid");
  }
  if (xs && xs->size() < 3) ctx.fail("X must have rank >= 3, got " + sym_str(*xs));
  if (xs && gs && gs->size() != xs->size())
    ctx.fail("grid " + sym_str(*gs) + " must have X's rank " + std::to_string(xs->size()));
  const size_t rank = xs ? xs->size() : gs ? gs->size() : 0;
  if (cubic && rank && rank != 4) ctx.fail("cubic mode supports 4-D input only");
  if (gs && rank && (*gs)[rank - 1].known() && (*gs)[rank - 1].value != static_cast<int64_t>(rank - 2))
    ctx.fail("grid's last dim must be " + std::to_string(rank - 2) + " (the spatial rank)");
  require_same_dim(ctx, 0, 0, 1, 0, "X and grid differ in batch size");
  if (!xs || !gs) {
    ctx.set_output(0, dt, std::nullopt);
    return;
  }
  SymShape out{(*xs)[0].known() ? (*xs)[0] : (*gs)[0], (*xs)[1]};
  for (size_t i = 1; i + 1 < gs->size(); ++i) out.push_back((*gs)[i]);
  ctx.set_output(0, dt, out);
}

}  // namespace

void register_detection_schemas(SchemaRegistry& r) {
  ew::add_schema(r, "NonMaxSuppression", 2, 5, 10, infer_nms);
  ew::add_schema(r, "RoiAlign", 3, 3, 10, infer_roi_align);
  ew::add_schema(r, "GridSample", 2, 2, 16, infer_grid_sample);
}

}  // namespace kiln::ir
