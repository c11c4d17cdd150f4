// Gemm [→ activation] becomes com.kiln::FusedGemm; MatMul [→ Add(bias)]
// [→ activation] becomes com.kiln::FusedMatMul (Y = act(MatMul(A, B) + bias);
// see src/ir/ops/fused.cpp). The bias must be a 1-D float32 constant with one
// value per output column, so the Add does not broadcast the MatMul output.
// Absorbed intermediates must have no other reader.
#include "passes/fusion_util.h"
#include "passes/passes.h"

namespace kiln::passes {

namespace {

// The bias operand of an Add reading `x` (the other input), when it is a
// 1-D constant of x's last dim and the Add keeps x's shape.
ir::ValueId bias_of(const ir::Graph& g, const ir::Node& add, ir::ValueId x) {
  if (add.inputs.size() != 2 || add.outputs.size() != 1 || add.attr("broadcast")) return ir::k_no_value;
  const ir::ValueId other = add.inputs[0] == x ? add.inputs[1] : add.inputs[0];
  if (other == x) return ir::k_no_value;
  const ir::Value& b = g.value(other);
  const auto& xs = *g.value(x).shape;
  if (!b.constant || b.dtype != DataType::Float32 || b.constant->rank() != 1 || xs.empty()) return ir::k_no_value;
  if (b.constant->shape()[0] != xs.back().value) return ir::k_no_value;
  if (!is_static_f32(g, add.outputs[0]) || *g.value(add.outputs[0]).shape != xs) return ir::k_no_value;
  return other;
}

}  // namespace

int fuse_gemm(ir::Graph& g, const NodeFilter& can_run) {
  const int64_t opset = g.opset("");
  const Readers readers(g);
  std::vector<bool> dead(g.nodes.size(), false);
  int fused = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const bool gemm = is_onnx(g.nodes[i], "Gemm"), matmul = is_onnx(g.nodes[i], "MatMul");
    if (dead[i] || (!gemm && !matmul) || g.nodes[i].outputs.size() != 1) continue;
    ir::ValueId cur = g.nodes[i].outputs[0], bias = ir::k_no_value;
    if (!is_static_f32(g, cur)) continue;
    std::vector<ir::NodeId> absorbed;
    const ir::NodeId r = readers.sole(cur);
    if (matmul && r >= 0 && !dead[static_cast<size_t>(r)] && is_onnx(g.nodes[static_cast<size_t>(r)], "Add")) {
      bias = bias_of(g, g.nodes[static_cast<size_t>(r)], cur);
      if (bias != ir::k_no_value) {
        absorbed.push_back(r);
        cur = g.nodes[static_cast<size_t>(r)].outputs[0];
      }
    }
    const ir::FusedActivation act = absorb_activation(g, readers, dead, opset, cur, absorbed);
    if (absorbed.empty()) continue;
    ir::Node f = g.nodes[i];
    f.domain = "com.kiln";
    f.op_type = gemm ? "FusedGemm" : "FusedMatMul";
    if (bias != ir::k_no_value) f.inputs.push_back(bias);
    f.outputs = {cur};
    ir::write_activation(f, act);
    if (can_run && !can_run(f)) continue;
    replace_chain(g, dead, i, absorbed, std::move(f));
    ++fused;
  }
  finish_fusions(g, dead, fused);
  return fused;
}

}  // namespace kiln::passes
