// Normalization schemas: BatchNormalization (inference only), Instance-,
// Group-, Layer-, RMS- and LpNormalization, LRN.
#include "ir/ops/nn_attrs.h"
#include "ir/ops/nn_schema.h"
#include "kiln/error.h"

namespace kiln::ir {

namespace {

Dim channels(const InferContext& ctx) {
  const auto& xs = ctx.input_shape(0);
  return xs && xs->size() >= 2 ? (*xs)[1] : Dim();
}

void require_epsilon(const InferContext& ctx, float fallback) {
  if (!(ctx.node().attr_f("epsilon", fallback) >= 0.f)) ctx.fail("epsilon must be >= 0");
}

void infer_batch_norm(InferContext& ctx) {
  const Node& node = ctx.node();
  // Training mode computes batch statistics and running averages: not an inference op.
  if (node.attr_i("training_mode", 0) != 0)
    throw Error(ErrorCode::Unsupported, node.label() + ": training_mode=1 is not supported");
  for (size_t i = 1; i < ctx.num_outputs(); ++i)
    if (ctx.has_output(i))
      throw Error(ErrorCode::Unsupported,
                  node.label() + ": training outputs (running/saved mean and variance) are not supported");
  if (node.attr_i("spatial", 1) != 1)
    throw Error(ErrorCode::Unsupported, node.label() + ": spatial=0 is not supported");
  require_float(ctx, 0);
  require_rank(ctx, 0, 2);
  require_epsilon(ctx, 1e-5f);
  const Dim c = channels(ctx);
  const char* names[] = {"", "scale", "B", "input_mean", "input_var"};
  for (size_t i = 1; i < 5; ++i) {
    require_float(ctx, i);
    require_vector(ctx, i, c, names[i]);
  }
  ctx.set_output(0, ctx.input_dtype(0), ctx.input_shape(0));
}

void infer_instance_norm(InferContext& ctx) {
  require_float(ctx, 0);
  require_rank(ctx, 0, 3);
  require_epsilon(ctx, 1e-5f);
  const Dim c = channels(ctx);
  require_vector(ctx, 1, c, "scale");
  require_vector(ctx, 2, c, "B");
  ctx.set_output(0, ctx.input_dtype(0), ctx.input_shape(0));
}

void infer_group_norm(InferContext& ctx) {
  require_float(ctx, 0);
  require_rank(ctx, 0, 3);
  require_epsilon(ctx, 1e-5f);
  const Node& node = ctx.node();
  if (!node.attr("num_groups")) ctx.fail("attribute num_groups is required");
  const int64_t groups = node.attr_i("num_groups", 1);
  if (groups < 1) ctx.fail("num_groups must be >= 1");
  const Dim c = channels(ctx);
  if (c.known() && c.value % groups != 0)
    ctx.fail("channels " + std::to_string(c.value) + " are not divisible by num_groups " +
             std::to_string(groups));
  // Opset 18 had one scale/bias per group; opset 21 made them per channel.
  const Dim want = opset_before(ctx.opset(), 21) ? Dim(groups) : c;
  require_vector(ctx, 1, want, "scale");
  require_vector(ctx, 2, want, "bias");
  ctx.set_output(0, ctx.input_dtype(0), ctx.input_shape(0));
}

// Fails unless input i is unidirectionally broadcastable to xs[axis:].
void require_broadcast_to_tail(const InferContext& ctx, size_t i, const SymShape& xs, int64_t axis) {
  const auto& s = ctx.input_shape(i);
  if (!s) return;
  const size_t tail = xs.size() - static_cast<size_t>(axis);
  bool ok = s->size() <= tail;
  for (size_t k = 0; ok && k < s->size(); ++k) {
    const Dim& d = (*s)[s->size() - 1 - k];
    const Dim& x = xs[xs.size() - 1 - k];
    ok = !d.known() || !x.known() || d.value == 1 || d.value == x.value;
  }
  if (!ok)
    ctx.fail(input_label(ctx, i) + " " + sym_str(*s) + " does not broadcast to the normalized shape of X " +
             sym_str(xs) + " from axis " + std::to_string(axis));
}

// LayerNormalization and RMSNormalization: normalize over axes [axis, rank).
void infer_layer_norm(InferContext& ctx) {
  require_float(ctx, 0);
  require_epsilon(ctx, 1e-5f);
  const Node& node = ctx.node();
  const auto stash = static_cast<DataType>(node.attr_i("stash_type", 1));
  if (!dtype_is_float(stash)) ctx.fail("stash_type must name a float type");
  const auto& xs = ctx.input_shape(0);
  std::optional<SymShape> stat;
  if (xs) {
    const int64_t axis = normalize_axis(ctx, node.attr_i("axis", -1), static_cast<int64_t>(xs->size()));
    for (size_t i = 1; i < ctx.num_inputs(); ++i)
      if (ctx.has_input(i)) require_broadcast_to_tail(ctx, i, *xs, axis);
    stat = *xs;
    for (size_t i = static_cast<size_t>(axis); i < stat->size(); ++i) (*stat)[i] = Dim(1);
  }
  ctx.set_output(0, ctx.input_dtype(0), xs);
  ctx.set_output(1, stash, stat);
  ctx.set_output(2, stash, stat);
}

void infer_lp_norm(InferContext& ctx) {
  require_float(ctx, 0);
  const int64_t p = ctx.node().attr_i("p", 2);
  if (p != 1 && p != 2) ctx.fail("p must be 1 or 2, got " + std::to_string(p));
  const auto& xs = ctx.input_shape(0);
  if (xs) normalize_axis(ctx, ctx.node().attr_i("axis", -1), static_cast<int64_t>(xs->size()));
  ctx.set_output(0, ctx.input_dtype(0), xs);
}

void infer_lrn(InferContext& ctx) {
  require_float(ctx, 0);
  require_rank(ctx, 0, 2);
  const Node& node = ctx.node();
  if (!node.attr("size")) ctx.fail("attribute size is required");
  if (node.attr_i("size", 1) < 1) ctx.fail("size must be >= 1");
  ctx.set_output(0, ctx.input_dtype(0), ctx.input_shape(0));
}

void add(SchemaRegistry& r, const char* op, int min_in, int max_in, int max_out, InferFn fn,
         int64_t min_opset = 1) {
  OpSchema s;
  s.op_type = op;
  s.min_inputs = min_in;
  s.max_inputs = max_in;
  s.max_outputs = max_out;
  s.min_opset = min_opset;
  s.infer = std::move(fn);
  add_nn_schema(r, std::move(s));
}

}  // namespace

void register_norm_schemas(SchemaRegistry& r) {
  // Opsets 1-5 carried consumed_inputs/is_test forms kiln does not read.
  add(r, "BatchNormalization", 5, 5, 5, infer_batch_norm, 6);
  add(r, "InstanceNormalization", 3, 3, 1, infer_instance_norm);
  add(r, "GroupNormalization", 3, 3, 1, infer_group_norm, 18);
  add(r, "LayerNormalization", 2, 3, 3, infer_layer_norm, 17);
  add(r, "RMSNormalization", 2, 2, 1, infer_layer_norm, 23);
  add(r, "LpNormalization", 1, 1, 1, infer_lp_norm);
  add(r, "LRN", 1, 1, 1, infer_lrn);
}

}  // namespace kiln::ir
