// Conv [→ Add(Z)] [→ activation] becomes one com.kiln::FusedConv
// (Y = act(Conv(X, W, B) + Z); see src/ir/ops/fused.cpp), which oneDNN runs as
// one convolution with "sum" and eltwise post-ops. Each absorbed intermediate
// must have no other reader; Z must have exactly the conv output's static
// shape (no broadcasting) and dtype. The fused node takes the place of the
// last absorbed node, where all its inputs are already computed.
#include "passes/fusion_util.h"
#include "passes/passes.h"

namespace kiln::passes {

int fuse_conv(ir::Graph& g) {
  const int64_t opset = g.opset("");
  const Readers readers(g);
  std::vector<bool> dead(g.nodes.size(), false);
  int fused = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (dead[i] || !is_onnx(g.nodes[i], "Conv") || g.nodes[i].outputs.size() != 1) continue;
    const ir::ValueId conv_out = g.nodes[i].outputs[0];
    if (!is_static_f32(g, conv_out)) continue;
    ir::ValueId cur = conv_out, z = ir::k_no_value;
    std::vector<ir::NodeId> absorbed;

    ir::NodeId r = readers.sole(cur);
    if (r >= 0 && !dead[static_cast<size_t>(r)] && is_onnx(g.nodes[static_cast<size_t>(r)], "Add")) {
      const ir::Node& add = g.nodes[static_cast<size_t>(r)];
      const bool legacy = add.attr("broadcast") != nullptr;
      if (!legacy && add.inputs.size() == 2 && add.outputs.size() == 1) {
        const ir::ValueId other = add.inputs[0] == cur ? add.inputs[1] : add.inputs[0];
        if (other != cur && is_static_f32(g, other) && *g.value(other).shape == *g.value(cur).shape &&
            is_static_f32(g, add.outputs[0]) && *g.value(add.outputs[0]).shape == *g.value(cur).shape) {
          z = other;
          absorbed.push_back(r);
          cur = add.outputs[0];
          r = readers.sole(cur);
        }
      }
    }
    ir::FusedActivation act;
    if (r >= 0 && !dead[static_cast<size_t>(r)] && match_activation(g, g.nodes[static_cast<size_t>(r)], opset, &act)) {
      absorbed.push_back(r);
      cur = g.nodes[static_cast<size_t>(r)].outputs[0];
    }
    if (absorbed.empty()) continue;

    ir::Node f = g.nodes[i];
    f.domain = "com.kiln";
    f.op_type = "FusedConv";
    if (z != ir::k_no_value) {
      f.inputs.resize(3, ir::k_no_value);
      f.inputs.push_back(z);
    }
    f.outputs = {cur};
    ir::write_activation(f, act);
    replace_chain(g, dead, i, absorbed, std::move(f));
    ++fused;
  }
  finish_fusions(g, dead, fused);
  return fused;
}

}  // namespace kiln::passes
