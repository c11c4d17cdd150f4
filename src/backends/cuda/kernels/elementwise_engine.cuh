// The engine of the CUDA elementwise family (elementwise*.cu): dtype sets and
// mask dispatch, the device arithmetic that must match the CPU bit for bit
// (wrapping integers, float -> int conversion), and one launcher per arity:
// unary over contiguous tensors, binary over the numpy broadcast of two
// operands (flat and scalar fast paths, a strided walk otherwise), and the
// strided walk itself, which Where and the variadic folds reuse.
// Op functors are plain structs with __device__ operator() (no extended
// lambdas: the build does not pass --extended-lambda).
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "backends/cuda/kernels/common.cuh"
#include "backends/ew_params.h"
#include "ir/ops/elementwise_attrs.h"

namespace kiln::backend::cuda::ew {

// ---- dtype sets, as bit masks over DataType values (the schemas' own:
// ir/ops/elementwise_attrs.h) ----
using ir::ew::bit;
using ir::ew::k_all;
using ir::ew::k_bool;
using ir::ew::k_float;
using ir::ew::k_int;
using ir::ew::k_numeric;
using ir::ew::k_signed;
using ir::ew::k_sint;
using ir::ew::k_uint;
// The integer types QuantizeLinear/DequantizeLinear take (as the CPU).
constexpr uint32_t k_quant = bit(DataType::Int8) | bit(DataType::UInt8) | bit(DataType::Int16) |
                             bit(DataType::UInt16) | bit(DataType::Int32);

inline bool in_mask(DataType dt, uint32_t mask) {
  const auto v = static_cast<uint32_t>(dt);
  return v < 32 && (mask & (1u << v)) != 0;
}

// The DataType of a device element type.
template <typename T>
constexpr DataType dtype_of() {
  if constexpr (std::is_same_v<T, float>) return DataType::Float32;
  else if constexpr (std::is_same_v<T, double>) return DataType::Float64;
  else if constexpr (std::is_same_v<T, half>) return DataType::Float16;
  else if constexpr (std::is_same_v<T, bf16>) return DataType::BFloat16;
  else if constexpr (std::is_same_v<T, bool>) return DataType::Bool;
  else if constexpr (std::is_same_v<T, int8_t>) return DataType::Int8;
  else if constexpr (std::is_same_v<T, int16_t>) return DataType::Int16;
  else if constexpr (std::is_same_v<T, int32_t>) return DataType::Int32;
  else if constexpr (std::is_same_v<T, int64_t>) return DataType::Int64;
  else if constexpr (std::is_same_v<T, uint8_t>) return DataType::UInt8;
  else if constexpr (std::is_same_v<T, uint16_t>) return DataType::UInt16;
  else if constexpr (std::is_same_v<T, uint32_t>) return DataType::UInt32;
  else if constexpr (std::is_same_v<T, uint64_t>) return DataType::UInt64;
  else return DataType::Undefined;
}

// f(T{}) for the device type of `dt`, instantiated only for the types in Mask
// (so an op is compiled for the dtypes its schema allows, no more).
template <uint32_t Mask, typename F>
void dispatch_in(DataType dt, const KernelContext& ctx, F&& f) {
  dispatch_all(dt, ctx, [&](auto tag) {
    using T = decltype(tag);
    if constexpr ((Mask & bit(dtype_of<T>())) != 0) f(tag);
    else unsupported(ctx, dt);
  });
}

template <typename T>
constexpr bool k_is_int = std::is_integral_v<T> && !std::is_same_v<T, bool>;

// ---- device arithmetic shared with the CPU's semantics (elementwise_util.h) ----
// Integer +, -, * wrap like two's-complement hardware (signed overflow is UB,
// and narrow types would promote to int and overflow there).
template <typename C>
using WrapOf = std::conditional_t<(sizeof(C) < 4), uint32_t, std::make_unsigned_t<C>>;
template <typename C> __host__ __device__ inline C add_wrap(C a, C b) {
  if constexpr (std::is_integral_v<C>) return static_cast<C>(WrapOf<C>(a) + WrapOf<C>(b));
  else return a + b;
}
template <typename C> __host__ __device__ inline C sub_wrap(C a, C b) {
  if constexpr (std::is_integral_v<C>) return static_cast<C>(WrapOf<C>(a) - WrapOf<C>(b));
  else return a - b;
}
template <typename C> __host__ __device__ inline C mul_wrap(C a, C b) {
  if constexpr (std::is_integral_v<C>) return static_cast<C>(WrapOf<C>(a) * WrapOf<C>(b));
  else return a * b;
}

// Float -> integer as numpy on x86: truncate toward zero; NaN and values
// outside int64 become INT64_MIN, then wrap to T.
template <typename T> __host__ __device__ inline T float_to_int(double v) {
  if constexpr (std::is_same_v<T, uint64_t>)
    if (v >= 9223372036854775808.0 && v < 18446744073709551616.0) return static_cast<uint64_t>(v);
  int64_t i = std::numeric_limits<int64_t>::min();
  if (v > -9223372036854775808.0 && v < 9223372036854775808.0) i = static_cast<int64_t>(v);
  return static_cast<T>(i);
}

// std::min/std::max as the CPU reference spells them (NaN handling included:
// a NaN second argument loses, a NaN first argument wins).
template <typename C> __device__ inline C std_min(C a, C b) { return b < a ? b : a; }
template <typename C> __device__ inline C std_max(C a, C b) { return a < b ? b : a; }
template <typename C> __device__ inline bool is_nan(C x) {
  if constexpr (std::is_floating_point_v<C>) return x != x;
  else return false;
}

// Device math overloads for float and double (16-bit floats compute in
// float), spelled out so nothing depends on nvcc's C++ overloads of libm.
namespace dm {
#define KILN_EW_DM(name, f32, f64)                                   \
  __device__ inline float name(float x) { return ::f32(x); }        \
  __device__ inline double name(double x) { return ::f64(x); }
KILN_EW_DM(exp, expf, exp)
KILN_EW_DM(expm1, expm1f, expm1)
KILN_EW_DM(log, logf, log)
KILN_EW_DM(log1p, log1pf, log1p)
KILN_EW_DM(sqrt, sqrtf, sqrt)
KILN_EW_DM(floor, floorf, floor)
KILN_EW_DM(ceil, ceilf, ceil)
KILN_EW_DM(rint, rintf, rint)  // half to even, as nearbyint in the default mode
KILN_EW_DM(fabs, fabsf, fabs)
KILN_EW_DM(tanh, tanhf, tanh)
KILN_EW_DM(sin, sinf, sin)
KILN_EW_DM(cos, cosf, cos)
KILN_EW_DM(tan, tanf, tan)
KILN_EW_DM(asin, asinf, asin)
KILN_EW_DM(acos, acosf, acos)
KILN_EW_DM(atan, atanf, atan)
KILN_EW_DM(sinh, sinhf, sinh)
KILN_EW_DM(cosh, coshf, cosh)
KILN_EW_DM(asinh, asinhf, asinh)
KILN_EW_DM(acosh, acoshf, acosh)
KILN_EW_DM(atanh, atanhf, atanh)
KILN_EW_DM(erf, erff, erf)
#undef KILN_EW_DM
__device__ inline float pow(float x, float y) { return ::powf(x, y); }
__device__ inline double pow(double x, double y) { return ::pow(x, y); }
__device__ inline float fmod(float x, float y) { return ::fmodf(x, y); }
__device__ inline double fmod(double x, double y) { return ::fmod(x, y); }
}  // namespace dm

// y = Op(x) on compute values (16-bit floats in float), stored as O.
template <typename T, typename O, typename Op>
struct MapFn {
  Op op;
  __device__ O operator()(T x) const { return store<O>(op(load(x))); }
};

// ---- kernels ----
template <typename I, typename O, typename F>
__global__ void unary_kernel(const I* in, O* out, int64_t n, F f) {
  KILN_GRID_STRIDE(i, n) out[i] = f(in[i]);
}

template <typename T>
__global__ void fill_kernel(T* out, int64_t n, T v) {
  KILN_GRID_STRIDE(i, n) out[i] = v;
}

// Flat binary: both operands have the output's element order; a scalar
// operand is read at 0.
template <bool AScalar, bool BScalar, typename A, typename B, typename O, typename F>
__global__ void binary_flat_kernel(const A* a, const B* b, O* o, int64_t n, F f) {
  KILN_GRID_STRIDE(i, n) o[i] = f(a[AScalar ? 0 : i], b[BScalar ? 0 : i]);
}

// A broadcast walk (from broadcast_strides) in index type I: int32 whenever
// the output has fewer than 2^31 elements, because every operand offset is
// then below 2^31 too (broadcast operands are never larger than the output)
// and 64-bit division would dominate these memory-bound kernels. Dims are
// stored innermost first so the unrolled loop indexes the arrays with
// constants (a dynamic index would copy the parameter to local memory).
template <int N, typename I>
struct Walk {
  int rank = 0;
  I dims[k_max_dims] = {};
  I strides[N][k_max_dims] = {};

