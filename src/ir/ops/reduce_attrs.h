// What the Reduce* schemas and the CPU reduce kernels share, so the shape a
// schema promises is the shape a kernel produces: where the axes come from at
// each opset, and how a set of axes turns an input shape into an output shape.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "ir/graph.h"
#include "kiln/error.h"

namespace kiln::ir {

// Axes are an input (index 1) from opset 13 for ReduceSum and from opset 18 for
// the other Reduce* ops; before that they are the `axes` attribute.
bool reduce_axes_are_input(const Node& node, int64_t opset);

struct ReducePlan {
  bool noop = false;          // empty axes with noop_with_empty_axes=1: output = input
  bool keepdims = true;
  std::vector<bool> reduced;  // per input axis
};

// Resolves the axes a node reduces for an input of rank `rank`. `axes` is the
// attribute's or the input's values, nullopt when neither is given (reduce all,
// unless noop_with_empty_axes). Errors (duplicate or out-of-range axes) throw
// kiln::Error(`code`) naming the node.
ReducePlan plan_reduce(const Node& node, const std::optional<std::vector<int64_t>>& axes, int64_t rank,
                       ErrorCode code);

// The output shape of a plan (reduced axes become 1 or vanish).
Shape reduced_shape(const ReducePlan& plan, const Shape& in);
SymShape reduced_shape(const ReducePlan& plan, const SymShape& in);

}  // namespace kiln::ir
