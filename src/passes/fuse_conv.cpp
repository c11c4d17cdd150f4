// Conv [→ Add(Z)] [→ activation] becomes one com.kiln::FusedConv
// (Y = act(Conv(X, W, B) + Z); see src/ir/ops/fused.cpp), which oneDNN runs as
// one convolution with "sum" and eltwise post-ops. Each absorbed intermediate
// must have no other reader; Z must have exactly the conv output's static
// shape (no broadcasting) and dtype. The fused node takes the place of the
// last absorbed node, where all its inputs are already computed.
#include "passes/fusion_util.h"
#include "passes/passes.h"

namespace kiln::passes {

int fuse_conv(ir::Graph& g, const NodeFilter& can_run) {
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

    const ir::NodeId r = readers.sole(cur);
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
        }
      }
    }
    const ir::FusedActivation act = absorb_activation(g, readers, dead, opset, cur, absorbed);
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
    if (can_run && !can_run(f)) continue;
    replace_chain(g, dead, i, absorbed, std::move(f));
    ++fused;
  }
  finish_fusions(g, dead, fused);
  return fused;
}

namespace {

// A FusedConv without Z, 2-D, no auto_pad, unit dilations, and a constant
// weight of static shape.
const ir::Value* plain_fused_conv_weight(const ir::Graph& g, const ir::Node& n) {
  if (n.domain != "com.kiln" || n.op_type != "FusedConv" || n.inputs.size() > 3 || n.outputs.size() != 1) return nullptr;
  if (n.attr_s("auto_pad", "NOTSET") != "NOTSET" || !ints_all(n, "dilations", 1)) return nullptr;
  const ir::Value& w = g.value(n.inputs[1]);
  if (!w.constant || !w.shape || w.shape->size() != 4 || !ir::shape_known(*w.shape)) return nullptr;
  return &w;
}

}  // namespace

// Only an expanded tensor this big is worth not writing: smaller ones stay in
// cache between the two convolutions anyway, and the fused oneDNN kernel's
// reorders cost more than they save. Measured on mobilenet_v2 (2 threads):
// batch 8, 38 MB, 5.5 -> 3.4 ms; 14.5 MB, 2.3 -> 2.0 ms; 4.8 MB and less,
// even or slower; batch 1 slower overall (4.2 -> 4.8 ms).
constexpr size_t k_min_expanded_bytes = size_t{8} << 20;

// FusedConv(1x1, unit stride, no pads, group 1) whose only reader is a
// FusedConv(depthwise 3x3, pads 1, stride 1 or 2) → FusedConvDw, whose oneDNN
// kernel never writes the expanded tensor to memory.
int fuse_conv_dw(ir::Graph& g, const NodeFilter& mine) {
  const Readers readers(g);
  std::vector<bool> dead(g.nodes.size(), false);
  int fused = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const ir::Node& pw = g.nodes[i];
    const ir::Value* w = dead[i] || (mine && !mine(pw)) ? nullptr : plain_fused_conv_weight(g, pw);
    if (!w) continue;
    const Shape ws = ir::to_shape(*w->shape);
    if (ws[2] != 1 || ws[3] != 1 || pw.attr_i("group", 1) != 1 || !ints_all(pw, "strides", 1) || !ints_all(pw, "pads", 0))
      continue;
    const ir::ValueId mid = pw.outputs[0];
    if (!is_static_f32(g, mid) || g.value(mid).shape->size() != 4) continue;
    if (static_cast<size_t>(shape_numel(ir::to_shape(*g.value(mid).shape))) * sizeof(float) < k_min_expanded_bytes)
      continue;
    const ir::NodeId r = readers.sole(mid);
    if (r < 0 || dead[static_cast<size_t>(r)]) continue;
    const ir::Node& dw = g.nodes[static_cast<size_t>(r)];
    const ir::Value* wd = plain_fused_conv_weight(g, dw);
    if (!wd || dw.inputs[0] != mid || (mine && !mine(dw))) continue;
    const Shape wds = ir::to_shape(*wd->shape);
    const std::vector<int64_t> strides = dw.attr_ints("strides");
    const bool stride_ok = strides.size() == 2 && strides[0] == strides[1] && (strides[0] == 1 || strides[0] == 2);
    const std::vector<int64_t> pads = dw.attr_ints("pads");
    if (wds != Shape{ws[0], 1, 3, 3} || dw.attr_i("group", 1) != ws[0] || !stride_ok || pads.size() != 4 ||
        !ints_all(dw, "pads", 1) || !is_static_f32(g, dw.outputs[0]))
      continue;
    ir::Node f = pw;
    f.op_type = "FusedConvDw";
    f.attrs.clear();
    keep_placement(pw, f);
    ir::write_activation(f, ir::read_activation(pw));
    ir::write_activation(f, ir::read_activation(dw), "dw_");
    f.attrs["dw_strides"] = ints_attr(strides);
    f.inputs = {pw.inputs[0], pw.inputs[1], pw.has_input(2) ? pw.inputs[2] : ir::k_no_value, dw.inputs[1],
                dw.has_input(2) ? dw.inputs[2] : ir::k_no_value};
    f.outputs = dw.outputs;
    replace_chain(g, dead, i, {r}, std::move(f));
    ++fused;
  }
  finish_fusions(g, dead, fused);
  return fused;
}

}  // namespace kiln::passes
