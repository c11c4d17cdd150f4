// What every CUDA kernel file shares: device element types and dtype
// dispatch, launch geometry, and the strided index walker that broadcasting,
// transposes, slices and gathers run on. Include from .cu files only.
//
// Conventions for kernels (see families.h):
//   - A factory (node, graph) -> Kernel checks what it can take from the
//     graph's dtypes/ranks/attributes and throws kiln::Error(Unsupported)
//     otherwise; it never touches the GPU. run() does the work.
//   - Inputs arrive on the device, except those CudaBackend::host_input lists
//     (shape-like operands), which arrive as host tensors.
//   - Outputs come from ctx.output(...) (device memory of the plan). Scratch
//     comes from cuda_stream(ctx).workspace(bytes) (one block per call: take
//     it once per run and split it).
//   - Everything is submitted to cuda_stream(ctx).get(); a kernel never
//     synchronizes unless it must read a result on the host (NonZero's count),
//     and then only its own stream.
//   - Every launch is followed by KILN_CUDA_LAUNCH(name).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/cuda_stream.h"
#include "backends/kernel.h"
#include "kiln/error.h"

namespace kiln::backend::cuda {

constexpr int k_max_dims = 8;
constexpr int k_threads = 256;

// Blocks for n elements with a grid-stride loop: one thread per element up to
// a cap (the loop covers the rest).
inline unsigned grid_for(int64_t n, int threads = k_threads) {
  const int64_t blocks = (n + threads - 1) / threads;
  return static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>(blocks, int64_t{1} << 20)));
}

#define KILN_GRID_STRIDE(i, n) \
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < (n); i += static_cast<int64_t>(blockDim.x) * gridDim.x)

// The stream's workspace is pool memory, 256-byte aligned: a block laid out
// in it takes whole 256-byte blocks, so what follows stays aligned.
inline size_t scratch_bytes(size_t bytes) { return (bytes + 255) / 256 * 256; }

// ---- element types ----
using half = __half;
using bf16 = __nv_bfloat16;

// The arithmetic type of an element: 16-bit floats compute in float.
template <typename T> struct AccOf { using type = T; };
template <> struct AccOf<half> { using type = float; };
template <> struct AccOf<bf16> { using type = float; };
template <typename T> using Acc = typename AccOf<T>::type;

template <typename T>
__host__ __device__ inline Acc<T> load(T v) {
  if constexpr (std::is_same_v<T, half>) return __half2float(v);
  else if constexpr (std::is_same_v<T, bf16>) return __bfloat162float(v);
  else return v;
}
template <typename T, typename A>
__host__ __device__ inline T store(A v) {
  if constexpr (std::is_same_v<T, half>) return __float2half(static_cast<float>(v));
  else if constexpr (std::is_same_v<T, bf16>) return __float2bfloat16(static_cast<float>(v));
  else return static_cast<T>(v);
}

template <typename T>
constexpr bool k_is_float = std::is_floating_point_v<Acc<T>>;

[[noreturn]] inline void unsupported(const KernelContext& ctx, DataType dt) {
  throw Error(ErrorCode::Unsupported, ctx.node().label() + ": dtype " + std::string(dtype_name(dt)) +
                                          " is not supported on cuda");
}

// Calls f(T{}) with the device type of `dt`.
template <typename F>
void dispatch_float(DataType dt, const KernelContext& ctx, F&& f) {
  switch (dt) {
    case DataType::Float32: f(float{}); return;
    case DataType::Float64: f(double{}); return;
    case DataType::Float16: f(half{}); return;
    case DataType::BFloat16: f(bf16{}); return;
    default: unsupported(ctx, dt);
  }
}
template <typename F>
void dispatch_numeric(DataType dt, const KernelContext& ctx, F&& f) {
  switch (dt) {
    case DataType::Int8: f(int8_t{}); return;
    case DataType::Int16: f(int16_t{}); return;
    case DataType::Int32: f(int32_t{}); return;
    case DataType::Int64: f(int64_t{}); return;
    case DataType::UInt8: f(uint8_t{}); return;
    case DataType::UInt16: f(uint16_t{}); return;
    case DataType::UInt32: f(uint32_t{}); return;
    case DataType::UInt64: f(uint64_t{}); return;
    default: dispatch_float(dt, ctx, std::forward<F>(f));
  }
}
template <typename F>
void dispatch_all(DataType dt, const KernelContext& ctx, F&& f) {
  if (dt == DataType::Bool) { f(bool{}); return; }
  dispatch_numeric(dt, ctx, std::forward<F>(f));
}
// Data movement only cares about the element size.
template <typename F>
void dispatch_bytes(size_t bytes, const KernelContext& ctx, F&& f) {
  switch (bytes) {
    case 1: f(uint8_t{}); return;
    case 2: f(uint16_t{}); return;
    case 4: f(uint32_t{}); return;
    case 8: f(uint64_t{}); return;
    default:
      throw Error(ErrorCode::Unsupported, ctx.node().label() + ": " + std::to_string(bytes) + "-byte elements on cuda");
  }
}

