// The activation a com.kiln fused op applies last (see fused.cpp for the ops):
// attributes `activation` (the ONNX op name, "" for none), `activation_alpha`
// and `activation_beta`. Shared by the schemas, the fusion passes that write
// these attributes and the CPU kernels that read them.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "ir/graph.h"

namespace kiln::ir {

enum class Activation { None, Relu, LeakyRelu, Clip, HardSwish, HardSigmoid, Sigmoid, Tanh, Elu, Gelu };

struct FusedActivation {
  Activation kind = Activation::None;
  // LeakyRelu/Elu: alpha. HardSigmoid: alpha*x + beta. Clip: [alpha, beta].
  // Gelu: alpha 0 the erf form (approximate "none"), 1 the tanh form.
  float alpha = 0.f, beta = 0.f;
};

// ONNX op name → kind; false for ops that cannot be fused as an activation.
bool activation_from_name(const std::string& op, Activation* out);
std::string activation_name(Activation a);

// Reads the attributes (`prefix` before each name: FusedConvDw's second
// stage uses "dw_"); kiln::Error(InvalidModel) naming the node for an unknown
// activation name.
FusedActivation read_activation(const Node& node, const std::string& prefix = "");
// Writes them (the inverse of read_activation).
void write_activation(Node& node, const FusedActivation& a, const std::string& prefix = "");

// The two FusedConv nodes a FusedConvDw stands for: the 1x1 stage (X, W, B
// and its activation) and the depthwise stage (the 1x1 stage's output, Wdw,
// Bdw; group = the channel count, pads 1, dw_strides, dw_activation). Both
// name the fused node's output value as theirs; kernels give each its own
// buffer. kiln::Error(Unsupported) when Wdw's shape is not known.
std::pair<Node, Node> conv_dw_stages(const Node& fused, const Graph& graph);

// The FusedConv (X, W, B and the activation) and MaxPool (pool_* as its
// kernel_shape, strides, pads) a FusedConvPool stands for; both name the
// fused node's output value as theirs (the pool reads it: kernels give the
// convolution's output a buffer of its own).
std::pair<Node, Node> conv_pool_stages(const Node& fused);

// The two convolutions a FusedConvPair stands for: the Z stage (X2, W2, B2
// and the z_* attributes as Conv's, no activation) and the main stage
// (FusedConv of X, W, B with Z = the Z stage's output, and the activation).
// Both name the fused node's output value as theirs (the main stage adds
// into it in place); the pass attributes kiln_in_layouts, kiln_out_layout
// and kiln_w_layout are split between them.
std::pair<Node, Node> conv_pair_stages(const Node& fused);

// The activation in the arithmetic of the reference kernels (elementwise_activation.cpp).
template <typename C>
inline C apply_activation(const FusedActivation& a, C x) {
  switch (a.kind) {
    case Activation::None: return x;
    case Activation::Relu: return x < C(0) ? C(0) : x;
    case Activation::LeakyRelu: return x < C(0) ? C(a.alpha) * x : x;
    case Activation::Clip: {
      const C y = x < C(a.alpha) ? C(a.alpha) : x;
      return C(a.beta) < y ? C(a.beta) : y;
    }
    case Activation::HardSwish: return x * std::max(C(0), std::min(C(1), x / C(6) + C(0.5)));
    case Activation::HardSigmoid: return x != x ? x : std::max(C(0), std::min(C(1), C(a.alpha) * x + C(a.beta)));
    case Activation::Sigmoid: {
      if (x >= C(0)) return C(1) / (C(1) + std::exp(-x));
      const C e = std::exp(x);
      return e / (C(1) + e);
    }
    case Activation::Tanh: return std::tanh(x);
    case Activation::Elu: return x < C(0) ? C(a.alpha) * std::expm1(x) : x;
    case Activation::Gelu:
      if (a.alpha != 0.f)
        return C(0.5) * x * (C(1) + std::tanh(C(0.7978845608028654) * (x + C(0.044715) * x * x * x)));
      return C(0.5) * x * (C(1) + std::erf(x * C(0.7071067811865476)));
  }
  return x;
}

}  // namespace kiln::ir
