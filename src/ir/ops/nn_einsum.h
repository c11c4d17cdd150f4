// Einsum equation parsing, shared by the Einsum schema and the CPU kernel.
#pragma once

#include <cstddef>
#include <vector>

#include "ir/graph.h"

namespace kiln::ir {

// Every axis of every operand and of the output gets a label id in
// [0, num_labels). Ellipsis axes get labels of their own, right-aligned across
// operands, so "...ij" with ranks 3 and 4 shares the last ellipsis label.
struct EinsumSpec {
  std::vector<std::vector<int>> inputs;  // per operand, one label per axis
  std::vector<int> output;               // one label per output axis
  int num_labels = 0;
};

// Parses node's `equation` for operands of the given ranks (implicit output
// mode included). Throws kiln::Error(InvalidModel) naming the node.
EinsumSpec parse_einsum(const Node& node, const std::vector<size_t>& ranks);

}  // namespace kiln::ir
