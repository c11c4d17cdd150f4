#include "backends/cpu/dnnl/post_ops.h"

namespace kiln::backend::onednn {

bool append_activation(dnnl::post_ops& po, const ir::FusedActivation& a) {
  using alg = dnnl::algorithm;
  switch (a.kind) {
    case ir::Activation::None: return true;
    case ir::Activation::Relu: po.append_eltwise(1.f, alg::eltwise_relu, 0.f, 0.f); return true;
    case ir::Activation::LeakyRelu: po.append_eltwise(1.f, alg::eltwise_relu, a.alpha, 0.f); return true;
    case ir::Activation::Clip:
      // ONNX gives `max` when min > max; keep that corner on the reference kernel.
      if (!(a.alpha <= a.beta)) return false;
      po.append_eltwise(1.f, alg::eltwise_clip, a.alpha, a.beta);
      return true;
    case ir::Activation::HardSwish: po.append_eltwise(1.f, alg::eltwise_hardswish, 0.f, 0.f); return true;
    case ir::Activation::HardSigmoid:
      po.append_eltwise(1.f, alg::eltwise_linear, a.alpha, a.beta);
      po.append_eltwise(1.f, alg::eltwise_clip, 0.f, 1.f);
      return true;
    case ir::Activation::Sigmoid: po.append_eltwise(1.f, alg::eltwise_logistic, 0.f, 0.f); return true;
    case ir::Activation::Tanh: po.append_eltwise(1.f, alg::eltwise_tanh, 0.f, 0.f); return true;
    case ir::Activation::Elu: po.append_eltwise(1.f, alg::eltwise_elu, a.alpha, 0.f); return true;
    case ir::Activation::Gelu:
      po.append_eltwise(1.f, a.alpha != 0.f ? alg::eltwise_gelu_tanh : alg::eltwise_gelu_erf, 0.f, 0.f);
      return true;
  }
  return false;
}

}  // namespace kiln::backend::onednn
