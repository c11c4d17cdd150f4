// CumSum on CUDA (exclusive, reverse; axis is a host input). Sums run in the
// CPU's type: float for 16-bit floats, the element type otherwise. Many rows
// (or short ones): a thread per row in the CPU's order, so results match it
// exactly. Few long rows: a block per row scans 256-element tiles in shared
// memory and carries the running sum from tile to tile; floats then differ
// from the CPU's sequential sums by rounding only (integers wrap the same).
#include "backends/cuda/kernels/reduce_engine.cuh"
#include "core/dispatch.h"

namespace kiln::backend::cuda::rdx {

namespace {

template <typename T>
using ScanAcc = std::conditional_t<std::is_integral_v<T> || std::is_same_v<T, double>, T, float>;

struct ScanShape {
  int64_t rows, dim, inner;  // rows = outer * inner
  bool exclusive, reverse;
  // Offset of step s (in scan order) of row r.
  __device__ int64_t at(int64_t r, int64_t s) const {
    const int64_t t = reverse ? dim - 1 - s : s;
    return ((r / inner) * dim + t) * inner + r % inner;
  }
};

template <typename T>
__global__ void cumsum_rows_kernel(const T* __restrict__ x, T* __restrict__ y, ScanShape ss) {
  using A = ScanAcc<T>;
  KILN_GRID_STRIDE(r, ss.rows) {
    A sum = A(0);
    for (int64_t s = 0; s < ss.dim; ++s) {
      const int64_t off = ss.at(r, s);
      const auto v = static_cast<A>(load(x[off]));
      if (!ss.exclusive) sum = static_cast<A>(sum + v);
      y[off] = store<T>(sum);
      if (ss.exclusive) sum = static_cast<A>(sum + v);
    }
  }
}

template <typename T>
__global__ void __launch_bounds__(k_threads) cumsum_block_kernel(const T* __restrict__ x, T* __restrict__ y, ScanShape ss) {
  using A = ScanAcc<T>;
  A* sh = shared_slots<A>();
  const int tid = static_cast<int>(threadIdx.x);
  for (int64_t r = blockIdx.x; r < ss.rows; r += gridDim.x) {
    A carry = A(0);
    for (int64_t s0 = 0; s0 < ss.dim; s0 += k_threads) {
      const int64_t s = s0 + tid;
      const A v = s < ss.dim ? static_cast<A>(load(x[ss.at(r, s)])) : A(0);
      sh[tid] = v;
      __syncthreads();
      for (int off = 1; off < k_threads; off <<= 1) {  // Hillis-Steele inclusive scan
        const A t = tid >= off ? sh[tid - off] : A(0);
        __syncthreads();
        sh[tid] = static_cast<A>(sh[tid] + t);
        __syncthreads();
      }
      const A before = ss.exclusive ? (tid > 0 ? sh[tid - 1] : A(0)) : sh[tid];
      if (s < ss.dim) y[ss.at(r, s)] = store<T>(static_cast<A>(carry + before));
      carry = static_cast<A>(carry + sh[k_threads - 1]);
      __syncthreads();  // all have read the tile before the next one overwrites it
    }
  }
}

void run_cumsum(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.rank() == 0) ctx.fail("input must have rank >= 1");
  const Tensor& at = ctx.input(1);  // a host input (cuda_backend.cpp)
  if (at.numel() != 1) ctx.fail("axis must be a scalar, got " + shape_str(at.shape()));
  const int64_t rank = x.rank();
  int64_t axis = read_int(at, 0);
  if (axis < -rank || axis >= rank)
    ctx.fail("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  if (axis < 0) axis += rank;
  const auto ax = static_cast<size_t>(axis);
  Tensor& y = ctx.output(0, x.dtype(), x.shape());
  if (x.numel() == 0) return;
  ScanShape ss{1, x.shape()[ax], 1, ctx.node().attr_i("exclusive", 0) != 0, ctx.node().attr_i("reverse", 0) != 0};
  for (size_t d = 0; d < ax; ++d) ss.rows *= x.shape()[d];
  for (size_t d = ax + 1; d < x.shape().size(); ++d) ss.inner *= x.shape()[d];
  ss.rows *= ss.inner;
  const cudaStream_t s = cuda_stream(ctx).get();
  const bool per_thread = ss.rows >= 1024 || ss.dim <= 64;
  dispatch_numeric(x.dtype(), ctx, [&](auto tag) {
    using T = decltype(tag);
    const T* xp = static_cast<const T*>(x.raw());
    T* yp = static_cast<T*>(y.raw());
    if (per_thread) {
      cumsum_rows_kernel<T><<<grid_for(ss.rows), k_threads, 0, s>>>(xp, yp, ss);
      KILN_CUDA_LAUNCH("cumsum_rows_kernel");
    } else {
      cumsum_block_kernel<T><<<static_cast<unsigned>(ss.rows), k_threads, 0, s>>>(xp, yp, ss);
      KILN_CUDA_LAUNCH("cumsum_block_kernel");
    }
  });
}

}  // namespace

void register_reduce_cumsum(KernelRegistry& r) {
  add_checked(
      r, "CumSum", [](const ir::Node& n, const ir::Graph& g) { require_input_dtype(n, g, 0, k_numeric_types); },
      run_cumsum);
}

}  // namespace kiln::backend::cuda::rdx
