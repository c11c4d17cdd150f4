// A Transpose that moves only dims of size 1 relative to the others keeps the
// elements in memory order: it becomes a Reshape to its output shape, which
// the memory plan lets take its input's buffer (no kernel copies anything).
// PyTorch's exports are full of them at batch 1: nn.MultiheadAttention's
// batch_first swaps ([1, S, E] <-> [S, 1, E]), permutes around a head of one.
#include <algorithm>

#include "passes/fusion_util.h"
#include "passes/passes.h"

namespace kiln::passes {

namespace {

// Whether `perm` keeps the order of the dims of `in` that are not 1.
bool moves_only_ones(const Shape& in, const std::vector<int64_t>& perm) {
  int64_t last = -1;
  for (int64_t p : perm) {
    if (p < 0 || p >= static_cast<int64_t>(in.size())) return false;
    if (in[static_cast<size_t>(p)] == 1) continue;
    if (p < last) return false;
    last = p;
  }
  return true;
}

}  // namespace

int transposes_as_reshapes(ir::Graph& g) {
  int rewritten = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    ir::Node& n = g.nodes[i];
    if (!n.domain.empty() || n.op_type != "Transpose" || n.inputs.size() != 1 || n.outputs.size() != 1) continue;
    const ir::Value& in = g.value(n.inputs[0]);
    const ir::Value& out = g.value(n.outputs[0]);
    if (in.constant || !in.shape || !out.shape || !ir::shape_known(*in.shape) || !ir::shape_known(*out.shape)) continue;
    const Shape s = ir::to_shape(*in.shape), o = ir::to_shape(*out.shape);
    if (!moves_only_ones(s, transpose_perm(n, s.size()))) continue;
    if (std::find(o.begin(), o.end(), 0) != o.end()) continue;  // Reshape reads 0 as "keep"
    if (g.opset("") < 5) {  // Reshape-1 takes the shape as an attribute
      ir::Attribute a;
      a.kind = ir::Attribute::Kind::Ints;
      a.ints = o;
      n.attrs["shape"] = a;
    } else {
      n.inputs.push_back(add_shape_constant(g, n.name + "/as_reshape_shape", o));
    }
    n.op_type = "Reshape";
    n.attrs.erase("perm");
    ++rewritten;
  }
  return rewritten;
}

}  // namespace kiln::passes
