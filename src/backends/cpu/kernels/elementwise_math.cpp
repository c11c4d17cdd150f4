// Unary math kernels: Exp, Log, Sqrt, Reciprocal, Floor, Ceil, Round, Tanh,
// trigonometric and hyperbolic functions, Erf, Neg, Abs, Sign, IsNaN, IsInf.
#include <cmath>
#include <string>

#include "backends/cpu/kernels/elementwise_util.h"

namespace kiln::backend::ew {

namespace {

// f runs on float for f32/f16/bf16 and on double for f64.
template <typename F>
void float_unary(KernelContext& ctx, F f) {
  dispatch_float(ctx.input(0).dtype(), ctx.node().label(),
                 [&](auto tag) { unary_map<decltype(tag)>(ctx, f); });
}

template <typename F>
void numeric_unary(KernelContext& ctx, F f) {
  dispatch_numeric(ctx.input(0).dtype(), ctx.node().label(),
                   [&](auto tag) { unary_map<decltype(tag)>(ctx, f); });
}

template <typename F>
void float_predicate(KernelContext& ctx, F f) {
  dispatch_float(ctx.input(0).dtype(), ctx.node().label(),
                 [&](auto tag) { unary_map<decltype(tag), bool>(ctx, f); });
}

void neg_kernel(KernelContext& ctx) {
  numeric_unary(ctx, [](auto x) {
    using C = decltype(x);
    if constexpr (std::is_integral_v<C>) return sub_wrap(C(0), x);
    else return -x;
  });
}

void abs_kernel(KernelContext& ctx) {
  numeric_unary(ctx, [](auto x) {
    using C = decltype(x);
    if constexpr (std::is_unsigned_v<C>) return x;
    else if constexpr (std::is_integral_v<C>) return x < 0 ? sub_wrap(C(0), x) : x;
    else return std::fabs(x);
  });
}

void sign_kernel(KernelContext& ctx) {
  numeric_unary(ctx, [](auto x) {
    using C = decltype(x);
    if constexpr (std::is_unsigned_v<C>) return C(x > 0);
    else return x > 0 ? C(1) : (x < 0 ? C(-1) : C(x == 0 ? 0 : x));  // NaN stays NaN
  });
}

// Erf accepts every numeric type; integers go through double and truncate.
void erf_kernel(KernelContext& ctx) {
  numeric_unary(ctx, [](auto x) {
    using C = decltype(x);
    if constexpr (std::is_integral_v<C>) return static_cast<C>(std::erf(static_cast<double>(x)));
    else return std::erf(x);
  });
}

void isinf_kernel(KernelContext& ctx) {
  const bool neg = ctx.node().attr_i("detect_negative", 1) != 0;
  const bool pos = ctx.node().attr_i("detect_positive", 1) != 0;
  float_predicate(ctx, [neg, pos](auto x) { return std::isinf(x) && (x > 0 ? pos : neg); });
}

}  // namespace

void register_ew_math(KernelRegistry& r) {
  r.add_fn("Exp", [](KernelContext& c) { float_unary(c, [](auto x) { return std::exp(x); }); });
  r.add_fn("Log", [](KernelContext& c) { float_unary(c, [](auto x) { return std::log(x); }); });
  r.add_fn("Sqrt", [](KernelContext& c) { float_unary(c, [](auto x) { return std::sqrt(x); }); });
  r.add_fn("Reciprocal", [](KernelContext& c) {
    float_unary(c, [](auto x) { return decltype(x)(1) / x; });
  });
  r.add_fn("Floor", [](KernelContext& c) { float_unary(c, [](auto x) { return std::floor(x); }); });
  r.add_fn("Ceil", [](KernelContext& c) { float_unary(c, [](auto x) { return std::ceil(x); }); });
  // nearbyint in the default rounding mode rounds halves to even, as ONNX asks.
  r.add_fn("Round", [](KernelContext& c) { float_unary(c, [](auto x) { return std::nearbyint(x); }); });
  r.add_fn("Tanh", [](KernelContext& c) { float_unary(c, [](auto x) { return std::tanh(x); }); });
  r.add_fn("Sin", [](KernelContext& c) { float_unary(c, [](auto x) { return std::sin(x); }); });
  r.add_fn("Cos", [](KernelContext& c) { float_unary(c, [](auto x) { return std::cos(x); }); });
  r.add_fn("Tan", [](KernelContext& c) { float_unary(c, [](auto x) { return std::tan(x); }); });
  r.add_fn("Asin", [](KernelContext& c) { float_unary(c, [](auto x) { return std::asin(x); }); });
  r.add_fn("Acos", [](KernelContext& c) { float_unary(c, [](auto x) { return std::acos(x); }); });
  r.add_fn("Atan", [](KernelContext& c) { float_unary(c, [](auto x) { return std::atan(x); }); });
  r.add_fn("Sinh", [](KernelContext& c) { float_unary(c, [](auto x) { return std::sinh(x); }); });
  r.add_fn("Cosh", [](KernelContext& c) { float_unary(c, [](auto x) { return std::cosh(x); }); });
  r.add_fn("Asinh", [](KernelContext& c) { float_unary(c, [](auto x) { return std::asinh(x); }); });
  r.add_fn("Acosh", [](KernelContext& c) { float_unary(c, [](auto x) { return std::acosh(x); }); });
  r.add_fn("Atanh", [](KernelContext& c) { float_unary(c, [](auto x) { return std::atanh(x); }); });
  r.add_fn("Erf", erf_kernel);
  r.add_fn("Neg", neg_kernel);
  r.add_fn("Abs", abs_kernel);
  r.add_fn("Sign", sign_kernel);
  r.add_fn("IsNaN", [](KernelContext& c) { float_predicate(c, [](auto x) { return std::isnan(x); }); });
  r.add_fn("IsInf", isinf_kernel);
}

}  // namespace kiln::backend::ew
