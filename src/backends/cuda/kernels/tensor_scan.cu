// Same-shape ops that walk along axes: CumSum, Trilu, ReverseSequence.
// CumSum sums in Acc<T> (float for 16-bit floats) as the CPU does. Short lines
// (or lines strided across the innermost dim) run one thread per line in the
// CPU's order, so they match it bit for bit; long contiguous lines run one
// block per line with a block scan, deterministic but in another summation
// order, so float sums may differ from the CPU's in the last bits.
#include <cub/block/block_scan.cuh>

#include "backends/cuda/kernels/tensor_util.cuh"

namespace kiln::backend::cuda::tensor {

namespace {

// Lines at least this long (with inner == 1) take the block scan.
constexpr int64_t k_block_scan_min = 1024;

template <typename T>
__global__ void cumsum_line_kernel(const T* __restrict__ in, T* __restrict__ out, int64_t lines, int64_t dim,
                                   int64_t inner, bool exclusive, bool reverse) {
  using A = Acc<T>;
  KILN_GRID_STRIDE(l, lines) {
    const int64_t o = l / inner, q = l % inner;
    const int64_t base = o * dim * inner + q;
    A sum = A(0);
    for (int64_t s = 0; s < dim; ++s) {
      const int64_t off = base + (reverse ? dim - 1 - s : s) * inner;
      const A v = load(in[off]);
      if (!exclusive) sum = static_cast<A>(sum + v);
      out[off] = store<T>(sum);
      if (exclusive) sum = static_cast<A>(sum + v);
    }
  }
}

// The running total of the chunks before: called by the first warp of the
// block scan, whose lanes all keep the same total.
template <typename A>
struct RunningPrefix {
  A total;
  __device__ A operator()(A chunk) {
    const A before = total;
    total = static_cast<A>(total + chunk);
    return before;
  }
};

template <typename T>
__global__ void cumsum_block_kernel(const T* __restrict__ in, T* __restrict__ out, int64_t lines, int64_t dim,
                                    bool exclusive, bool reverse) {
  using A = Acc<T>;
  using Scan = cub::BlockScan<A, k_threads>;
  __shared__ typename Scan::TempStorage tmp;
  for (int64_t l = blockIdx.x; l < lines; l += gridDim.x) {
    const T* x = in + l * dim;
    T* y = out + l * dim;
    RunningPrefix<A> prefix{A(0)};
    for (int64_t c = 0; c < dim; c += k_threads) {
      const int64_t s = c + threadIdx.x;
      const int64_t t = reverse ? dim - 1 - s : s;
      const A v = s < dim ? load(x[t]) : A(0);
      A r;
      if (exclusive) Scan(tmp).ExclusiveSum(v, r, prefix);
      else Scan(tmp).InclusiveSum(v, r, prefix);
      __syncthreads();  // tmp is reused by the next chunk
      if (s < dim) y[t] = store<T>(r);
    }
  }
}

void cum_sum(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const params::CumSumPlan p = params::cum_sum_plan(ctx);
  const bool exclusive = p.exclusive, reverse = p.reverse;
  const int64_t dim = p.dim, inner = p.inner;
  Tensor& out = ctx.output(0, x.dtype(), x.shape());
  const int64_t lines = p.outer * inner;
  if (lines == 0 || dim == 0) return;
  cudaStream_t stream = cuda_stream(ctx).get();
  dispatch_numeric(x.dtype(), ctx, [&](auto tag) {
    using T = decltype(tag);
    if (inner == 1 && dim >= k_block_scan_min) {
      const unsigned blocks = static_cast<unsigned>(std::min<int64_t>(lines, int64_t{1} << 16));
      cumsum_block_kernel<T><<<blocks, k_threads, 0, stream>>>(x.data<T>(), out.data<T>(), lines, dim, exclusive,
                                                               reverse);
    } else {
      cumsum_line_kernel<T><<<grid_for(lines), k_threads, 0, stream>>>(x.data<T>(), out.data<T>(), lines, dim, inner,
                                                                       exclusive, reverse);
    }
    KILN_CUDA_LAUNCH("cumsum_kernel");
  });
}

void check_cum_sum(const ir::Node& n, const ir::Graph& g) {
  const DataType dt = dtype_of(g, n, 0);
  if (dt == DataType::Bool || dt == DataType::String || dt == DataType::Complex64 || dt == DataType::Complex128)
    unsupported(n, "dtype " + std::string(dtype_name(dt)));
}

template <typename U>
__global__ void trilu_kernel(U* __restrict__ out, const U* __restrict__ in, int64_t rows, int64_t cols, int64_t k,
                             bool upper, int64_t n) {
  KILN_GRID_STRIDE(i, n) {
    const int64_t j = i % cols, r = (i / cols) % rows;
    const bool keep = upper ? j - r >= k : j - r <= k;
    out[i] = keep ? in[i] : U{};  // all-zero bits are zero in every dtype
  }
}

void trilu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const params::TriluPlan p = params::trilu_plan(ctx);
  const int64_t k = p.k, rows = p.rows, cols = p.cols, n = x.numel();
  const bool upper = p.upper;
  Tensor& out = ctx.output(0, x.dtype(), x.shape());
  if (n == 0) return;
  cudaStream_t stream = cuda_stream(ctx).get();
  dispatch_bytes(dtype_size(x.dtype()), ctx, [&](auto tag) {
    using U = decltype(tag);
    trilu_kernel<U><<<grid_for(n), k_threads, 0, stream>>>(out.data<U>(), x.data<U>(), rows, cols, k, upper, n);
    KILN_CUDA_LAUNCH("trilu_kernel");
  });
}

// Rows of `row` units; the batch and time axes are dims 0 and 1 in some order.
template <typename U>
__global__ void reverse_sequence_kernel(U* __restrict__ out, const U* __restrict__ in, const int64_t* __restrict__ lens,
                                        int64_t d1, int64_t row, bool batch_first, int64_t n) {
  KILN_GRID_STRIDE(i, n) {
    const int64_t e = i % row, t01 = i / row;
    const int64_t a1 = t01 % d1, a0 = t01 / d1;
    const int64_t b = batch_first ? a0 : a1, t = batch_first ? a1 : a0;
    const int64_t len = lens[b];
    const int64_t from = t < len ? len - 1 - t : t;
    const int64_t src = ((batch_first ? b * d1 + from : from * d1 + b) * row) + e;
    out[i] = in[src];
  }
}

void reverse_sequence(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const params::ReverseSequencePlan p = params::reverse_sequence_plan(ctx);
  const std::vector<int64_t>& lens = p.lens;
  Tensor& out = ctx.output(0, x.dtype(), x.shape());
  const size_t es = dtype_size(x.dtype());
  const int64_t inner = prod(x.shape(), 2, x.shape().size());
  if (x.numel() == 0) return;
  Scratch sc;
  const size_t at = sc.add(lens.size() * sizeof(int64_t));
  auto* dlens = reinterpret_cast<int64_t*>(sc.take(ctx) + at);
  upload(ctx, dlens, lens.data(), lens.size() * sizeof(int64_t));
  const int64_t f = widen_factor(es, inner, {out.raw(), x.raw()});
  const int64_t row = inner / f, n = x.shape()[0] * x.shape()[1] * row;
  cudaStream_t stream = cuda_stream(ctx).get();
  dispatch_move(es * static_cast<size_t>(f), [&](auto tag) {
    using U = decltype(tag);
    reverse_sequence_kernel<U><<<grid_for(n), k_threads, 0, stream>>>(
        static_cast<U*>(out.raw()), static_cast<const U*>(x.raw()), dlens, x.shape()[1], row, p.batch_axis == 0, n);
    KILN_CUDA_LAUNCH("reverse_sequence_kernel");
  });
}

}  // namespace

void register_scan(KernelRegistry& r) {
  add_op(r, "CumSum", cum_sum, check_cum_sum);
  add_op(r, "Trilu", trilu, check_movable);
  add_op(r, "ReverseSequence", reverse_sequence, check_movable, /*capturable=*/false);  // uploads a pageable table
}

}  // namespace kiln::backend::cuda::tensor
