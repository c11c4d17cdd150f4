// Rows in registers, for the row ops of transformers (softmax, layer and RMS
// normalization): a contiguous row of at most k_vpt * 1024 elements is read
// once into k_vpt values per thread of its group, which is a warp for short
// rows (k_warp_rows rows per block) and the whole block otherwise. Group
// reductions use xor shuffles, after which every lane holds the same value
// (each step adds the same two operands on both lanes), then the warps'
// partials in one fixed order: results are deterministic and equal on every
// thread of the group. The reduction engine's kernels (reduce_engine.cuh)
// remain for strided rows, longer rows (SkipLayerNormalization's alone
// stream them three times in nn_norm_layer.cu) and the ops that also write
// statistics.
#pragma once

#include <algorithm>
#include <cstring>
#include <cstdint>

#include "backends/cuda/kernels/common.cuh"

namespace kiln::backend::cuda::rows {

constexpr int k_vpt = 8;
constexpr int64_t k_max = int64_t{k_vpt} * 1024;
constexpr int k_warp_rows = 4;

struct Launch {
  unsigned blocks = 1;
  dim3 threads;
};

// The launch for `count` rows of n (1..k_max) elements.
inline Launch plan(int64_t count, int64_t n) {
  Launch l;
  if (n <= int64_t{k_vpt} * 32) {
    l.threads = dim3(32, k_warp_rows);
    l.blocks = static_cast<unsigned>(std::min<int64_t>((count + k_warp_rows - 1) / k_warp_rows, int64_t{1} << 20));
  } else {
    const int64_t t = (n + int64_t{k_vpt} * 32 - 1) / (int64_t{k_vpt} * 32) * 32;
    l.threads = dim3(static_cast<unsigned>(std::min<int64_t>(t, 1024)), 1);
    l.blocks = static_cast<unsigned>(std::min<int64_t>(count, int64_t{1} << 20));
  }
  return l;
}

// Row loop: row r of `count` for this thread's group. Warp rows never
// synchronize the block, so a warp leaves on its own; block rows are uniform.
#define KILN_ROWS(r, count)                                                      \
  for (int64_t r = static_cast<int64_t>(blockIdx.x) * blockDim.y + threadIdx.y; \
       r < (count); r += static_cast<int64_t>(gridDim.x) * blockDim.y)

// Element k of this thread's share of a row: index j, valid when j < n. A
// thread holds k_vpt consecutive elements, so a share of 16-bit values is one
// 16-byte load (chunk_* below).
__device__ inline int at(int k) { return static_cast<int>(threadIdx.x) * k_vpt + k; }

// Whether this thread's share of `row` is whole and can move as 16-byte
// vectors (the row 16-byte aligned, the share a multiple of 16 bytes).
template <typename T>
__device__ inline bool chunk_ok(const T* row, int n) {
  return (k_vpt * sizeof(T)) % 16 == 0 && at(0) + k_vpt <= n && reinterpret_cast<uintptr_t>(row) % 16 == 0;
}

// The share at p (= row + at(0)) in 16-byte moves.
template <typename T>
__device__ inline void chunk_load(T (&c)[k_vpt], const T* __restrict__ p) {
  constexpr int moves = static_cast<int>(k_vpt * sizeof(T) / 16);
  uint4 tmp[moves];
#pragma unroll
  for (int i = 0; i < moves; ++i) tmp[i] = reinterpret_cast<const uint4*>(p)[i];
  memcpy(c, tmp, sizeof(c));
}
template <typename T>
__device__ inline void chunk_store(T* __restrict__ p, const T (&c)[k_vpt]) {
  constexpr int moves = static_cast<int>(k_vpt * sizeof(T) / 16);
  uint4 tmp[moves];
  memcpy(tmp, c, sizeof(c));
#pragma unroll
  for (int i = 0; i < moves; ++i) reinterpret_cast<uint4*>(p)[i] = tmp[i];
}

// op over the group, equal on every thread of it. `sh` holds 32 values
// (used by block rows only).
template <typename A, typename Op>
__device__ inline A reduce(A v, Op op, A* sh) {
  for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
  if (blockDim.x == 32) return v;
  const int warps = static_cast<int>(blockDim.x) / 32;
  if (threadIdx.x % 32 == 0) sh[threadIdx.x / 32] = v;
  __syncthreads();
  A total = sh[0];
  for (int w = 1; w < warps; ++w) total = op(total, sh[w]);
  __syncthreads();  // every thread has read before sh is reused
  return total;
}

struct Sum {
  template <typename A>
  __device__ A operator()(A a, A b) const { return a + b; }
};
// fmax ignores NaN (and is symmetric, so every lane agrees); a NaN in a row
// still reaches the row's result through the sums.
struct Max {
  template <typename A>
  __device__ A operator()(A a, A b) const { return fmax(a, b); }
};

// This thread's share of row `r` as A values (`fill` past the end).
template <typename T, typename A>
__device__ inline void load(A (&v)[k_vpt], const T* __restrict__ row, int n, A fill) {
  if (chunk_ok(row, n)) {
    T c[k_vpt];
    chunk_load(c, row + at(0));
#pragma unroll
    for (int k = 0; k < k_vpt; ++k) v[k] = static_cast<A>(cuda::load(c[k]));
    return;
  }
#pragma unroll
  for (int k = 0; k < k_vpt; ++k) {
    const int j = at(k);
    v[k] = j < n ? static_cast<A>(cuda::load(row[j])) : fill;
  }
}

// Softmax (log-softmax when Log) of the row held in v (n elements, the rest
// of v filled with -inf by load), written to `out` as T. Every thread of the
// group calls it.
template <bool Log, typename T, typename A>
__device__ inline void softmax(const A (&v)[k_vpt], int n, T* out, A* sh) {
  A mx = v[0];
#pragma unroll
  for (int k = 1; k < k_vpt; ++k) mx = fmax(mx, v[k]);
  mx = reduce(mx, Max{}, sh);
  A sum = 0;
#pragma unroll
  for (int k = 0; k < k_vpt; ++k)
    if (at(k) < n) sum += exp(v[k] - mx);
  sum = reduce(sum, Sum{}, sh);
  const A log_sum = Log ? log(sum) : A(0);
  T c[k_vpt];
#pragma unroll
  for (int k = 0; k < k_vpt; ++k) {
    if constexpr (Log) c[k] = store<T>(v[k] - mx - log_sum);
    else c[k] = store<T>(exp(v[k] - mx) / sum);
  }
  if (chunk_ok(out, n)) {
    chunk_store(out + at(0), c);
    return;
  }
#pragma unroll
  for (int k = 0; k < k_vpt; ++k)
    if (at(k) < n) out[at(k)] = c[k];
}

}  // namespace kiln::backend::cuda::rows
