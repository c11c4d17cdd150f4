// BatchNormalization (inference form) folded into the Conv that feeds it:
//   BN(conv(X, W) + B) = conv(X, W * s) + (B - mean) * s + bias,  s = scale / sqrt(var + eps)
// per output channel, computed in double. Only when the Conv output has no
// other reader and every parameter is a float32 constant; the folded weights
// are new values (W may be shared with another Conv).
#include <cmath>

#include "passes/fusion_util.h"
#include "passes/passes.h"

namespace kiln::passes {

namespace {

const Tensor* channel_const(const ir::Graph& g, const ir::Node& n, size_t i, int64_t m) {
  if (!n.has_input(i)) return nullptr;
  const auto& c = g.value(n.inputs[i]).constant;
  if (!c || c->dtype() != DataType::Float32 || c->rank() != 1 || c->shape()[0] != m) return nullptr;
  return &*c;
}

bool fold_one(ir::Graph& g, ir::Node& conv, const ir::Node& bn) {
  const auto& wc = g.value(conv.inputs[1]).constant;
  if (!wc || wc->dtype() != DataType::Float32 || wc->rank() < 3) return false;
  const int64_t m = wc->shape()[0];
  const Tensor* bias_in = conv.has_input(2) ? channel_const(g, conv, 2, m) : nullptr;
  if (conv.has_input(2) && !bias_in) return false;
  const Tensor* scale = channel_const(g, bn, 1, m);
  const Tensor* shift = channel_const(g, bn, 2, m);
  const Tensor* mean = channel_const(g, bn, 3, m);
  const Tensor* var = channel_const(g, bn, 4, m);
  if (!scale || !shift || !mean || !var) return false;
  const double eps = bn.attr_f("epsilon", 1e-5f);

  Tensor w = Tensor::empty(DataType::Float32, wc->shape());
  Tensor b = Tensor::empty(DataType::Float32, {m});
  const int64_t per = wc->numel() / m;
  for (int64_t o = 0; o < m; ++o) {
    const double s = static_cast<double>(scale->data<float>()[o]) /
                     std::sqrt(static_cast<double>(var->data<float>()[o]) + eps);
    for (int64_t j = 0; j < per; ++j)
      w.data<float>()[o * per + j] = static_cast<float>(wc->data<float>()[o * per + j] * s);
    const double b0 = bias_in ? bias_in->data<float>()[o] : 0.0;
    b.data<float>()[o] = static_cast<float>((b0 - mean->data<float>()[o]) * s + shift->data<float>()[o]);
  }
  const ir::ValueId w_id = add_constant(g, conv.name + "/bn_folded_W", std::move(w));
  const ir::ValueId b_id = add_constant(g, conv.name + "/bn_folded_B", std::move(b));
  conv.inputs.resize(3, ir::k_no_value);
  conv.inputs[1] = w_id;
  conv.inputs[2] = b_id;
  conv.outputs[0] = bn.outputs[0];
  return true;
}

}  // namespace

int fold_batch_norm(ir::Graph& g) {
  const Readers readers(g);
  const std::vector<ir::NodeId> producer = g.producers();
  std::vector<bool> dead(g.nodes.size(), false);
  int folded = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const ir::Node& bn = g.nodes[i];
    if (bn.op_type != "BatchNormalization" || !(bn.domain.empty() || bn.domain == "ai.onnx")) continue;
    if (bn.attr_i("training_mode", 0) != 0 || bn.inputs.size() != 5 || !bn.has_input(0)) continue;
    bool extra_outputs = false;
    for (size_t k = 1; k < bn.outputs.size(); ++k) extra_outputs |= bn.outputs[k] != ir::k_no_value;
    if (extra_outputs) continue;
    const ir::ValueId x = bn.inputs[0];
    const ir::NodeId p = producer[static_cast<size_t>(x)];
    if (p < 0 || dead[static_cast<size_t>(p)] || readers.sole(x) != static_cast<ir::NodeId>(i)) continue;
    ir::Node& conv = g.nodes[static_cast<size_t>(p)];
    if (conv.op_type != "Conv" || !(conv.domain.empty() || conv.domain == "ai.onnx") || conv.outputs.size() != 1) continue;
    if (g.value(x).dtype != DataType::Float32) continue;
    if (fold_one(g, conv, bn)) {
      dead[i] = true;
      ++folded;
    }
  }
  if (folded) {
    erase_nodes(g, dead);
    g.prune();
  }
  return folded;
}

}  // namespace kiln::passes
