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
#include "backends/cpu/kernels/reduce_kernels.h"
#include "ir/ops/nn_attrs.h"

namespace kiln::backend {

namespace {

// Where the scale/zero point of each element of x lives: elements are visited
// as (o, d, i) over x viewed as [outer, size of axis, inner].
struct QuantLayout {
  enum class Mode { Tensor, Axis, Block } mode = Mode::Tensor;
  int64_t outer = 1, d = 1, inner = 1, block = 0, blocks = 1;
  int64_t index(int64_t o, int64_t k, int64_t i) const {
    switch (mode) {
      case Mode::Tensor: return 0;
      case Mode::Axis: return k;
      case Mode::Block: return (o * blocks + k / block) * inner + i;
    }
    return 0;
  }
};

QuantLayout layout_of(const KernelContext& ctx, const Tensor& x, const Tensor& scale, const Tensor* zp) {
  const ir::Node& node = ctx.node();
  if (zp && zp->numel() != scale.numel())
    ctx.fail("the zero point's shape " + shape_str(zp->shape()) + " differs from the scale's " +
             shape_str(scale.shape()));
  QuantLayout l;
  const int64_t block = node.attr_i("block_size", 0);
  if (block < 0) ctx.fail("block_size must be >= 0");
  if (block == 0 && scale.numel() == 1 && scale.rank() <= 1) {
    l.inner = x.numel();
    return l;
  }
  if (x.rank() == 0) ctx.fail("a per-axis or blocked scale needs x of rank >= 1");
  const auto axis = static_cast<size_t>(reduce::axis_of(ctx, node.attr_i("axis", 1), x.rank()));
  const reduce::AxisSplit sp = reduce::split_at(x.shape(), axis);
  l.outer = sp.outer;
  l.d = sp.n;
  l.inner = sp.inner;
  if (block == 0) {
    if (scale.rank() != 1 || scale.shape()[0] != l.d)
      ctx.fail("a per-axis scale must be 1-D of length " + std::to_string(l.d) + ", got shape " +
               shape_str(scale.shape()));
    l.mode = QuantLayout::Mode::Axis;
    return l;
  }
  Shape want = x.shape();
  want[axis] = (l.d + block - 1) / block;
  if (scale.shape() != want)
    ctx.fail("a blocked scale for x " + shape_str(x.shape()) + " with block_size " + std::to_string(block) +
             " must have shape " + shape_str(want) + ", got " + shape_str(scale.shape()));
  if (zp && zp->shape() != want) ctx.fail("the zero point's shape must be " + shape_str(want));
  l.mode = QuantLayout::Mode::Block;
  l.block = block;
  l.blocks = want[axis];
  return l;
}

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
  const Tensor* zp = ctx.has_input(2) ? &ctx.input(2) : nullptr;
  DataType out = zp ? zp->dtype() : static_cast<DataType>(node.attr_i("output_dtype", 0));
  if (out == DataType::Undefined) out = DataType::UInt8;
  if (ir::opset_before(ctx.opset(), 13) && scale.numel() != 1) ctx.fail("the scale must be a scalar before opset 13");
  const QuantLayout l = layout_of(ctx, x, scale, zp);
  DataType precision = static_cast<DataType>(node.attr_i("precision", 0));
  if (precision == DataType::Undefined) precision = dtype_is_float(scale.dtype()) ? scale.dtype() : DataType::Float64;
  Tensor& y = ctx.output(0, out, x.shape());
  dispatch_quant(ctx, out, [&](auto qtag) {
    dispatch_float(precision, node.label() + ": precision", [&](auto ptag) {
      quantize_typed<decltype(qtag), decltype(ptag)>(x, scale, zp, y, l);
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
  const Tensor* zp = ctx.has_input(2) ? &ctx.input(2) : nullptr;
  if (zp && zp->dtype() != x.dtype()) ctx.fail("the zero point's dtype differs from x's");
  if (ir::opset_before(ctx.opset(), 13) && scale.numel() != 1) ctx.fail("the scale must be a scalar before opset 13");
  const QuantLayout l = layout_of(ctx, x, scale, zp);
  DataType out = static_cast<DataType>(node.attr_i("output_dtype", 0));
  if (out == DataType::Undefined) out = ir::opset_before(ctx.opset(), 19) ? DataType::Float32 : scale.dtype();
  Tensor& y = ctx.output(0, out, x.shape());
  dispatch_quant(ctx, x.dtype(), [&](auto qtag) {
    dispatch_float(out, node.label(), [&](auto otag) {
      dequantize_typed<decltype(qtag), decltype(otag)>(x, scale, zp, y, l);
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
