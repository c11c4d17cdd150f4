// Activations on CUDA: Relu, LeakyRelu, Sigmoid, HardSigmoid, HardSwish, Elu,
// Selu, Celu, Gelu, Softplus, Softsign, ThresholdedRelu, Mish, Shrink, Clip
// (as backends/cpu/kernels/elementwise_activation.cpp, formula for formula).
#include "backends/cuda/kernels/elementwise_engine.cuh"
#include "core/dispatch.h"

namespace kiln::backend::cuda::ew {

namespace {

template <typename C> __device__ inline C sigmoid(C x) {
  // Split by sign so exp never overflows.
  if (x >= C(0)) return C(1) / (C(1) + dm::exp(-x));
  const C e = dm::exp(x);
  return e / (C(1) + e);
}

template <typename C> __device__ inline C softplus(C x) {
  // log(1 + e^x) without overflow for large x.
  return dm::log1p(dm::exp(-dm::fabs(x))) + (x > C(0) ? x : C(0));
}

struct ReluOp {
  template <typename C> __device__ C operator()(C x) const { return x < C(0) ? C(0) : x; }
};
struct SigmoidOp {
  template <typename C> __device__ C operator()(C x) const { return sigmoid(x); }
};
struct HardSwishOp {
  template <typename C> __device__ C operator()(C x) const {
    return x * std_max(C(0), std_min(C(1), x / C(6) + C(0.5)));
  }
};
struct SoftplusOp {
  template <typename C> __device__ C operator()(C x) const { return softplus(x); }
};
struct SoftsignOp {
  template <typename C> __device__ C operator()(C x) const { return x / (C(1) + dm::fabs(x)); }
};
struct MishOp {
  template <typename C> __device__ C operator()(C x) const { return x * dm::tanh(softplus(x)); }
};
struct GeluErfOp {
  template <typename C> __device__ C operator()(C x) const {
    return C(0.5) * x * (C(1) + dm::erf(x * C(0.70710678118654752440)));
  }
};
struct GeluTanhOp {
  template <typename C> __device__ C operator()(C x) const {
    const C k = C(0.79788456080286535588);  // sqrt(2 / pi)
    return C(0.5) * x * (C(1) + dm::tanh(k * (x + C(0.044715) * x * x * x)));
  }
};
struct LeakyReluOp {
  float alpha;
  template <typename C> __device__ C operator()(C x) const { return x < C(0) ? C(alpha) * x : x; }
};
struct HardSigmoidOp {
  float alpha, beta;
  template <typename C> __device__ C operator()(C x) const {
    return x != x ? x : std_max(C(0), std_min(C(1), C(alpha) * x + C(beta)));  // NaN in, NaN out, as on the CPU
  }
};
struct EluOp {
  float alpha;
  template <typename C> __device__ C operator()(C x) const { return x < C(0) ? C(alpha) * dm::expm1(x) : x; }
};
struct SeluOp {
  float alpha, gamma;
  template <typename C> __device__ C operator()(C x) const {
    return x > C(0) ? C(gamma) * x : C(gamma) * C(alpha) * dm::expm1(x);
  }
};
struct CeluOp {
  float alpha;
  template <typename C> __device__ C operator()(C x) const {
    return x > C(0) ? x : C(alpha) * dm::expm1(x / C(alpha));
  }
};
struct ThresholdedReluOp {
  float alpha;
  template <typename C> __device__ C operator()(C x) const { return x > C(alpha) ? x : C(0); }
};
// Shrink computes in double and truncates for integers, as the CPU.
struct ShrinkOp {
  double lambd, bias;
  template <typename C> __device__ C operator()(C x) const {
    const double v = static_cast<double>(x);
    const double y = v < -lambd ? v + bias : (v > lambd ? v - bias : 0.0);
    if constexpr (std::is_integral_v<C>) return float_to_int<C>(y);
    else return static_cast<C>(y);
  }
};
// min(max(x, lo), hi): NaN passes through; lo > hi gives hi, as ONNX specifies.
template <typename C>
struct ClipOp {
  C lo, hi;
  __device__ C operator()(C v) const {
    const C y = v < lo ? lo : v;
    return hi < y ? hi : y;
  }
};

float attr(const KernelContext& ctx, const char* name, float fallback) { return ctx.node().attr_f(name, fallback); }

void gelu_kernel(KernelContext& ctx) {
  const std::string approx = ctx.node().attr_s("approximate", "none");
  if (approx == "none") unary_op<k_float>(ctx, GeluErfOp{});
  else if (approx == "tanh") unary_op<k_float>(ctx, GeluTanhOp{});
  else ctx.fail("approximate must be 'none' or 'tanh', got '" + approx + "'");
}

void shrink_kernel(KernelContext& ctx) {
  const double lambd = attr(ctx, "lambd", 0.5f), bias = attr(ctx, "bias", 0.f);
  unary_op<k_numeric>(ctx, ShrinkOp{lambd, bias});
}

// Clip: bounds are attributes before opset 11; after, optional scalar inputs
// that arrive on the host (CudaBackend's host_inputs).
void clip_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  dispatch_in<k_numeric>(x.dtype(), ctx, [&](auto tag) {
    using T = decltype(tag);
    using C = Acc<T>;
    const auto [lo, hi] = params::clip_bounds<C>(ctx, [&](const Tensor& b) {
      if (!b.on_host())
        throw Error(ErrorCode::Internal, ctx.node().label() + ": Clip's bounds must arrive on the host");
      // Integers read exactly (int64 bounds beyond 2^53); floats through double, exact too.
      if constexpr (std::is_integral_v<C>) return static_cast<C>(read_int(b, 0));
      else return static_cast<C>(read_double(b, 0));
    });
    Tensor& y = ctx.output(0, x.dtype(), x.shape());
    launch_unary(ctx, x.data<T>(), y.data<T>(), x.numel(), MapFn<T, T, ClipOp<C>>{ClipOp<C>{lo, hi}});
  });
}

void check_gelu(const ir::Node& n, const ir::Graph&) {
  const std::string approx = n.attr_s("approximate", "none");
  if (approx != "none" && approx != "tanh") refuse(n, "approximate='" + approx + "'");
}

}  // namespace

