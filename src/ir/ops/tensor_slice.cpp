// Schemas of the ops that cut, join or pad along axes: Slice, Concat, Split, Pad,
// Compress, and the same-shape ops ReverseSequence, Trilu, CumSum.
#include "core/dispatch.h"
#include "ir/ops/tensor_common.h"

namespace kiln::ir::tensor_ops {

namespace {

// An integer list given as an attribute (old opsets) or as an input (new ones).
struct IntsArg {
  bool present = false;
  std::optional<std::vector<int64_t>> values;  // nullopt: present but not known yet
};

IntsArg attr_arg(const InferContext& ctx, const std::string& key) {
  IntsArg a;
  a.present = ctx.node().attr(key) != nullptr;
  if (a.present) a.values = ctx.node().attr_ints(key);
  return a;
}

IntsArg input_arg(const InferContext& ctx, size_t i) {
  IntsArg a;
  a.present = ctx.has_input(i);
  if (a.present) a.values = const_ints(ctx, i);
  return a;
}

void infer_slice(InferContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  const auto& in = ctx.input_shape(0);
  if (!in) return ctx.set_output(0, dt, std::nullopt);
  const bool old = ctx.opset() < 10;
  const IntsArg starts = old ? attr_arg(ctx, "starts") : input_arg(ctx, 1);
  const IntsArg ends = old ? attr_arg(ctx, "ends") : input_arg(ctx, 2);
  const IntsArg axes = old ? attr_arg(ctx, "axes") : input_arg(ctx, 3);
  const IntsArg steps = old ? IntsArg{} : input_arg(ctx, 4);
  if (!starts.present || !ends.present) fail_of(ctx)("needs starts and ends");
  const rules::Fail fail = fail_of(ctx);
  if (starts.values && ends.values && (!axes.present || axes.values) && (!steps.present || steps.values)) {
    const auto sl = rules::slice(fail, *in, *starts.values, *ends.values, axes.present ? &*axes.values : nullptr,
                                 steps.present ? &*steps.values : nullptr);
    return ctx.set_output(0, dt, named(ctx, rules::slice_shape(sl)));
  }
  // Bounds unknown: the dims that are not sliced keep their size.
  SymShape out = *in;
  const int64_t rank = static_cast<int64_t>(in->size());
  if (axes.present && axes.values) {
    for (int64_t a : rules::norm_axes(fail, *axes.values, rank)) out[static_cast<size_t>(a)] = Dim();
  } else if (!axes.present && (starts.values || input_len(ctx, 1))) {
    const int64_t n = starts.values ? static_cast<int64_t>(starts.values->size()) : *input_len(ctx, 1);
    for (int64_t a = 0; a < std::min(n, rank); ++a) out[static_cast<size_t>(a)] = Dim();
  } else {
    out = SymShape(in->size());
  }
  ctx.set_output(0, dt, named(ctx, out));
}

void infer_concat(InferContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  const Attribute* axis_attr = ctx.node().attr("axis");
  if (!axis_attr && ctx.opset() >= 4) fail_of(ctx)("needs attribute 'axis'");
  const int64_t axis = ctx.node().attr_i("axis", 1);
  std::vector<SymShape> known;
  bool all_known = true;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (ctx.input_dtype(i) != dt) fail_of(ctx)("inputs differ in dtype");
    if (ctx.input_shape(i)) known.push_back(*ctx.input_shape(i));
    else all_known = false;
  }
  if (known.empty()) return ctx.set_output(0, dt, std::nullopt);
  SymShape out = rules::concat(fail_of(ctx), known, axis);
  if (!all_known) out[static_cast<size_t>(rules::norm_axis(fail_of(ctx), axis, static_cast<int64_t>(out.size())))] = Dim();
  ctx.set_output(0, dt, named(ctx, out));
}

void infer_split(InferContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  const auto& in = ctx.input_shape(0);
  const size_t n = ctx.num_outputs();
  if (!in) {
    for (size_t i = 0; i < n; ++i) ctx.set_output(i, dt, std::nullopt);
    return;
  }
  const rules::Fail fail = fail_of(ctx);
  const size_t axis = static_cast<size_t>(rules::norm_axis(fail, ctx.node().attr_i("axis", 0), static_cast<int64_t>(in->size())));
  const IntsArg split = ctx.opset() < 13 ? attr_arg(ctx, "split") : input_arg(ctx, 1);
  const int64_t num_outputs = ctx.opset() >= 18 ? ctx.node().attr_i("num_outputs", 0) : 0;
  if (split.present && num_outputs > 0) fail("has both split and num_outputs");
  std::vector<int64_t> sizes(n, -1);
  if (!split.present || split.values)
    sizes = rules::split_sizes(fail, (*in)[axis], split.present ? &*split.values : nullptr, num_outputs, n,
                               ctx.opset());
  for (size_t i = 0; i < n; ++i) {
    SymShape out = *in;
    out[axis] = sizes[i] >= 0 ? Dim(sizes[i]) : Dim();
    ctx.set_output(i, dt, named(ctx, out, i));
  }
}

void infer_pad(InferContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  const auto& in = ctx.input_shape(0);
  const std::string mode = ctx.node().attr_s("mode", "constant");
  if (mode != "constant" && mode != "reflect" && mode != "edge" && mode != "wrap")
    fail_of(ctx)("unknown mode '" + mode + "'");
  if (!in) return ctx.set_output(0, dt, std::nullopt);
  const bool old = ctx.opset() < 11;
  const IntsArg pads = old ? attr_arg(ctx, "pads") : input_arg(ctx, 1);
  const IntsArg axes = old ? IntsArg{} : input_arg(ctx, 3);
  if (!pads.present) fail_of(ctx)("needs pads");
  if (!pads.values || (axes.present && !axes.values)) return ctx.set_output(0, dt, fresh_shape(ctx, in->size()));
  const rules::Fail fail = fail_of(ctx);
  const auto p = rules::pads(fail, static_cast<int64_t>(in->size()), *pads.values, axes.present ? &*axes.values : nullptr);
  ctx.set_output(0, dt, named(ctx, rules::pad(fail, *in, p)));
}

void infer_compress(InferContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  const auto& in = ctx.input_shape(0);
  const Attribute* axis_attr = ctx.node().attr("axis");
  if (!in) return ctx.set_output(0, dt, axis_attr ? std::nullopt : std::optional(fresh_shape(ctx, 1)));
  const rules::Fail fail = fail_of(ctx);
  int64_t axis = -1;
  Dim dim;
  if (axis_attr) {
    axis = rules::norm_axis(fail, ctx.node().attr_i("axis", 0), static_cast<int64_t>(in->size()));
    dim = (*in)[static_cast<size_t>(axis)];
  } else {
    dim = rules::dim_product(fail, *in, 0, in->size());
  }
  Dim count;
  if (const Tensor* cond = ctx.input_const(1)) {
    int64_t n = 0;
    for (int64_t i = 0; i < cond->numel(); ++i) {
      if (read_double(*cond, i) == 0) continue;
      if (dim.known() && i >= dim.value)
        fail("condition selects index " + std::to_string(i) + " beyond the dim of size " + std::to_string(dim.value));
      ++n;
    }
    count = Dim(n);
  }
  SymShape out = axis_attr ? *in : SymShape{Dim()};
  out[axis_attr ? static_cast<size_t>(axis) : 0] = count;
  ctx.set_output(0, dt, named(ctx, out));
}

// ReverseSequence, Trilu, CumSum: the output has the input's shape and dtype.
void infer_same_shape(InferContext& ctx) {
  const auto& in = ctx.input_shape(0);
  const std::string& op = ctx.node().op_type;
  const rules::Fail fail = fail_of(ctx);
  if (in && (op == "Trilu" || op == "ReverseSequence") && in->size() < 2)
    fail("input must have rank >= 2, got " + sym_str(*in));
  if (in && op == "ReverseSequence") {
    const int64_t b = ctx.node().attr_i("batch_axis", 1), t = ctx.node().attr_i("time_axis", 0);
    if ((b != 0 && b != 1) || (t != 0 && t != 1) || b == t)
      fail("batch_axis and time_axis must be 0 and 1 in some order");
  }
  ctx.set_output(0, ctx.input_dtype(0), in);
}

}  // namespace

void register_slice_schemas(SchemaRegistry& r) {
  r.add(make_schema("Slice", 1, 5, 1, 1, 1, infer_slice));
  r.add(make_schema("Concat", 1, 1 << 20, 1, 1, 1, infer_concat));
  r.add(make_schema("Split", 1, 2, 1, 1 << 20, 2, infer_split));
  r.add(make_schema("Pad", 1, 4, 1, 1, 2, infer_pad));
  r.add(make_schema("Compress", 2, 2, 1, 1, 9, infer_compress));
  r.add(make_schema("ReverseSequence", 2, 2, 1, 1, 10, infer_same_shape));
  r.add(make_schema("Trilu", 1, 2, 1, 1, 14, infer_same_shape));
  r.add(make_schema("CumSum", 2, 2, 1, 1, 11, infer_same_shape));
}

}  // namespace kiln::ir::tensor_ops