  __device__ inline void offsets(I i, I (&off)[N]) const {
#pragma unroll
    for (int k = 0; k < N; ++k) off[k] = 0;
#pragma unroll
    for (int j = 0; j < k_max_dims; ++j) {
      if (j == rank) break;
      const I q = i / dims[j];
      const I c = i - q * dims[j];
      i = q;
#pragma unroll
      for (int k = 0; k < N; ++k) off[k] += c * strides[k][j];
    }
  }
};

// broadcast_strides() leaves base offsets at 0, so they are not carried.
template <int N, typename I>
Walk<N, I> walk_of(const Strided<N>& s) {
  Walk<N, I> w;
  w.rank = s.rank;
  for (int j = 0; j < s.rank; ++j) {
    const int d = s.rank - 1 - j;
    w.dims[j] = static_cast<I>(s.dims[d]);
    for (int k = 0; k < N; ++k) w.strides[k][j] = static_cast<I>(s.strides[k][d]);
  }
  return w;
}

inline bool fits_i32(int64_t n) { return n <= int64_t{std::numeric_limits<int32_t>::max()}; }

template <typename I, typename A, typename B, typename O, typename F>
__global__ void binary_strided_kernel(const A* a, const B* b, O* o, int64_t n, Walk<2, I> w, F f) {
  KILN_GRID_STRIDE(i, n) {
    I off[2];
    w.offsets(static_cast<I>(i), off);
    o[i] = f(a[off[0]], b[off[1]]);
  }
}

// ---- vectorized flat kernels: V elements per thread, loaded and stored as
// one 16-byte (or narrower) access; the last n % V elements go to the scalar
// kernels. A thread reads all its elements before it writes, so in-place
// outputs stay correct. ----
template <typename T, int V>
struct alignas(sizeof(T) * V) Pack {
  T v[V];
};

// Elements per thread: 16 bytes of the wider element type.
template <typename... T>
constexpr int vec_width() {
  constexpr size_t w = std::max({sizeof(T)...});
  return w <= 8 ? static_cast<int>(16 / w) : 1;
}

template <int V, typename T>
bool vec_aligned(const T* p) {
  return reinterpret_cast<uintptr_t>(p) % (sizeof(T) * V) == 0;
}

template <int V, typename I, typename O, typename F>
__global__ void unary_vec_kernel(const I* in, O* out, int64_t groups, F f) {
  KILN_GRID_STRIDE(g, groups) {
    const Pack<I, V> a = reinterpret_cast<const Pack<I, V>*>(in)[g];
    Pack<O, V> r;
#pragma unroll
    for (int k = 0; k < V; ++k) r.v[k] = f(a.v[k]);
    reinterpret_cast<Pack<O, V>*>(out)[g] = r;
  }
}

template <int V, bool AScalar, bool BScalar, typename A, typename B, typename O, typename F>
__global__ void binary_vec_kernel(const A* a, const B* b, O* o, int64_t groups, F f) {
  KILN_GRID_STRIDE(g, groups) {
    Pack<A, V> x;
    Pack<B, V> y;
    if constexpr (AScalar) {
#pragma unroll
      for (int k = 0; k < V; ++k) x.v[k] = a[0];
    } else {
      x = reinterpret_cast<const Pack<A, V>*>(a)[g];
    }
    if constexpr (BScalar) {
#pragma unroll
      for (int k = 0; k < V; ++k) y.v[k] = b[0];
    } else {
      y = reinterpret_cast<const Pack<B, V>*>(b)[g];
    }
    Pack<O, V> r;
#pragma unroll
    for (int k = 0; k < V; ++k) r.v[k] = f(x.v[k], y.v[k]);
    reinterpret_cast<Pack<O, V>*>(o)[g] = r;
  }
}

// ---- launchers (empty outputs launch nothing) ----
template <typename I, typename O, typename F>
void launch_unary(const KernelContext& ctx, const I* in, O* out, int64_t n, const F& f) {
  if (n <= 0) return;
  const cudaStream_t s = cuda_stream(ctx).get();
  constexpr int V = vec_width<I, O>();
  int64_t done = 0;
  if constexpr (V > 1) {
    if (n >= V && vec_aligned<V>(in) && vec_aligned<V>(out)) {
      const int64_t groups = n / V;
      unary_vec_kernel<V, I, O, F><<<grid_for(groups), k_threads, 0, s>>>(in, out, groups, f);
      KILN_CUDA_LAUNCH("unary_vec_kernel");
      done = groups * V;
    }
  }
  if (done == n) return;
  unary_kernel<I, O, F><<<grid_for(n - done), k_threads, 0, s>>>(in + done, out + done, n - done, f);
  KILN_CUDA_LAUNCH("unary_kernel");
}

// The flat binary cases (operands of the output's order, or scalars),
// vectorized where the pointers allow.
template <bool AScalar, bool BScalar, typename A, typename B, typename O, typename F>
void launch_binary_flat(cudaStream_t s, const A* a, const B* b, O* o, int64_t n, const F& f) {
  constexpr int V = vec_width<A, B, O>();
  int64_t done = 0;
  if constexpr (V > 1) {
    if (n >= V && (AScalar || vec_aligned<V>(a)) && (BScalar || vec_aligned<V>(b)) && vec_aligned<V>(o)) {
      const int64_t groups = n / V;
      binary_vec_kernel<V, AScalar, BScalar, A, B, O, F><<<grid_for(groups), k_threads, 0, s>>>(a, b, o, groups, f);
      done = groups * V;
    }
  }
  if (done == n) return;
  binary_flat_kernel<AScalar, BScalar, A, B, O, F><<<grid_for(n - done), k_threads, 0, s>>>(
      AScalar ? a : a + done, BScalar ? b : b + done, o + done, n - done, f);
}

template <typename T>
void launch_fill(const KernelContext& ctx, T* out, int64_t n, T v) {
  if (n <= 0) return;
  fill_kernel<T><<<grid_for(n), k_threads, 0, cuda_stream(ctx).get()>>>(out, n, v);
  KILN_CUDA_LAUNCH("fill_kernel");
}

// o = f(a, b) (storage values in, O out) over the broadcast of sa and sb onto
// so, which the caller computed (broadcast_shape). o may be a (same shape as
// so, contiguous): every element is read and written by one thread.
template <typename A, typename B, typename O, typename F>
void launch_binary(const KernelContext& ctx, const A* a, const Shape& sa, const B* b, const Shape& sb, O* o,
                   const Shape& so, const F& f) {
  const int64_t n = shape_numel(so);
  if (n == 0) return;
  const int64_t na = shape_numel(sa), nb = shape_numel(sb);
  const cudaStream_t s = cuda_stream(ctx).get();
  const unsigned g = grid_for(n);
  if (na == n && nb == n) {
    launch_binary_flat<false, false>(s, a, b, o, n, f);
  } else if (na == n && nb == 1) {
    launch_binary_flat<false, true>(s, a, b, o, n, f);
  } else if (na == 1 && nb == n) {
    launch_binary_flat<true, false>(s, a, b, o, n, f);
  } else {
    const Strided<2> st = broadcast_strides<2>(so, {&sa, &sb}, ctx);
    if (fits_i32(n))
      binary_strided_kernel<int32_t, A, B, O, F><<<g, k_threads, 0, s>>>(a, b, o, n, walk_of<2, int32_t>(st), f);
    else
      binary_strided_kernel<int64_t, A, B, O, F><<<g, k_threads, 0, s>>>(a, b, o, n, walk_of<2, int64_t>(st), f);
  }
  KILN_CUDA_LAUNCH("binary_kernel");
}

// ---- host-side checks, shared with the CPU kernels (backends/ew_params.h) ----
using params::binary_shapes;
using params::broadcast_shape;
using params::legacy_rhs_shape;
using params::require_same_dtype;

// ---- op runners ----
// Output 0 = Op(input 0) on compute values, with input 0's dtype (bool when
// Pred), for the dtypes in Mask.
template <uint32_t Mask, bool Pred = false, typename Op>
void unary_op(KernelContext& ctx, const Op& op) {
  const Tensor& x = ctx.input(0);
  dispatch_in<Mask>(x.dtype(), ctx, [&](auto tag) {
    using T = decltype(tag);
    using O = std::conditional_t<Pred, bool, T>;
    Tensor& y = ctx.output(0, Pred ? DataType::Bool : x.dtype(), x.shape());
    launch_unary(ctx, x.data<T>(), y.data<O>(), x.numel(), MapFn<T, O, Op>{op});
  });
}
// A KernelFn for a unary op without attributes.
template <uint32_t Mask, typename Op, bool Pred = false>
void unary_fn(KernelContext& ctx) {
  unary_op<Mask, Pred>(ctx, Op{});
}

// Output 0 = f(a, b) over the broadcast of inputs 0 and 1, which share one
// dtype in Mask; the output has that dtype, or bool when Pred. make(T{})
// returns the functor (storage values in) for element type T.
// The shape a channels-last 4-D output's operand is walked in: aligned to
// rank 4, then N,C,H,W -> N,H,W,C. An NHWC operand of the output's shape
// and a broadcast operand with H = W = 1 (a per-channel gate or scale, whose
// bytes are the same in either layout) are both read right that way; the
// layout pass (passes/assign_cuda_layouts.cpp) admits no other operand.
inline Shape nhwc_walk_shape(const Shape& s) {
  Shape r(4, 1);
  for (size_t i = 0; i < s.size() && i < 4; ++i) r[4 - s.size() + i] = s[i];
  return {r[0], r[2], r[3], r[1]};
}

template <uint32_t Mask, bool Pred = false, typename Make>
void binary_same(KernelContext& ctx, Make&& make) {
  require_same_dtype(ctx, {0, 1});
  Shape sb, so;
  binary_shapes(ctx, &sb, &so);
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  const bool nhwc = so.size() == 4 && ctx.node().attr_i("kiln_out_layout", 0) == 1;
  dispatch_in<Mask>(a.dtype(), ctx, [&](auto tag) {
    using T = decltype(tag);
    using O = std::conditional_t<Pred, bool, T>;
    Tensor& out = ctx.output(0, Pred ? DataType::Bool : a.dtype(), so);
    if (nhwc)
      launch_binary(ctx, a.data<T>(), nhwc_walk_shape(a.shape()), b.data<T>(), nhwc_walk_shape(sb), out.data<O>(),
                    nhwc_walk_shape(so), make(tag));
    else
      launch_binary(ctx, a.data<T>(), a.shape(), b.data<T>(), sb, out.data<O>(), so, make(tag));
  });
}

// ---- registration (elementwise.cu) ----
// Extra factory checks beyond input dtypes (attributes, output dtypes).
using Check = std::function<void(const ir::Node&, const ir::Graph&)>;
// Registers `op` on "cuda" as a stateless kernel running `fn`. The factory
// refuses (Unsupported) a known dtype outside `dtypes` on any of the first
// `checked` inputs (-1: all), a known rank above k_max_dims when the op
// broadcasts, and whatever `extra` throws.
void add_op(KernelRegistry& r, const char* op, KernelFn fn, uint32_t dtypes, int checked = 1, bool broadcast = false,
            Check extra = {});
// Unsupported naming the node unless input i's dtype is unknown or in `mask`.
void require_dtype(const ir::Node& n, const ir::Graph& g, size_t i, uint32_t mask);
[[noreturn]] void refuse(const ir::Node& n, const std::string& why);

// Sub-families, one file each.
void register_ew_math(KernelRegistry& r);        // elementwise_math.cu
void register_ew_activation(KernelRegistry& r);  // elementwise_activation.cu
void register_ew_arith(KernelRegistry& r);       // elementwise_arith.cu
void register_ew_logic(KernelRegistry& r);       // elementwise_logic.cu
void register_ew_variadic(KernelRegistry& r);    // elementwise_variadic.cu
void register_ew_cast(KernelRegistry& r);        // elementwise_cast.cu
void register_ew_quant(KernelRegistry& r);       // elementwise_quant.cu

}  // namespace kiln::backend::cuda::ew
