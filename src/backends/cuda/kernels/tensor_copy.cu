// The byte movers of the tensor family (tensor_util.cuh): a strided copy
// (Transpose, Slice, Expand, Concat, Split, DepthToSpace, ...), a per-axis
// modular gather (Pad, Tile), a row gather (Gather, Compress), a fill, and the
// index range check. All are dtype-agnostic: they move elements as unsigned
// integers of the element size, widened to up to 16 bytes where rows allow.
#include <limits>

#include "backends/cuda/kernels/tensor_util.cuh"

namespace kiln::backend::cuda::tensor {

namespace {

// I: the index type (int32_t when every offset fits, which keeps the
// per-element div/mod cheap, else int64_t).
template <typename U, typename I>
__global__ void strided_copy_kernel(U* __restrict__ dst, const U* __restrict__ src, Strided<2> p, int64_t n) {
  using UI = std::make_unsigned_t<I>;
  KILN_GRID_STRIDE(i, n) {
    UI rem = static_cast<UI>(i);
    I od = 0, os = 0;
#pragma unroll
    for (int d = k_max_dims - 1; d >= 0; --d) {
      if (d >= p.rank) continue;
      const UI dim = static_cast<UI>(p.dims[d]);
      const I c = static_cast<I>(rem % dim);
      rem /= dim;
      od += c * static_cast<I>(p.strides[0][d]);
      os += c * static_cast<I>(p.strides[1][d]);
    }
    dst[od] = src[os];
  }
}

// A transpose that moves the innermost dim: dst[ob + r*dst_rs + c] =
// src[sb + r + c*src_cs] for r < rows, c < cols, in each batch (the other
// dims, walked by `batch`). 32x32 tiles through shared memory keep both the
// reads (along r) and the writes (along c) coalesced.
constexpr int k_tile_dim = 32, k_tile_rows = 8;

template <typename U>
__global__ void tiled_transpose_kernel(U* __restrict__ dst, const U* __restrict__ src, Strided<2> batch,
                                       int64_t n_batch, int64_t rows, int64_t cols, int64_t dst_rs, int64_t src_cs) {
  __shared__ U tile[k_tile_dim][k_tile_dim + 1];  // +1: no bank conflicts on the transposed read
  const int64_t r0 = static_cast<int64_t>(blockIdx.y) * k_tile_dim, c0 = static_cast<int64_t>(blockIdx.x) * k_tile_dim;
  for (int64_t b = blockIdx.z; b < n_batch; b += gridDim.z) {
    int64_t off[2];
    batch.offsets(b, off);
    const int64_t r = r0 + threadIdx.x;
    for (int k = threadIdx.y; k < k_tile_dim; k += k_tile_rows) {
      const int64_t c = c0 + k;
      if (r < rows && c < cols) tile[k][threadIdx.x] = src[off[1] + r + c * src_cs];
    }
    __syncthreads();
    const int64_t c = c0 + threadIdx.x;
    for (int k = threadIdx.y; k < k_tile_dim; k += k_tile_rows) {
      const int64_t rr = r0 + k;
      if (rr < rows && c < cols) dst[off[0] + rr * dst_rs + c] = tile[threadIdx.x][k];
    }
    __syncthreads();  // the tile is refilled for the next batch
  }
}

struct PadPlan {
  int rank = 0;
  int mode = 0;
  int64_t out_dims[k_max_dims] = {};
  int64_t in_strides[k_max_dims] = {};
  int64_t before[k_max_dims] = {};
  int64_t lo[k_max_dims] = {};
  int64_t len[k_max_dims] = {};
};

template <typename U>
__global__ void pad_kernel(U* __restrict__ out, const U* __restrict__ in, PadPlan p, U fill, int64_t n) {
  KILN_GRID_STRIDE(i, n) {
    int64_t rem = i, src = 0;
    bool use_fill = false;
    for (int d = p.rank - 1; d >= 0; --d) {
      const int64_t o = rem % p.out_dims[d];
      rem /= p.out_dims[d];
      int64_t j = o - p.before[d];
      const int64_t len = p.len[d];
      if (j < 0 || j >= len) {
        if (p.mode == static_cast<int>(PadMode::Constant)) {
          use_fill = true;
          break;
        }
        if (p.mode == static_cast<int>(PadMode::Edge)) {
          j = j < 0 ? 0 : len - 1;
        } else if (p.mode == static_cast<int>(PadMode::Wrap)) {
          j = ((j % len) + len) % len;
        } else if (len == 1) {
          j = 0;
        } else {  // reflect without repeating the edge: period 2(len-1)
          const int64_t period = 2 * (len - 1);
          j = ((j % period) + period) % period;
          if (j >= len) j = period - j;
        }
      }
      src += (p.lo[d] + j) * p.in_strides[d];
    }
    out[i] = use_fill ? fill : in[src];
  }
}

template <typename U, typename Ix>
__global__ void gather_rows_kernel(U* __restrict__ out, const U* __restrict__ in, const Ix* __restrict__ idx,
                                   int64_t n_idx, int64_t dim, int64_t inner, int64_t n) {
  KILN_GRID_STRIDE(i, n) {
    const int64_t r = i % inner, t = i / inner;
    const int64_t j = t % n_idx, o = t / n_idx;
    int64_t v = static_cast<int64_t>(idx[j]);
    if (v < 0) v += dim;
    // Out of range: reported by check_indices (or validated at build time).
    out[i] = (v < 0 || v >= dim) ? U{} : in[(o * dim + v) * inner + r];
  }
}

template <typename Ix>
__global__ void check_indices_kernel(const Ix* __restrict__ idx, int64_t n, int64_t dim, int64_t* slot) {
  KILN_GRID_STRIDE(i, n) {
    const int64_t v = static_cast<int64_t>(idx[i]);
    if (v < -dim || v >= dim) {
      slot[0] = 1;
      slot[1] = v;
    }
  }
}

template <typename U>
__global__ void fill_kernel(U* __restrict__ dst, U v, int64_t n) {
  KILN_GRID_STRIDE(i, n) dst[i] = v;
}

bool aligned(const void* p, size_t a) { return reinterpret_cast<uintptr_t>(p) % a == 0; }

using Axis = params::CopyAxis;

// Runs the copy as tiled transposes when the destination's innermost dim is
// contiguous and the source's contiguous dim is another one (both long
// enough to fill tiles); false when that does not apply.
bool tiled_transpose(cudaStream_t stream, char* d, const char* s, const std::vector<Axis>& merged, size_t w) {
  if (merged.size() < 2 || merged[0].dst != 1 || merged[0].src == 1) return false;
  size_t k = 1;
  while (k < merged.size() && merged[k].src != 1) ++k;
  if (k == merged.size()) return false;
  const int64_t rows = merged[k].n, cols = merged[0].n;
  if (rows < 8 || cols < 8 || (rows + k_tile_dim - 1) / k_tile_dim > 65535) return false;
  Strided<2> batch;  // the other dims, outermost first
  int64_t n_batch = 1;
  for (size_t i = merged.size(); i-- > 1;) {
    if (i == k) continue;
    batch.dims[batch.rank] = merged[i].n;
    batch.strides[0][batch.rank] = merged[i].dst;
    batch.strides[1][batch.rank] = merged[i].src;
    ++batch.rank;
    n_batch *= merged[i].n;
  }
  const dim3 grid(static_cast<unsigned>((cols + k_tile_dim - 1) / k_tile_dim),
                  static_cast<unsigned>((rows + k_tile_dim - 1) / k_tile_dim),
                  static_cast<unsigned>(std::min<int64_t>(n_batch, 65535)));
  const dim3 block(k_tile_dim, k_tile_rows);
  dispatch_move(w, [&](auto tag) {
    using U = decltype(tag);
    tiled_transpose_kernel<U><<<grid, block, 0, stream>>>(reinterpret_cast<U*>(d), reinterpret_cast<const U*>(s), batch,
                                                          n_batch, rows, cols, merged[k].dst, merged[0].src);
    KILN_CUDA_LAUNCH("tiled_transpose_kernel");
  });
  return true;
}

}  // namespace

int64_t widen_factor(size_t es, int64_t run, std::initializer_list<const void*> ptrs) {
  int64_t f = 1;
  while (es * static_cast<size_t>(f) * 2 <= 16 && run % (f * 2) == 0) {
    bool ok = true;
    for (const void* p : ptrs) ok &= aligned(p, es * static_cast<size_t>(f) * 2);
    if (!ok) break;
    f *= 2;
  }
  return f;
}

void copy_reshaped(KernelContext& ctx, const Shape& shape) {
  const Tensor& in = ctx.input(0);
  Tensor& out = ctx.output(0, in.dtype(), shape);
  if (out.numel() != in.numel())
    throw Error(ErrorCode::Internal, ctx.node().label() + ": reshape changes the element count");
  // In place (the memory plan gave the output the input's buffer): nothing to move.
  if (in.nbytes() && out.raw() != in.raw())
    KILN_CUDA(cudaMemcpyAsync(out.raw(), in.raw(), in.nbytes(), cudaMemcpyDeviceToDevice, cuda_stream(ctx).get()));
}

void copy_view(KernelContext& ctx, const params::StridedView& v) {
  const Tensor& in = ctx.input(0);
  Tensor& out = ctx.output(0, in.dtype(), v.out);
  if (out.numel() == 0) return;
  copy_strided(ctx, out.raw(), 0, strides_of(v.dims), in.raw(), v.offset, v.src, v.dims, dtype_size(in.dtype()));
}

void copy_strided(const KernelContext& ctx, void* dst, int64_t dst_base, const std::vector<int64_t>& dst_strides,
                  const void* src, int64_t src_base, const std::vector<int64_t>& src_strides, const Shape& shape,
                  size_t es) {
  auto axes = params::merge_copy_axes(dst_strides, src_strides, shape);
  if (!axes) return;
  std::vector<Axis>& merged = *axes;  // innermost first; widened below
  cudaStream_t stream = cuda_stream(ctx).get();
  char* d = static_cast<char*>(dst) + dst_base * static_cast<int64_t>(es);
  const char* s = static_cast<const char*>(src) + src_base * static_cast<int64_t>(es);
  if (merged.empty()) {  // one element
    KILN_CUDA(cudaMemcpyAsync(d, s, es, cudaMemcpyDeviceToDevice, stream));
    return;
  }
  if (merged.size() == 1 && merged[0].dst == 1 && merged[0].src == 1) {
    KILN_CUDA(cudaMemcpyAsync(d, s, static_cast<size_t>(merged[0].n) * es, cudaMemcpyDeviceToDevice, stream));
    return;
  }
  // Contiguous innermost runs move as wider units when every offset allows.
  size_t w = es;
  while (w < 16 && merged[0].dst == 1 && merged[0].src == 1 && merged[0].n % 2 == 0 && aligned(d, 2 * w) &&
         aligned(s, 2 * w)) {
    bool even = true;
    for (size_t k = 1; k < merged.size(); ++k) even &= merged[k].dst % 2 == 0 && merged[k].src % 2 == 0;
    if (!even) break;
    w *= 2;
    merged[0].n /= 2;
    for (size_t k = 1; k < merged.size(); ++k) {
      merged[k].dst /= 2;
      merged[k].src /= 2;
    }
  }
  if (merged.size() > static_cast<size_t>(k_max_dims))
    throw Error(ErrorCode::Unsupported, ctx.node().label() + ": strided copy over " + std::to_string(merged.size()) +
                                            " dims on cuda");
  if (tiled_transpose(stream, d, s, merged, w)) return;
  Strided<2> p;
  p.rank = static_cast<int>(merged.size());
  int64_t n = 1, dspan = 0, sspan = 0;
  for (size_t k = 0; k < merged.size(); ++k) {
    const size_t at = merged.size() - 1 - k;  // Strided wants outermost first
    p.dims[at] = merged[k].n;
    p.strides[0][at] = merged[k].dst;
    p.strides[1][at] = merged[k].src;
    n *= merged[k].n;
    dspan += (merged[k].n - 1) * (merged[k].dst < 0 ? -merged[k].dst : merged[k].dst);
    sspan += (merged[k].n - 1) * (merged[k].src < 0 ? -merged[k].src : merged[k].src);
  }
  constexpr int64_t k_i32 = std::numeric_limits<int32_t>::max();
  const bool small = n <= k_i32 && dspan <= k_i32 && sspan <= k_i32;
  dispatch_move(w, [&](auto tag) {
    using U = decltype(tag);
    if (small)
      strided_copy_kernel<U, int32_t><<<grid_for(n), k_threads, 0, stream>>>(reinterpret_cast<U*>(d),
                                                                           reinterpret_cast<const U*>(s), p, n);
    else
      strided_copy_kernel<U, int64_t><<<grid_for(n), k_threads, 0, stream>>>(reinterpret_cast<U*>(d),
                                                                           reinterpret_cast<const U*>(s), p, n);
    KILN_CUDA_LAUNCH("strided_copy_kernel");
  });
}

void pad_copy(const KernelContext& ctx, void* out, const Shape& out_shape, const void* in, const Shape& in_shape,
              const std::vector<int64_t>& before, const std::vector<int64_t>& lo, const std::vector<int64_t>& len,
              PadMode mode, const void* fill, size_t es) {
  const int64_t n = shape_numel(out_shape);
  if (n == 0) return;
  if (out_shape.size() > static_cast<size_t>(k_max_dims))
    throw Error(ErrorCode::Unsupported, ctx.node().label() + ": rank " + std::to_string(out_shape.size()) + " > " +
                                            std::to_string(k_max_dims) + " on cuda");
  PadPlan p;
  p.rank = static_cast<int>(out_shape.size());
  p.mode = static_cast<int>(mode);
  const std::vector<int64_t> in_strides = strides_of(in_shape);
  for (size_t d = 0; d < out_shape.size(); ++d) {
    p.out_dims[d] = out_shape[d];
    p.in_strides[d] = in_strides[d];
    p.before[d] = before[d];
    p.lo[d] = lo[d];
    p.len[d] = len[d];
  }
  cudaStream_t stream = cuda_stream(ctx).get();
  dispatch_bytes(es, ctx, [&](auto tag) {
    using U = decltype(tag);
    U f{};
    if (fill) std::memcpy(&f, fill, sizeof(U));
    pad_kernel<U><<<grid_for(n), k_threads, 0, stream>>>(static_cast<U*>(out), static_cast<const U*>(in), p, f, n);
    KILN_CUDA_LAUNCH("pad_kernel");
  });
}

void gather_rows(const KernelContext& ctx, void* out, const void* in, const void* idx, DataType idx_dt,
                 int64_t outer, int64_t n_idx, int64_t dim, int64_t inner, size_t es) {
  if (outer == 0 || n_idx == 0 || inner == 0) return;
  const int64_t f = widen_factor(es, inner, {out, in});
  const int64_t row = inner / f, n = outer * n_idx * row;
  cudaStream_t stream = cuda_stream(ctx).get();
  dispatch_move(es * static_cast<size_t>(f), [&](auto tag) {
    using U = decltype(tag);
    if (idx_dt == DataType::Int32)
      gather_rows_kernel<U, int32_t><<<grid_for(n), k_threads, 0, stream>>>(
          static_cast<U*>(out), static_cast<const U*>(in), static_cast<const int32_t*>(idx), n_idx, dim, row, n);
    else
      gather_rows_kernel<U, int64_t><<<grid_for(n), k_threads, 0, stream>>>(
          static_cast<U*>(out), static_cast<const U*>(in), static_cast<const int64_t*>(idx), n_idx, dim, row, n);
    KILN_CUDA_LAUNCH("gather_rows_kernel");
  });
}

void check_indices(const KernelContext& ctx, const void* idx, DataType idx_dt, int64_t n, int64_t dim,
                   int64_t* slot) {
  if (n == 0) return;
  cudaStream_t stream = cuda_stream(ctx).get();
  if (idx_dt == DataType::Int32)
    check_indices_kernel<int32_t><<<grid_for(n), k_threads, 0, stream>>>(static_cast<const int32_t*>(idx), n, dim, slot);
  else
    check_indices_kernel<int64_t><<<grid_for(n), k_threads, 0, stream>>>(static_cast<const int64_t*>(idx), n, dim, slot);
  KILN_CUDA_LAUNCH("check_indices_kernel");
}

void fill(const KernelContext& ctx, void* dst, int64_t n, const void* value, size_t es) {
  if (n <= 0) return;
  cudaStream_t stream = cuda_stream(ctx).get();
  const auto* b = static_cast<const unsigned char*>(value);
  bool same = true;  // every byte equal: a memset does it
  for (size_t k = 1; k < es; ++k) same &= b[k] == b[0];
  if (same) {
    KILN_CUDA(cudaMemsetAsync(dst, b[0], static_cast<size_t>(n) * es, stream));
    return;
  }
  dispatch_bytes(es, ctx, [&](auto tag) {
    using U = decltype(tag);
    U v;
    std::memcpy(&v, value, sizeof(U));
    fill_kernel<U><<<grid_for(n), k_threads, 0, stream>>>(static_cast<U*>(dst), v, n);
    KILN_CUDA_LAUNCH("fill_kernel");
  });
}

}  // namespace kiln::backend::cuda::tensor
