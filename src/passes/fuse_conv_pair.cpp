// FusedConv(X, W, B, Z) whose Z is a 1x1 Conv of another input (no Z, no
// activation, read by nothing else) becomes one com.kiln::FusedConvPair
// (Y = act(Conv(X, W, B) + Conv(X2, W2, B2)); see src/ir/ops/fused.cpp):
// a ResNet block's last 1x1 convolution and its projection shortcut. Apart,
// the shortcut's output is written and read back once (ResNet-50's first
// block at batch 256: 411 MB each way); as one GEMM over both inputs'
// channels it never reaches memory. Both convolutions 1x1, ungrouped,
// unpadded and undilated, the form kiln's mma_pair kernel takes; the fused
// node is made only where `runs` accepts it, and takes the FusedConv's place.
#include "passes/fusion_util.h"
#include "passes/passes.h"

namespace kiln::passes {

namespace {

// A 2-D 1x1 convolution with nothing but strides: known [M,C,1,1] weights,
// group 1, no pads, unit dilations, no auto_pad.
bool plain_1x1(const ir::Graph& g, const ir::Node& n) {
  if (!n.has_input(0) || !n.has_input(1) || n.outputs.size() != 1) return false;
  const auto& ws = g.value(n.inputs[1]).shape;
  if (!ws || ws->size() != 4 || !ir::shape_known(*ws) || (*ws)[2].value != 1 || (*ws)[3].value != 1) return false;
  return n.attr_i("group", 1) == 1 && ints_all(n, "pads", 0) && ints_all(n, "dilations", 1) &&
         n.attr_s("auto_pad", "NOTSET") == "NOTSET";
}

}  // namespace

int fuse_conv_pair(ir::Graph& g, const NodeFilter& mine, const NodeFilter& runs) {
  const Readers readers(g);
  const std::vector<ir::NodeId> producer = g.producers();
  std::vector<bool> dead(g.nodes.size(), false);
  int fused = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const ir::Node& main = g.nodes[i];
    if (dead[i] || main.domain != "com.kiln" || main.op_type != "FusedConv" || !main.has_input(3) ||
        (mine && !mine(main)) || !plain_1x1(g, main))
      continue;
    const ir::ValueId z = main.inputs[3];
    const ir::NodeId p = producer[static_cast<size_t>(z)];
    if (p < 0 || static_cast<size_t>(p) >= i || dead[static_cast<size_t>(p)] ||
        readers.sole(z) != static_cast<ir::NodeId>(i))
      continue;
    const ir::Node& zc = g.nodes[static_cast<size_t>(p)];
    const bool plain = is_onnx(zc, "Conv");
    const bool kiln = zc.domain == "com.kiln" && zc.op_type == "FusedConv" && !zc.has_input(3) &&
                      ir::read_activation(zc).kind == ir::Activation::None;
    if (!(plain || kiln) || (mine && !mine(zc)) || !plain_1x1(g, zc) || zc.inputs.size() > 3) continue;
    ir::Node f = main;
    f.op_type = "FusedConvPair";
    f.inputs = {main.inputs[0], main.inputs[1], main.has_input(2) ? main.inputs[2] : ir::k_no_value,
                zc.inputs[0], zc.inputs[1], zc.has_input(2) ? zc.inputs[2] : ir::k_no_value};
    while (f.inputs.back() == ir::k_no_value) f.inputs.pop_back();
    for (const char* a : {"strides", "pads", "dilations", "group", "auto_pad", "kernel_shape"})
      if (const ir::Attribute* v = zc.attr(a)) f.attrs[std::string("z_") + a] = *v;
    if (runs && !runs(f)) continue;
    replace_chain(g, dead, static_cast<size_t>(p), {static_cast<ir::NodeId>(i)}, std::move(f));
    ++fused;
  }
  finish_fusions(g, dead, fused);
  return fused;
}

}  // namespace kiln::passes
