// The reduce op family: Reduce* (axes as attribute before ReduceSum-13 and the
// other Reduce*-18, as an optional input after), ArgMax/ArgMin, and TopK (k as
// attribute before opset 10, as input after).
#include <string>

#include "core/dispatch.h"
#include "ir/op_schema.h"
#include "ir/ops/elementwise_infer.h"
#include "ir/ops/families.h"
#include "ir/ops/reduce_attrs.h"

namespace kiln::ir {

namespace {

using ew::bit;
using ew::check_dtype;

// A shape of `rank` fresh symbols, except where `like` (the input shape, same
// rank) has a known 1: reduced or kept, that dim is 1 either way.
SymShape unknown_dims(InferContext& ctx, const SymShape* like, size_t rank) {
  SymShape out;
  for (size_t i = 0; i < rank; ++i) {
    if (like && (*like)[i].known() && (*like)[i].value == 1) out.push_back(Dim(1));
    else out.push_back(ctx.new_symbol("out0.d" + std::to_string(i)));
  }
  return out;
}

// Output shape when the axes come from a run-time input whose values are not
// known here: with keepdims the rank holds, else it is known when the axes
// input's length is.
std::optional<SymShape> shape_for_unknown_axes(InferContext& ctx, const SymShape& xs) {
  if (ctx.node().attr_i("keepdims", 1) != 0) return unknown_dims(ctx, &xs, xs.size());
  const auto& as = ctx.input_shape(1);
  if (!as || as->size() != 1 || !(*as)[0].known()) return std::nullopt;
  const int64_t n = (*as)[0].value;
  if (n > static_cast<int64_t>(xs.size()))
    ctx.fail("axes has " + std::to_string(n) + " entries for an input of rank " + std::to_string(xs.size()));
  return unknown_dims(ctx, nullptr, xs.size() - static_cast<size_t>(n));
}

void infer_reduce(InferContext& ctx, bool bool_ok) {
  const Node& node = ctx.node();
  const int64_t opset = ctx.opset();
  // Bool inputs came with ReduceMax-20/ReduceMin-20.
  const uint32_t allowed = ew::k_numeric | (bool_ok && (opset <= 0 || opset >= 20) ? ew::k_bool : 0u);
  const DataType dt = check_dtype(ctx, 0, allowed);
  const bool as_input = reduce_axes_are_input(node, opset);
  std::optional<std::vector<int64_t>> axes;
  bool axes_known = true;
  if (as_input) {
    if (node.attr("axes"))
      ctx.fail("at opset " + std::to_string(opset) + " axes is an input; the axes attribute is not allowed");
    if (ctx.has_input(1)) {
      check_dtype(ctx, 1, bit(DataType::Int64));
      const auto& as = ctx.input_shape(1);
      if (as && as->size() != 1) ctx.fail("axes must be 1-D, got shape " + sym_str(*as));
      if (const Tensor* t = ctx.input_const(1)) axes = read_ints(*t);
      else if (as && (*as)[0].known() && (*as)[0].value == 0) axes = std::vector<int64_t>{};
      else axes_known = false;
    }
  } else {
    if (ctx.num_inputs() > 1)
      ctx.fail("at opset " + std::to_string(opset) + " axes is an attribute; the node takes one input");
    if (node.attr("axes")) axes = node.attr_ints("axes");
  }
  const auto& xs = ctx.input_shape(0);
  if (!xs) {
    ctx.set_output(0, dt, std::nullopt);
    return;
  }
  if (!axes_known) {
    ctx.set_output(0, dt, shape_for_unknown_axes(ctx, *xs));
    return;
  }
  const ReducePlan plan = plan_reduce(node, axes, static_cast<int64_t>(xs->size()), ErrorCode::InvalidModel);
  ctx.set_output(0, dt, reduced_shape(plan, *xs));
}

void infer_arg(InferContext& ctx) {
  check_dtype(ctx, 0, ew::k_numeric);
  const Node& node = ctx.node();
  const int64_t sel = node.attr_i("select_last_index", 0);
  if (sel != 0 && sel != 1) ctx.fail("select_last_index must be 0 or 1");
  const auto& xs = ctx.input_shape(0);
  if (!xs) {
    ctx.set_output(0, DataType::Int64, std::nullopt);
    return;
  }
  if (xs->empty()) ctx.fail("input must have rank >= 1");
  const auto axis = static_cast<size_t>(normalize_axis(ctx, node.attr_i("axis", 0), static_cast<int64_t>(xs->size())));
  if ((*xs)[axis].known() && (*xs)[axis].value == 0) ctx.fail("cannot take the arg of an empty axis");
  SymShape out = *xs;
  if (node.attr_i("keepdims", 1) != 0) out[axis] = Dim(1);
  else out.erase(out.begin() + static_cast<std::ptrdiff_t>(axis));
  ctx.set_output(0, DataType::Int64, out);
}

void infer_topk(InferContext& ctx) {
  const Node& node = ctx.node();
  const int64_t opset = ctx.opset();
  const DataType dt = check_dtype(ctx, 0, ew::k_numeric);
  std::optional<int64_t> k;
  if (opset > 0 && opset < 10) {
    if (ctx.num_inputs() != 1) ctx.fail("at opset " + std::to_string(opset) + " k is an attribute; the node takes one input");
    if (!node.attr("k")) ctx.fail("attribute k is required");
    k = node.attr_i("k", 0);
  } else {
    if (!ctx.has_input(1)) ctx.fail("input 1 (K) is required from opset 10");
    check_dtype(ctx, 1, bit(DataType::Int64));
    const auto& ks = ctx.input_shape(1);
    if (ks && !(ks->size() == 1 && (!(*ks)[0].known() || (*ks)[0].value == 1)))
      ctx.fail("K must be a 1-D tensor of one element, got shape " + sym_str(*ks));
    if (const Tensor* t = ctx.input_const(1)) {
      if (t->numel() != 1) ctx.fail("K must hold one element");
      k = read_int(*t, 0);
    }
  }
  if (k && *k < 0) ctx.fail("k must be >= 0, got " + std::to_string(*k));
  const auto& xs = ctx.input_shape(0);
  if (!xs) {
    ctx.set_output(0, dt, std::nullopt);
    ctx.set_output(1, DataType::Int64, std::nullopt);
    return;
  }
  if (xs->empty()) ctx.fail("input must have rank >= 1");
  const auto axis = static_cast<size_t>(normalize_axis(ctx, node.attr_i("axis", -1), static_cast<int64_t>(xs->size())));
  SymShape out = *xs;
  if (k) {
    if ((*xs)[axis].known() && *k > (*xs)[axis].value)
      ctx.fail("k " + std::to_string(*k) + " exceeds the axis size " + std::to_string((*xs)[axis].value));
    out[axis] = Dim(*k);
  } else {
    out[axis] = ctx.new_symbol("k");
  }
  ctx.set_output(0, dt, out);
  ctx.set_output(1, DataType::Int64, out);
}

}  // namespace

void register_reduce_schemas(SchemaRegistry& r) {
  for (const char* op : {"ReduceMean", "ReduceSum", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum",
                         "ReduceLogSumExp", "ReduceSumSquare"})
    ew::add_schema(r, op, 1, 2, 1, [](InferContext& ctx) { infer_reduce(ctx, false); });
  for (const char* op : {"ReduceMax", "ReduceMin"})
    ew::add_schema(r, op, 1, 2, 1, [](InferContext& ctx) { infer_reduce(ctx, true); });
  ew::add_schema(r, "ArgMax", 1, 1, 1, infer_arg);
  ew::add_schema(r, "ArgMin", 1, 1, 1, infer_arg);
  ew::add_schema(r, "TopK", 1, 2, 1, infer_topk, 2, 2);
}

}  // namespace kiln::ir
