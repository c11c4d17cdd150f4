// QuantizeLinear and DequantizeLinear on CUDA for the integer types the CPU
// takes (int8/uint8/int16/uint16/int32), per tensor, per axis or blocked, with
// the CPU's arithmetic (backends/cpu/kernels/quant.cpp): QuantizeLinear
// divides in the `precision` attribute's type (else y_scale's, double for an
// int32 scale), rounds half to even, adds the zero point and saturates;
// DequantizeLinear computes (x - zero_point) * scale in float (double for a
// float64 output). The scale's dtype and the precision are runtime switches
// (uniform across a launch), not template parameters, to keep the kernels few.
#include <cmath>

#include "backends/cuda/kernels/elementwise_engine.cuh"

namespace kiln::backend::cuda::ew {

namespace {

enum class Num : int { F32, F64, F16, BF16, I32 };

Num num_of(const KernelContext& ctx, DataType dt) {
  switch (dt) {
    case DataType::Float32: return Num::F32;
    case DataType::Float64: return Num::F64;
    case DataType::Float16: return Num::F16;
    case DataType::BFloat16: return Num::BF16;
    case DataType::Int32: return Num::I32;
    default: unsupported(ctx, dt);
  }
}

__device__ inline double read_num(const void* p, int64_t i, Num k) {
  switch (k) {
    case Num::F32: return static_cast<const float*>(p)[i];
    case Num::F64: return static_cast<const double*>(p)[i];
    case Num::F16: return __half2float(static_cast<const half*>(p)[i]);
    case Num::BF16: return __bfloat162float(static_cast<const bf16*>(p)[i]);
    default: return static_cast<const int32_t*>(p)[i];
  }
}

// x / s rounded to the division's precision p.
__device__ inline double divide(double x, double s, Num p) {
  switch (p) {
    case Num::F64: return x / s;
    case Num::F16: {
      const float q =
          __half2float(__float2half(static_cast<float>(x))) / __half2float(__float2half(static_cast<float>(s)));
      return __half2float(__float2half(q));
    }
    case Num::BF16: {
      const float q = __bfloat162float(__float2bfloat16(static_cast<float>(x))) /
                      __bfloat162float(__float2bfloat16(static_cast<float>(s)));
      return __bfloat162float(__float2bfloat16(q));
    }
    default: return static_cast<double>(static_cast<float>(x) / static_cast<float>(s));
  }
}

// Where the scale/zero point of element e lives, x viewed as [outer, d, inner].
enum class Mode : int { Tensor, Axis, Block };
template <typename I>
struct Layout {
  Mode mode = Mode::Tensor;
  I d = 1, inner = 1, block = 1, blocks = 1;
  __device__ inline I index(I e) const {
    if (mode == Mode::Tensor) return 0;
    const I t = e / inner;
    const I k = t % d;
    if (mode == Mode::Axis) return k;
    const I i = e - t * inner;
    return ((t / d) * blocks + k / block) * inner + i;
  }
};

// The device form of the shared layout (backends/ew_params.h), in index type I.
template <typename I>
Layout<I> layout_as(const params::QuantLayout& q) {
  Layout<I> l;
  switch (q.mode) {
    case params::QuantLayout::Mode::Tensor: return l;
    case params::QuantLayout::Mode::Axis: l.mode = Mode::Axis; break;
    case params::QuantLayout::Mode::Block: l.mode = Mode::Block; break;
  }
  l.d = static_cast<I>(q.d);
  l.inner = static_cast<I>(q.inner);
  l.block = static_cast<I>(q.mode == params::QuantLayout::Mode::Block ? q.block : 1);
  l.blocks = static_cast<I>(q.blocks);
  return l;
}

template <typename I, typename X, typename Q>
__global__ void quantize_kernel(const X* x, const void* scale, Num sk, const Q* zp, Q* y, int64_t n, Layout<I> l,
                                Num precision) {
  constexpr auto lo = static_cast<double>(std::numeric_limits<Q>::lowest());
  constexpr auto hi = static_cast<double>(std::numeric_limits<Q>::max());
  KILN_GRID_STRIDE(e, n) {
    const I p = l.index(static_cast<I>(e));
    double q = ::rint(divide(static_cast<double>(load(x[e])), read_num(scale, p, sk), precision));
    if (zp) q += static_cast<double>(zp[p]);
    y[e] = q != q ? Q(0) : static_cast<Q>(::fmin(::fmax(q, lo), hi));
  }
}

template <typename I, typename X, typename O>
__global__ void dequantize_kernel(const X* x, const void* scale, Num sk, const X* zp, O* y, int64_t n, Layout<I> l) {
  KILN_GRID_STRIDE(e, n) {
    const I p = l.index(static_cast<I>(e));
    const int64_t v = static_cast<int64_t>(x[e]) - (zp ? static_cast<int64_t>(zp[p]) : int64_t{0});
    if constexpr (std::is_same_v<O, double>) {
      y[e] = static_cast<double>(v) * read_num(scale, p, sk);
    } else {
      const float r = static_cast<float>(v) * static_cast<float>(read_num(scale, p, sk));
      y[e] = store<O>(r);
    }
  }
}

void run_quantize(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& scale = ctx.input(1);
  const Tensor* zp = ctx.optional_input(2);
  const params::QuantizeParams qp = params::quantize_params(ctx);
  const DataType out = qp.out, precision = qp.precision;
  const params::QuantLayout& hl = qp.layout;
  if (!dtype_is_float(precision)) unsupported(ctx, precision);
  const Num pk = num_of(ctx, precision), sk = num_of(ctx, scale.dtype());
  if (!in_mask(out, k_quant)) unsupported(ctx, out);
  Tensor& y = ctx.output(0, out, x.shape());
  const int64_t n = x.numel();
  if (n == 0) return;
  const cudaStream_t s = cuda_stream(ctx).get();
  dispatch_in<k_float | bit(DataType::Int32)>(x.dtype(), ctx, [&](auto xtag) {
    using X = decltype(xtag);
    dispatch_in<k_quant>(out, ctx, [&](auto qtag) {
      using Q = decltype(qtag);
      const Q* pz = zp ? zp->data<Q>() : nullptr;
      if (fits_i32(n))
        quantize_kernel<int32_t, X, Q><<<grid_for(n), k_threads, 0, s>>>(x.data<X>(), scale.raw(), sk, pz, y.data<Q>(),
                                                                          n, layout_as<int32_t>(hl), pk);
      else
        quantize_kernel<int64_t, X, Q><<<grid_for(n), k_threads, 0, s>>>(x.data<X>(), scale.raw(), sk, pz, y.data<Q>(),
                                                                          n, layout_as<int64_t>(hl), pk);
      KILN_CUDA_LAUNCH("quantize_kernel");
    });
  });
}

void run_dequantize(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& scale = ctx.input(1);
  const Tensor* zp = ctx.optional_input(2);
  const params::DequantizeParams dp = params::dequantize_params(ctx);
  const DataType out = dp.out;
  const params::QuantLayout& hl = dp.layout;
  if (!dtype_is_float(scale.dtype())) unsupported(ctx, scale.dtype());
  const Num sk = num_of(ctx, scale.dtype());
  Tensor& y = ctx.output(0, out, x.shape());
  const int64_t n = x.numel();
  if (n == 0) return;
  const cudaStream_t s = cuda_stream(ctx).get();
  dispatch_in<k_quant>(x.dtype(), ctx, [&](auto xtag) {
    using X = decltype(xtag);
    dispatch_in<k_float>(out, ctx, [&](auto otag) {
      using O = decltype(otag);
      const X* pz = zp ? zp->data<X>() : nullptr;
      if (fits_i32(n))
        dequantize_kernel<int32_t, X, O><<<grid_for(n), k_threads, 0, s>>>(x.data<X>(), scale.raw(), sk, pz,
                                                                            y.data<O>(), n, layout_as<int32_t>(hl));
      else
        dequantize_kernel<int64_t, X, O><<<grid_for(n), k_threads, 0, s>>>(x.data<X>(), scale.raw(), sk, pz,
                                                                            y.data<O>(), n, layout_as<int64_t>(hl));
      KILN_CUDA_LAUNCH("dequantize_kernel");
    });
  });
}

void check_attr_dtype(const ir::Node& n, const char* key, uint32_t mask) {
  const auto dt = static_cast<DataType>(n.attr_i(key, 0));
  if (dt != DataType::Undefined && !in_mask(dt, mask))
    refuse(n, std::string(key) + " " + std::to_string(static_cast<int>(dt)));
}

void check_quantize(const ir::Node& n, const ir::Graph& g) {
  require_dtype(n, g, 2, k_quant);
  check_attr_dtype(n, "output_dtype", k_quant);
  check_attr_dtype(n, "precision", k_float);
}

void check_dequantize(const ir::Node& n, const ir::Graph& g) {
  require_dtype(n, g, 1, k_float);
  require_dtype(n, g, 2, k_quant);
  check_attr_dtype(n, "output_dtype", k_float);
}

}  // namespace

void register_ew_quant(KernelRegistry& r) {
  add_op(r, "QuantizeLinear", run_quantize, k_float | bit(DataType::Int32), 2, false, check_quantize);
  add_op(r, "DequantizeLinear", run_dequantize, k_quant, 1, false, check_dequantize);
}

}  // namespace kiln::backend::cuda::ew
