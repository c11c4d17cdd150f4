// com.kiln Attention's operands read and written in place
// (passes/fuse_attention.cpp): Q, K and V as 4-D [B, heads, seq, head] views
// of its three input tensors, and Y as a view of its output tensor, so the
// reshapes, transposes and selections around an exported attention cost no
// copies. Two attributes, both or neither:
//   kiln.views   := view{4}                      Q, K, V, Y in that order
//   view         := offset dim{4} stride{4}      ints, elements of the tensor
//   kiln.y_shape := dim*                         the output tensor's shape
// Y must be every element of its tensor once (a permutation of its dims); Q,
// K and V may not reach past their tensors. Strides are >= 0.
#pragma once

#include <optional>

#include "ir/graph.h"
#include "ir/strided_view.h"

namespace kiln::ir {

struct AttentionViews {
  StridedView q, k, v, y;
  Shape y_shape;
};

// nullopt without the attributes or on a node outside com.kiln. Throws Error(InvalidModel) naming the node
// for a malformed pair or views that disagree on batch, heads or lengths.
std::optional<AttentionViews> attention_views(const Node& node);
// Throws Error(InvalidModel) when Q, K or V reach past tensors of these
// element counts.
void check_view_extents(const Node& node, const AttentionViews& v, int64_t q_numel, int64_t k_numel, int64_t v_numel);
// The ints of kiln.views for these views.
std::vector<int64_t> views_attribute(const AttentionViews& v);

}  // namespace kiln::ir