void register_ew_activation(KernelRegistry& r) {
  add_op(r, "Relu", unary_fn<k_signed, ReluOp>, k_signed);
  add_op(r, "LeakyRelu", [](KernelContext& c) { unary_op<k_float>(c, LeakyReluOp{attr(c, "alpha", 0.01f)}); },
         k_float);
  add_op(r, "Sigmoid", unary_fn<k_float, SigmoidOp>, k_float);
  add_op(
      r, "HardSigmoid",
      [](KernelContext& c) { unary_op<k_float>(c, HardSigmoidOp{attr(c, "alpha", 0.2f), attr(c, "beta", 0.5f)}); },
      k_float);
  add_op(r, "HardSwish", unary_fn<k_float, HardSwishOp>, k_float);
  add_op(r, "Elu", [](KernelContext& c) { unary_op<k_float>(c, EluOp{attr(c, "alpha", 1.f)}); }, k_float);
  add_op(
      r, "Selu",
      [](KernelContext& c) {
        unary_op<k_float>(c, SeluOp{attr(c, "alpha", 1.67326319217681884765625f),
                                    attr(c, "gamma", 1.05070102214813232421875f)});
      },
      k_float);
  add_op(
      r, "Celu",
      [](KernelContext& c) {
        const float alpha = attr(c, "alpha", 1.f);
        if (alpha == 0.f) c.fail("alpha must be nonzero");
        unary_op<k_float>(c, CeluOp{alpha});
      },
      k_float);
  add_op(r, "Gelu", gelu_kernel, k_float, 1, false, check_gelu);
  add_op(r, "Softplus", unary_fn<k_float, SoftplusOp>, k_float);
  add_op(r, "Softsign", unary_fn<k_float, SoftsignOp>, k_float);
  add_op(r, "ThresholdedRelu",
         [](KernelContext& c) { unary_op<k_float>(c, ThresholdedReluOp{attr(c, "alpha", 1.f)}); }, k_float);
  add_op(r, "Mish", unary_fn<k_float, MishOp>, k_float);
  add_op(r, "Shrink", shrink_kernel, k_numeric);
  add_op(r, "Clip", clip_kernel, k_numeric, 3);
}

}  // namespace kiln::backend::cuda::ew
