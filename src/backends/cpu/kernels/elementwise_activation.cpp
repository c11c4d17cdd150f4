// Activation kernels: Relu, LeakyRelu, Sigmoid, HardSigmoid, HardSwish, Elu,
// Selu, Celu, Gelu, Softplus, Softsign, ThresholdedRelu, Mish, Shrink, Clip.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "backends/cpu/kernels/elementwise_util.h"

namespace kiln::backend::ew {

namespace {

template <typename F>
void float_unary(KernelContext& ctx, F f) {
  dispatch_float(ctx.input(0).dtype(), ctx.node().label(),
                 [&](auto tag) { unary_map<decltype(tag)>(ctx, f); });
}

float attr(const KernelContext& ctx, const char* name, float fallback) {
  return ctx.node().attr_f(name, fallback);
}

template <typename C> inline C sigmoid(C x) {
  // Split by sign so exp never overflows.
  if (x >= 0) return C(1) / (C(1) + std::exp(-x));
  const C e = std::exp(x);
  return e / (C(1) + e);
}

template <typename C> inline C softplus(C x) {
  // log(1 + e^x) without overflow for large x.
  return std::log1p(std::exp(-std::fabs(x))) + (x > 0 ? x : C(0));
}

void relu_kernel(KernelContext& ctx) {
  dispatch_numeric(ctx.input(0).dtype(), ctx.node().label(), [&](auto tag) {
    using T = decltype(tag);
    unary_map<T>(ctx, [](auto x) {
      if constexpr (std::is_unsigned_v<decltype(x)>) return x;
      else return x < 0 ? decltype(x)(0) : x;
    });
  });
}

void gelu_kernel(KernelContext& ctx) {
  const std::string approx = ctx.node().attr_s("approximate", "none");
  if (approx == "none") {
    float_unary(ctx, [](auto x) {
      using C = decltype(x);
      return C(0.5) * x * (C(1) + std::erf(x * C(0.70710678118654752440)));
    });
  } else if (approx == "tanh") {
    float_unary(ctx, [](auto x) {
      using C = decltype(x);
      const C k = C(0.79788456080286535588);  // sqrt(2 / pi)
      return C(0.5) * x * (C(1) + std::tanh(k * (x + C(0.044715) * x * x * x)));
    });
  } else {
    ctx.fail("approximate must be 'none' or 'tanh', got '" + approx + "'");
  }
}

void shrink_kernel(KernelContext& ctx) {
  const double lambd = attr(ctx, "lambd", 0.5f), bias = attr(ctx, "bias", 0.f);
  dispatch_numeric(ctx.input(0).dtype(), ctx.node().label(), [&](auto tag) {
    using T = decltype(tag);
    unary_map<T>(ctx, [lambd, bias](auto x) {
      using C = decltype(x);
      const double v = static_cast<double>(x);
      const double y = v < -lambd ? v + bias : (v > lambd ? v - bias : 0.0);
      if constexpr (std::is_integral_v<C>) return float_to_int<C>(y);
      else return static_cast<C>(y);
    });
  });
}

// Clip: bounds are attributes before opset 11, optional scalar inputs after.
void clip_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  dispatch_numeric(x.dtype(), ctx.node().label(), [&](auto tag) {
    using T = decltype(tag);
    using C = Compute<T>;
    const auto [lo, hi] = params::clip_bounds<C>(ctx, [](const Tensor& b) { return load(b.data<T>()[0]); });
    // min(max(x, lo), hi): NaN passes through; lo > hi gives hi, as ONNX specifies.
    unary_map<T>(ctx, [lo, hi](C v) {
      const C y = v < lo ? lo : v;
      return hi < y ? hi : y;
    });
  });
}

}  // namespace

void register_ew_activation(KernelRegistry& r) {
  r.add_fn("Relu", relu_kernel);
  r.add_fn("LeakyRelu", [](KernelContext& c) {
    const float alpha = attr(c, "alpha", 0.01f);
    float_unary(c, [alpha](auto x) { return x < 0 ? decltype(x)(alpha) * x : x; });
  });
  r.add_fn("Sigmoid", [](KernelContext& c) { float_unary(c, [](auto x) { return sigmoid(x); }); });
  r.add_fn("HardSigmoid", [](KernelContext& c) {
    const float alpha = attr(c, "alpha", 0.2f), beta = attr(c, "beta", 0.5f);
    float_unary(c, [alpha, beta](auto x) {
      using C = decltype(x);
      // NaN in, NaN out (std::min/max would pick a bound).
      return x != x ? x : std::max(C(0), std::min(C(1), C(alpha) * x + C(beta)));
    });
  });
  r.add_fn("HardSwish", [](KernelContext& c) {
    float_unary(c, [](auto x) {
      using C = decltype(x);
      return x * std::max(C(0), std::min(C(1), x / C(6) + C(0.5)));
    });
  });
  r.add_fn("Elu", [](KernelContext& c) {
    const float alpha = attr(c, "alpha", 1.f);
    float_unary(c, [alpha](auto x) { return x < 0 ? decltype(x)(alpha) * std::expm1(x) : x; });
  });
  r.add_fn("Selu", [](KernelContext& c) {
    const float alpha = attr(c, "alpha", 1.67326319217681884765625f);
    const float gamma = attr(c, "gamma", 1.05070102214813232421875f);
    float_unary(c, [alpha, gamma](auto x) {
      using C = decltype(x);
      return x > 0 ? C(gamma) * x : C(gamma) * C(alpha) * std::expm1(x);
    });
  });
  r.add_fn("Celu", [](KernelContext& c) {
    const float alpha = attr(c, "alpha", 1.f);
    if (alpha == 0.f) c.fail("alpha must be nonzero");
    float_unary(c, [alpha](auto x) {
      using C = decltype(x);
      return x > 0 ? x : C(alpha) * std::expm1(x / C(alpha));
    });
  });
  r.add_fn("Gelu", gelu_kernel);
  r.add_fn("Softplus", [](KernelContext& c) { float_unary(c, [](auto x) { return softplus(x); }); });
  r.add_fn("Softsign", [](KernelContext& c) {
    float_unary(c, [](auto x) { return x / (decltype(x)(1) + std::fabs(x)); });
  });
  r.add_fn("ThresholdedRelu", [](KernelContext& c) {
    const float alpha = attr(c, "alpha", 1.f);
    float_unary(c, [alpha](auto x) { return x > decltype(x)(alpha) ? x : decltype(x)(0); });
  });
  r.add_fn("Mish", [](KernelContext& c) {
    float_unary(c, [](auto x) { return x * std::tanh(softplus(x)); });
  });
  r.add_fn("Shrink", shrink_kernel);
  r.add_fn("Clip", clip_kernel);
}

}  // namespace kiln::backend::ew
