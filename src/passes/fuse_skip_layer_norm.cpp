// A transformer block's residual add and the LayerNormalization after it,
//   s = Add(a, b);  y = LayerNormalization(s, scale[, bias])
// become one com.kiln SkipLayerNormalization(a, b, scale[, bias]) -> y[, s]:
// one kernel reads a and b once, writes s (when anything else reads it: the
// next residual add) and y. A CUDA backend pass (after placement and
// lowering, so it sees the dtypes the kernels will run): both nodes must be
// the backend's, a and b of one dtype and one fully known shape (no
// broadcast), the norm without Mean/InvStdDev outputs and with the default
// stash_type. The fused node takes the norm's place, so every other reader of
// s must come after it.
#include "passes/fusion_util.h"
#include "passes/passes.h"

namespace kiln::passes {

namespace {

bool is_float16_32_or_bf16(DataType dt) {
  return dt == DataType::Float32 || dt == DataType::Float16 || dt == DataType::BFloat16;
}

// The LayerNormalization among s's readers that the fusion can take, or -1.
ir::NodeId norm_reader(const ir::Graph& g, const Readers& readers, const std::vector<bool>& dead,
                       const NodeFilter& mine, ir::ValueId s) {
  ir::NodeId found = -1;
  for (ir::NodeId r : readers.nodes[static_cast<size_t>(s)]) {
    const ir::Node& n = g.nodes[static_cast<size_t>(r)];
    if (dead[static_cast<size_t>(r)] || !is_onnx(n, "LayerNormalization")) continue;
    if (n.inputs.empty() || n.inputs[0] != s) continue;
    bool reads_s_elsewhere = false;
    for (size_t i = 1; i < n.inputs.size(); ++i) reads_s_elsewhere |= n.inputs[i] == s;
    bool stats = false;
    for (size_t o = 1; o < n.outputs.size(); ++o) stats |= n.outputs[o] != ir::k_no_value;
    if (reads_s_elsewhere || stats || n.attr_i("stash_type", 1) != 1 || (mine && !mine(n))) continue;
    if (found >= 0) return -1;  // two norms of one sum: leave both
    found = r;
  }
  return found;
}

}  // namespace

int fuse_skip_layer_norm(ir::Graph& g, const NodeFilter& mine) {
  const Readers readers(g);
  std::vector<bool> dead(g.nodes.size(), false);
  int fused = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const ir::Node& add = g.nodes[i];
    if (dead[i] || !is_onnx(add, "Add") || add.inputs.size() != 2 || add.outputs.size() != 1) continue;
    if (mine && !mine(add)) continue;
    const ir::Value& a = g.value(add.inputs[0]);
    const ir::Value& b = g.value(add.inputs[1]);
    if (a.dtype != b.dtype || !is_float16_32_or_bf16(a.dtype) || !a.shape || !ir::shape_known(*a.shape) || a.shape != b.shape) continue;
    const ir::ValueId s = add.outputs[0];
    const ir::NodeId ln = norm_reader(g, readers, dead, mine, s);
    if (ln < 0) continue;
    // Every other reader of s runs after the norm's place.
    bool later = true;
    for (ir::NodeId r : readers.nodes[static_cast<size_t>(s)]) later &= r == ln || r > ln;
    if (!later) continue;
    const ir::Node& norm = g.nodes[static_cast<size_t>(ln)];
    ir::Node f;
    f.name = norm.name + "/skip";
    f.domain = "com.kiln";
    f.op_type = "SkipLayerNormalization";
    f.inputs = {add.inputs[0], add.inputs[1]};
    for (size_t k = 1; k < norm.inputs.size(); ++k) f.inputs.push_back(norm.inputs[k]);
    while (f.inputs.size() > 3 && f.inputs.back() == ir::k_no_value) f.inputs.pop_back();
    if (f.inputs.size() < 3 || f.inputs[2] == ir::k_no_value) continue;
    for (const char* attr : {"axis", "epsilon"})
      if (auto it = norm.attrs.find(attr); it != norm.attrs.end()) f.attrs[attr] = it->second;
    keep_placement(norm, f);
    const bool sum_read = readers.nodes[static_cast<size_t>(s)].size() > 1 || readers.is_output[static_cast<size_t>(s)];
    f.outputs = {norm.outputs[0]};
    if (sum_read) f.outputs.push_back(s);
    replace_chain(g, dead, i, {ln}, std::move(f));
    ++fused;
  }
  finish_fusions(g, dead, fused);
  return fused;
}

}  // namespace kiln::passes
