// QuantizeLinear and DequantizeLinear for the integer quantized types kiln
// holds (int8/uint8/int16/uint16/int32), per tensor, per axis or blocked.
// QuantizeLinear divides in the precision the spec names (the `precision`
// attribute, else y_scale's type), rounds half to even, adds the zero point and
// saturates. DequantizeLinear computes (x - zero_point) * scale in float (double
// for a float64 output) and rounds to the output type.
#include <cmath>
#include <limits>
#include <type_traits>

#include "backends/cpu/kernels/families.h"
#include "backends/cpu/kernels/quant_kernels.h"
#include "backends/ew_params.h"
#include "core/dispatch.h"

namespace kiln::backend {

namespace {

using params::QuantLayout;

// x / s rounded to the division's precision P.
template <typename P>
double divide(double x, double s) {
  if constexpr (std::is_same_v<P, double>) {
    return x / s;
  } else if constexpr (std::is_same_v<P, float>) {
    return static_cast<double>(static_cast<float>(x) / static_cast<float>(s));
  } else {
    const float q = static_cast<float>(P(static_cast<float>(x))) / static_cast<float>(P(static_cast<float>(s)));
    return static_cast<double>(static_cast<float>(P(q)));
  }
}

template <typename Q, typename P>
void quantize_typed(const Tensor& x, const Tensor& scale, const Tensor* zp, Tensor& y, const QuantLayout& l) {
  constexpr auto lo = static_cast<double>(std::numeric_limits<Q>::lowest());
  constexpr auto hi = static_cast<double>(std::numeric_limits<Q>::max());
  Q* out = y.data<Q>();
  int64_t e = 0;
  for (int64_t o = 0; o < l.outer; ++o)
    for (int64_t k = 0; k < l.d; ++k)
      for (int64_t i = 0; i < l.inner; ++i, ++e) {
        const int64_t p = l.index(o, k, i);
        double q = std::nearbyint(divide<P>(read_double(x, e), read_double(scale, p)));
        if (zp) q += static_cast<double>(read_int(*zp, p));
        out[e] = std::isnan(q) ? Q(0) : static_cast<Q>(std::fmin(std::fmax(q, lo), hi));
      }
}

template <typename F>
decltype(auto) dispatch_quant(const KernelContext& ctx, DataType dt, F&& f) {
  switch (dt) {
    case DataType::Int8: return f(int8_t{});
    case DataType::UInt8: return f(uint8_t{});
    case DataType::Int16: return f(int16_t{});
    case DataType::UInt16: return f(uint16_t{});
    case DataType::Int32: return f(int32_t{});
    default: unsupported_dtype(dt, ctx.node().label() + ": quantized type");
  }
}

void run_quantize(KernelContext& ctx) {
  const ir::Node& node = ctx.node();
  const Tensor& x = ctx.input(0);
  const Tensor& scale = ctx.input(1);
  const Tensor* zp = ctx.optional_input(2);
  const params::QuantizeParams p = params::quantize_params(ctx);
  Tensor& y = ctx.output(0, p.out, x.shape());
  dispatch_quant(ctx, p.out, [&](auto qtag) {
    dispatch_float(p.precision, node.label() + ": precision", [&](auto ptag) {
      quantize_typed<decltype(qtag), decltype(ptag)>(x, scale, zp, y, p.layout);
    });
  });
}

template <typename Q, typename O>
void dequantize_typed(const Tensor& x, const Tensor& scale, const Tensor* zp, Tensor& y, const QuantLayout& l) {
  const Q* in = x.data<Q>();
  O* out = y.data<O>();
  int64_t e = 0;
  for (int64_t o = 0; o < l.outer; ++o)
    for (int64_t k = 0; k < l.d; ++k)
      for (int64_t i = 0; i < l.inner; ++i, ++e) {
        const int64_t p = l.index(o, k, i);
        const int64_t v = static_cast<int64_t>(in[e]) - (zp ? read_int(*zp, p) : 0);
        if constexpr (std::is_same_v<O, double>) {
          out[e] = static_cast<double>(v) * read_double(scale, p);
        } else {
          const float r = static_cast<float>(v) * static_cast<float>(read_double(scale, p));
          out[e] = O(r);
        }
      }
}

void run_dequantize(KernelContext& ctx) {
  const ir::Node& node = ctx.node();
  const Tensor& x = ctx.input(0);
  const Tensor& scale = ctx.input(1);
  const Tensor* zp = ctx.optional_input(2);
  const params::DequantizeParams p = params::dequantize_params(ctx);
  Tensor& y = ctx.output(0, p.out, x.shape());
  dispatch_quant(ctx, x.dtype(), [&](auto qtag) {
    dispatch_float(p.out, node.label(), [&](auto otag) {
      dequantize_typed<decltype(qtag), decltype(otag)>(x, scale, zp, y, p.layout);
    });
  });
}

}  // namespace

void register_cpu_quant(KernelRegistry& r) {
  r.add_fn("QuantizeLinear", run_quantize);
  r.add_fn("DequantizeLinear", run_dequantize);
  register_cpu_quant_dynamic(r);
}

}  // namespace kiln::backend
