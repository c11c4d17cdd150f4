// TopK on CUDA. Each element becomes a 64-bit key whose unsigned order is the
// CPU's order (NaN above +inf, -0 equal to +0; complemented for largest=1),
// and rows sort ascending on (key, index): the CPU's total order, ties to the
// lower index, so the first k entries are exactly the CPU's, sorted (which
// sorted=0 permits). Rows up to k_small elements sort in shared memory, a
// block per row (bitonic); longer rows sort in scratch: a bitonic network
// whose stages within a 4096-element chunk run in shared memory and the wider
// ones as one launch per stage over all rows of a batch.
#include "backends/cuda/kernels/reduce_engine.cuh"
#include "core/dispatch.h"
#include "backends/kernel_params.h"

namespace kiln::backend::cuda::rdx {

namespace {

constexpr int64_t k_small = 4096;  // n_pad * 12 bytes of shared memory: 48 KiB at most
constexpr int64_t k_chunk = 4096;  // fallback: elements per shared-memory chunk
constexpr uint64_t k_pad_key = ~uint64_t{0};
constexpr uint32_t k_pad_idx = ~uint32_t{0};

template <typename T>
__device__ inline uint64_t order_key(T v) {
  if constexpr (std::is_same_v<T, double>) {
    if (isnan(v)) return ~uint64_t{0};
    if (v == 0) v = 0.0;  // -0 ties with +0
    const auto u = static_cast<uint64_t>(__double_as_longlong(v));
    return (u >> 63) ? ~u : (u | (uint64_t{1} << 63));
  } else if constexpr (!std::is_integral_v<T>) {  // float, half, bf16
    float f = load(v);
    if (isnan(f)) return 0xffffffffull;
    if (f == 0.f) f = 0.f;
    const uint32_t u = __float_as_uint(f);
    return (u >> 31) ? static_cast<uint32_t>(~u) : (u | 0x80000000u);
  } else if constexpr (std::is_signed_v<T>) {
    return static_cast<uint64_t>(static_cast<int64_t>(v)) ^ (uint64_t{1} << 63);
  } else {
    return static_cast<uint64_t>(v);
  }
}

__device__ inline bool pair_less(uint64_t ka, uint32_t ia, uint64_t kb, uint32_t ib) {
  return ka < kb || (ka == kb && ia < ib);
}

// One compare-exchange of the bitonic network: i < p, `up` = ascending block.
__device__ inline void exchange(uint64_t* key, uint32_t* idx, int64_t i, int64_t p, bool up) {
  if (pair_less(key[p], idx[p], key[i], idx[i]) == up) {
    const uint64_t k = key[i];
    key[i] = key[p];
    key[p] = k;
    const uint32_t x = idx[i];
    idx[i] = idx[p];
    idx[p] = x;
  }
}

struct RowShape {
  int64_t rows, n, inner, k;
  __device__ int64_t in_base(int64_t r) const { return (r / inner) * n * inner + r % inner; }
  __device__ int64_t out_base(int64_t r) const { return (r / inner) * k * inner + r % inner; }
};

// Rows of n <= k_small: a block per row sorts the whole (padded) row.
template <typename T>
__global__ void __launch_bounds__(k_threads)
    topk_small_kernel(const T* __restrict__ x, T* __restrict__ vals, int64_t* __restrict__ inds, RowShape rs,
                      int n_pad, bool largest) {
  extern __shared__ uint64_t topk_smem[];
  uint64_t* key = topk_smem;
  uint32_t* idx = reinterpret_cast<uint32_t*>(topk_smem + n_pad);
  for (int64_t r = blockIdx.x; r < rs.rows; r += gridDim.x) {
    const int64_t b = rs.in_base(r);
    for (int i = threadIdx.x; i < n_pad; i += blockDim.x) {
      if (i < rs.n) {
        const uint64_t kk = order_key(x[b + i * rs.inner]);
        key[i] = largest ? ~kk : kk;
        idx[i] = static_cast<uint32_t>(i);
      } else {
        key[i] = k_pad_key;
        idx[i] = k_pad_idx;
      }
    }
    __syncthreads();
    for (int k = 2; k <= n_pad; k <<= 1)
      for (int j = k >> 1; j > 0; j >>= 1) {
        for (int i = threadIdx.x; i < n_pad; i += blockDim.x) {
          const int p = i ^ j;
          if (p > i) exchange(key, idx, i, p, (i & k) == 0);
        }
        __syncthreads();
      }
    const int64_t ob = rs.out_base(r);
    for (int64_t j = threadIdx.x; j < rs.k; j += blockDim.x) {
      const int64_t src = idx[j];
      vals[ob + j * rs.inner] = x[b + src * rs.inner];
      inds[ob + j * rs.inner] = src;
    }
    __syncthreads();  // the next row reuses the arrays
  }
}

// ---- fallback: rows of n_pad (a power of two >= 2 * k_chunk) in scratch ----
template <typename T>
__global__ void topk_init_kernel(const T* __restrict__ x, uint64_t* __restrict__ key, uint32_t* __restrict__ idx,
                                 RowShape rs, int64_t row0, int64_t total, int64_t n_pad, bool largest) {
  KILN_GRID_STRIDE(t, total) {
    const int64_t i = t % n_pad;
    if (i < rs.n) {
      const uint64_t kk = order_key(x[rs.in_base(row0 + t / n_pad) + i * rs.inner]);
      key[t] = largest ? ~kk : kk;
      idx[t] = static_cast<uint32_t>(i);
    } else {
      key[t] = k_pad_key;
      idx[t] = k_pad_idx;
    }
  }
}

// Stage (k, j) of the network with j >= k_chunk: partners lie in other chunks.
__global__ void bitonic_global_step(uint64_t* __restrict__ key, uint32_t* __restrict__ idx, int64_t total,
                                    int64_t n_pad, int64_t k, int64_t j) {
  KILN_GRID_STRIDE(t, total) {
    const int64_t i = t % n_pad, p = i ^ j;
    if (p > i) exchange(key, idx, t, t - i + p, (i & k) == 0);
  }
}

// Stages k in [k_lo, k_hi] (powers of two), j from min(k / 2, j_start) down
// to 1, on each k_chunk-element chunk in shared memory.
__global__ void __launch_bounds__(k_threads)
    bitonic_shared_phase(uint64_t* __restrict__ key, uint32_t* __restrict__ idx, int64_t total, int64_t n_pad,
                         int64_t k_lo, int64_t k_hi, int64_t j_start) {
  extern __shared__ uint64_t topk_smem[];
  uint64_t* sk = topk_smem;
  uint32_t* si = reinterpret_cast<uint32_t*>(topk_smem + k_chunk);
  for (int64_t c0 = blockIdx.x * k_chunk; c0 < total; c0 += static_cast<int64_t>(gridDim.x) * k_chunk) {
    for (int i = threadIdx.x; i < k_chunk; i += blockDim.x) {
      sk[i] = key[c0 + i];
      si[i] = idx[c0 + i];
    }
    __syncthreads();
    const int64_t row_off = c0 % n_pad;  // the chunk's place in its row
    for (int64_t k = k_lo; k <= k_hi; k <<= 1)
      for (int64_t j = (k / 2 < j_start ? k / 2 : j_start); j > 0; j >>= 1) {
        for (int i = threadIdx.x; i < k_chunk; i += blockDim.x) {
          const int p = i ^ static_cast<int>(j);
          if (p > i) exchange(sk, si, i, p, ((row_off + i) & k) == 0);
        }
        __syncthreads();
      }
    for (int i = threadIdx.x; i < k_chunk; i += blockDim.x) {
      key[c0 + i] = sk[i];
      idx[c0 + i] = si[i];
    }
    __syncthreads();
  }
}

template <typename T>
__global__ void topk_gather_kernel(const T* __restrict__ x, const uint32_t* __restrict__ idx, T* __restrict__ vals,
                                   int64_t* __restrict__ inds, RowShape rs, int64_t row0, int64_t total,
                                   int64_t n_pad) {
  KILN_GRID_STRIDE(t, total) {  // total = rows of the batch * k
    const int64_t r = t / rs.k, j = t % rs.k;
    const int64_t src = idx[r * n_pad + j];
    const int64_t o = rs.out_base(row0 + r) + j * rs.inner;
    vals[o] = x[rs.in_base(row0 + r) + src * rs.inner];
    inds[o] = src;
  }
}

int64_t pow2_at_least(int64_t n) {
  int64_t p = 1;
  while (p < n) p <<= 1;
  return p;
}

template <typename T>
void topk_typed(KernelContext& ctx, const Tensor& x, Tensor& values, Tensor& indices, const RowShape& rs,
                bool largest) {
  const cudaStream_t s = cuda_stream(ctx).get();
  const T* xp = static_cast<const T*>(x.raw());
  T* vp = static_cast<T*>(values.raw());
  auto* ip = static_cast<int64_t*>(indices.raw());
  const int64_t n_pad = pow2_at_least(rs.n);
  if (n_pad <= k_small) {
    const size_t smem = static_cast<size_t>(n_pad) * (sizeof(uint64_t) + sizeof(uint32_t));
    const auto blocks = static_cast<unsigned>(std::min<int64_t>(rs.rows, int64_t{1} << 20));
    topk_small_kernel<T><<<blocks, k_threads, smem, s>>>(xp, vp, ip, rs, static_cast<int>(n_pad), largest);
    KILN_CUDA_LAUNCH("topk_small_kernel");
    return;
  }
  // Rows per batch: scratch of at most 512 MiB (one row at least).
  const int64_t per_row = n_pad * static_cast<int64_t>(sizeof(uint64_t) + sizeof(uint32_t));
  const int64_t batch = std::max<int64_t>(1, std::min<int64_t>(rs.rows, (int64_t{512} << 20) / per_row));
  Scratch ws;
  const size_t key_at = ws.add(static_cast<size_t>(batch * n_pad) * sizeof(uint64_t));
  const size_t idx_at = ws.add(static_cast<size_t>(batch * n_pad) * sizeof(uint32_t));
  ws.bind(ctx);
  uint64_t* key = ws.at<uint64_t>(key_at);
  uint32_t* idx = ws.at<uint32_t>(idx_at);
  const size_t chunk_smem = static_cast<size_t>(k_chunk) * (sizeof(uint64_t) + sizeof(uint32_t));
  for (int64_t row0 = 0; row0 < rs.rows; row0 += batch) {
    const int64_t nrows = std::min(batch, rs.rows - row0), total = nrows * n_pad;
    const auto chunks = static_cast<unsigned>(std::min<int64_t>(total / k_chunk, int64_t{1} << 20));
    topk_init_kernel<T><<<grid_for(total), k_threads, 0, s>>>(xp, key, idx, rs, row0, total, n_pad, largest);
    KILN_CUDA_LAUNCH("topk_init_kernel");
    bitonic_shared_phase<<<chunks, k_threads, chunk_smem, s>>>(key, idx, total, n_pad, 2, k_chunk, k_chunk / 2);
    KILN_CUDA_LAUNCH("bitonic_shared_phase");
    for (int64_t k = 2 * k_chunk; k <= n_pad; k <<= 1) {
      for (int64_t j = k / 2; j >= k_chunk; j >>= 1) {
        bitonic_global_step<<<grid_for(total), k_threads, 0, s>>>(key, idx, total, n_pad, k, j);
        KILN_CUDA_LAUNCH("bitonic_global_step");
      }
      bitonic_shared_phase<<<chunks, k_threads, chunk_smem, s>>>(key, idx, total, n_pad, k, k, k_chunk / 2);
      KILN_CUDA_LAUNCH("bitonic_shared_phase");
    }
    topk_gather_kernel<T><<<grid_for(nrows * rs.k), k_threads, 0, s>>>(xp, idx, vp, ip, rs, row0, nrows * rs.k,
                                                                       n_pad);
    KILN_CUDA_LAUNCH("topk_gather_kernel");
  }
}

void run_topk(KernelContext& ctx) {
  const ir::Node& node = ctx.node();
  const Tensor& x = ctx.input(0);
  const params::TopKPlan p = params::topk_plan(ctx);
  const int64_t n = p.n, k = p.k;
  if (n >= (int64_t{1} << 31))
    throw Error(ErrorCode::Unsupported, node.label() + ": TopK over an axis of " + std::to_string(n) + " on cuda");
  Tensor& values = ctx.output(0, x.dtype(), p.out);
  Tensor& indices = ctx.output(1, DataType::Int64, p.out);
  if (values.numel() == 0) return;
  RowShape rs{p.outer * p.inner, n, p.inner, k};
  const bool largest = p.largest;
  dispatch_numeric(x.dtype(), ctx, [&](auto tag) { topk_typed<decltype(tag)>(ctx, x, values, indices, rs, largest); });
}

}  // namespace

void register_reduce_topk(KernelRegistry& r) {
  add_checked(
      r, "TopK", [](const ir::Node& n, const ir::Graph& g) { require_input_dtype(n, g, 0, k_numeric_types); },
      run_topk);
}

}  // namespace kiln::backend::cuda::rdx