// Whether the graph gives value `v` one of `dts` (true when unknown).
inline bool dtype_in(const ir::Graph& g, ir::ValueId v, std::initializer_list<DataType> dts) {
  if (v == ir::k_no_value) return true;
  const DataType dt = g.value(v).dtype;
  if (dt == DataType::Undefined) return true;
  for (DataType d : dts)
    if (d == dt) return true;
  return false;
}
inline bool is_float_dtype(DataType dt) {
  return dt == DataType::Float32 || dt == DataType::Float64 || dt == DataType::Float16 || dt == DataType::BFloat16;
}
// Throws Unsupported naming the node when a known rank exceeds k_max_dims.
inline void require_rank(const ir::Node& n, const ir::Graph& g, ir::ValueId v) {
  if (v == ir::k_no_value) return;
  const auto& s = g.value(v).shape;
  if (s && s->size() > static_cast<size_t>(k_max_dims))
    throw Error(ErrorCode::Unsupported, n.label() + ": rank " + std::to_string(s->size()) + " > " +
                                            std::to_string(k_max_dims) + " on cuda");
}

// ---- strided indexing ----
// An output of `rank` dims (row-major) and N operands, each with an element
// stride per output dim (0 where it broadcasts, negative to walk backwards)
// and a base offset. Passed to kernels by value.
template <int N>
struct Strided {
  int rank = 0;
  int64_t dims[k_max_dims] = {};
  int64_t strides[N][k_max_dims] = {};
  int64_t base[N] = {};

  // Element offsets of every operand for output element `i`.
  __host__ __device__ inline void offsets(int64_t i, int64_t (&off)[N]) const {
    for (int k = 0; k < N; ++k) off[k] = base[k];
    for (int d = rank - 1; d >= 0; --d) {
      const int64_t c = i % dims[d];
      i /= dims[d];
      for (int k = 0; k < N; ++k) off[k] += c * strides[k][d];
    }
  }
};

// Row-major strides of a shape, in elements.
inline std::vector<int64_t> contiguous_strides(const Shape& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (int64_t d = static_cast<int64_t>(s.size()) - 2; d >= 0; --d)
    st[static_cast<size_t>(d)] = st[static_cast<size_t>(d) + 1] * s[static_cast<size_t>(d) + 1];
  return st;
}

// Numpy broadcasting of N contiguous operands onto `out`; dims of size 1 are
// dropped and dims contiguous in every operand merged, so most calls end with
// rank 1 or 2. Throws Unsupported past k_max_dims.
template <int N>
Strided<N> broadcast_strides(const Shape& out, const std::array<const Shape*, N>& ins, const KernelContext& ctx) {
  const size_t r = out.size();
  std::vector<int64_t> dims;
  std::vector<std::array<int64_t, N>> st;
  for (size_t d = 0; d < r; ++d) {
    if (out[d] == 1) continue;
    std::array<int64_t, N> s{};
    for (int k = 0; k < N; ++k) {
      const Shape& in = *ins[static_cast<size_t>(k)];
      const int64_t off = static_cast<int64_t>(r) - static_cast<int64_t>(in.size());
      const int64_t id = static_cast<int64_t>(d) - off;
      if (id < 0 || in[static_cast<size_t>(id)] == 1) { s[static_cast<size_t>(k)] = 0; continue; }
      int64_t stride = 1;
      for (size_t j = static_cast<size_t>(id) + 1; j < in.size(); ++j) stride *= in[j];
      s[static_cast<size_t>(k)] = stride;
    }
    // Merge with the previous dim when every operand is contiguous across both.
    if (!dims.empty()) {
      bool mergeable = true;
      for (int k = 0; k < N; ++k)
        mergeable &= st.back()[static_cast<size_t>(k)] == s[static_cast<size_t>(k)] * out[d];
      if (mergeable) {
        dims.back() *= out[d];
        st.back() = s;
        continue;
      }
    }
    dims.push_back(out[d]);
    st.push_back(s);
  }
  if (dims.size() > static_cast<size_t>(k_max_dims))
    throw Error(ErrorCode::Unsupported, ctx.node().label() + ": broadcast over more than " +
                                            std::to_string(k_max_dims) + " dims on cuda");
  Strided<N> p;
  p.rank = static_cast<int>(dims.size());
  for (size_t d = 0; d < dims.size(); ++d) {
    p.dims[d] = dims[d];
    for (int k = 0; k < N; ++k) p.strides[k][d] = st[d][static_cast<size_t>(k)];
  }
  return p;
}

}  // namespace kiln::backend::cuda
