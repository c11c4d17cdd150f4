#include "ir/ops/reduce_attrs.h"

#include <string>

namespace kiln::ir {

bool reduce_axes_are_input(const Node& node, int64_t opset) {
  // A graph without an opset import (hand-built) gets the newest form.
  if (opset <= 0) return true;
  return opset >= (node.op_type == "ReduceSum" ? 13 : 18);
}

ReducePlan plan_reduce(const Node& node, const std::optional<std::vector<int64_t>>& axes, int64_t rank,
                       ErrorCode code) {
  ReducePlan plan;
  plan.keepdims = node.attr_i("keepdims", 1) != 0;
  plan.reduced.assign(static_cast<size_t>(rank), false);
  if (!axes || axes->empty()) {
    if (node.attr_i("noop_with_empty_axes", 0) != 0) {
      plan.noop = true;
      return plan;
    }
    plan.reduced.assign(static_cast<size_t>(rank), true);
    return plan;
  }
  for (int64_t a : *axes) {
    if (a < -rank || a >= rank)
      throw Error(code, node.label() + ": axis " + std::to_string(a) + " is out of range for rank " +
                            std::to_string(rank));
    const auto k = static_cast<size_t>(a < 0 ? a + rank : a);
    if (plan.reduced[k]) throw Error(code, node.label() + ": axis " + std::to_string(a) + " is repeated");
    plan.reduced[k] = true;
  }
  return plan;
}

namespace {
template <typename S, typename D>
S reduce_shape_of(const ReducePlan& plan, const S& in, D one) {
  if (plan.noop) return in;
  S out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (!plan.reduced[i]) out.push_back(in[i]);
    else if (plan.keepdims) out.push_back(one);
  }
  return out;
}
}  // namespace

Shape reduced_shape(const ReducePlan& plan, const Shape& in) { return reduce_shape_of(plan, in, int64_t{1}); }
SymShape reduced_shape(const ReducePlan& plan, const SymShape& in) { return reduce_shape_of(plan, in, Dim(1)); }

}  // namespace kiln::ir
