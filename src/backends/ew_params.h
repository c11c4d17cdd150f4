// Host-side parameters of the elementwise family that the CPU kernels
// (backends/cpu/kernels/elementwise*.cpp, quant.cpp) and the CUDA kernels
// (backends/cuda/kernels/elementwise*.cu) compute the same way: dtype and
// broadcast checks, output shapes, and where QuantizeLinear/DequantizeLinear
// find each element's scale. See kernel_params.h for the convention.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <utility>
#include <vector>

#include "backends/kernel.h"

namespace kiln::backend::params {

// ctx.fail unless the present inputs among `inputs` share one dtype.
void require_same_dtype(const KernelContext& ctx, std::initializer_list<size_t> inputs);
// Numpy multidirectional broadcast of concrete shapes; ctx.fail on mismatch.
Shape broadcast_shape(const KernelContext& ctx, const std::vector<const Shape*>& shapes);
// Opset < 7 binary ops broadcast B onto A only with broadcast=1, aligned at
// `axis`; returns B's shape rewritten so numpy broadcasting gives that result
// (ctx.fail when broadcast=0 and the shapes differ).
Shape legacy_rhs_shape(const KernelContext& ctx, const Shape& a, const Shape& b);
// The shapes of a two-input op: B's (legacy-adjusted below opset 7) and the output's.
void binary_shapes(const KernelContext& ctx, Shape* sb, Shape* so);
// Sum/Mean/Max/Min: at least one input, one dtype; the broadcast of all.
Shape variadic_shape(const KernelContext& ctx);

// Clip (opset 11+): bound input i (1: min, 2: max) when present, checked to
// be a scalar of x's dtype; null when omitted.
const Tensor* clip_bound(const KernelContext& ctx, size_t i);
// Clip's [lo, hi] in compute type C: the min/max attributes before opset 11,
// else the bound inputs, each read by read(tensor) -> C; unbounded (infinite,
// or the type's range) where not given.
template <typename C, typename Read>
std::pair<C, C> clip_bounds(const KernelContext& ctx, Read&& read) {
  using L = std::numeric_limits<C>;
  C lo = L::has_infinity ? -L::infinity() : L::lowest();
  C hi = L::has_infinity ? L::infinity() : L::max();
  if (ctx.opset() < 11) {
    if (ctx.node().attr("min")) lo = static_cast<C>(ctx.node().attr_f("min", 0.f));
    if (ctx.node().attr("max")) hi = static_cast<C>(ctx.node().attr_f("max", 0.f));
  } else {
    for (size_t i = 1; i <= 2; ++i)
      if (const Tensor* b = clip_bound(ctx, i)) (i == 1 ? lo : hi) = read(*b);
  }
  return {lo, hi};
}

// QuantizeLinear/DequantizeLinear: where the scale (and zero point) of each
// element of x lives, x viewed as [outer, d, inner] around the axis.
struct QuantLayout {
  enum class Mode { Tensor, Axis, Block } mode = Mode::Tensor;
  int64_t outer = 1, d = 1, inner = 1, block = 0, blocks = 1;
  // The scale index of element (o, k, i).
  int64_t index(int64_t o, int64_t k, int64_t i) const {
    switch (mode) {
      case Mode::Tensor: return 0;
      case Mode::Axis: return k;
      case Mode::Block: return (o * blocks + k / block) * inner + i;
    }
    return 0;
  }
};
// Checks the scale (input 1) and zero point (input 2, optional) against x
// (input 0): a scalar scale before opset 13; per tensor, per axis or blocked.
QuantLayout quant_layout(const KernelContext& ctx);

struct QuantizeParams {
  DataType out = DataType::UInt8;           // the zero point's dtype, else output_dtype, else uint8
  DataType precision = DataType::Float64;   // the division's: precision, else the scale's float dtype
  QuantLayout layout;
};
QuantizeParams quantize_params(const KernelContext& ctx);

struct DequantizeParams {
  DataType out = DataType::Float32;  // output_dtype, else float32 before opset 19, else the scale's
  QuantLayout layout;
};
DequantizeParams dequantize_params(const KernelContext& ctx);

}  // namespace kiln::backend::params
