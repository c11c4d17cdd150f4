// Softmax, LogSoftmax and Hardmax on CUDA. Opset < 13 coerces the input to
// 2-D at `axis` (default 1) and works on each flattened row; opset >= 13 works
// along `axis` alone (default -1). Rows come from the reduction engine's
// geometry and launch shape (reduce_engine.cuh); each row is read in passes:
// max, sum of exp(x - max), write. Compute in float (double for float64), as
// the CPU. Contiguous rows of at most rows::k_max elements (attention scores)
// are read once into registers instead (row_kernels.cuh).
#include "backends/cuda/kernels/families.h"
#include "backends/cuda/kernels/reduce_engine.cuh"
#include "backends/cuda/kernels/row_kernels.cuh"
#include "backends/nn_params.h"

namespace kiln::backend::cuda {

namespace {

using rdx::Launch;
using rdx::Lanes;
using rdx::ReduceGeom;

enum class Kind { Softmax, LogSoftmax, Hardmax };

template <typename T, Kind K>
__global__ void __launch_bounds__(k_threads)
    softmax_kernel(const T* __restrict__ x, T* __restrict__ y, ReduceGeom g, Launch l) {
  using A = Acc<T>;
  A* sh = rdx::shared_slots<A>();
  const Lanes ln = rdx::lanes(l);
  const int64_t n = g.count;
  for (int64_t ob = blockIdx.x * static_cast<int64_t>(l.x); ob < g.outputs; ob += static_cast<int64_t>(gridDim.x) * l.x) {
    const int64_t o = ob + ln.tx;
    const bool live = o < g.outputs;
    const int64_t b = live ? g.base(o) : 0;
    A mx = -std::numeric_limits<A>::infinity();
    if (live)
      for (int64_t j = ln.ty; j < n; j += l.y) {
        const A v = load(x[b + g.roff(j)]);
        mx = v > mx ? v : mx;
      }
    mx = rdx::group_reduce(mx, rdx::MaxC<A>{}, sh, ln, l);
    A sum = 0;
    if (live)
      for (int64_t j = ln.ty; j < n; j += l.y) sum += exp(static_cast<A>(load(x[b + g.roff(j)])) - mx);
    sum = rdx::group_reduce(sum, rdx::SumC<A>{}, sh, ln, l);
    if (live) {
      const A log_sum = log(sum);
      for (int64_t j = ln.ty; j < n; j += l.y) {
        const int64_t at = b + g.roff(j);
        const A v = load(x[at]);
        if constexpr (K == Kind::LogSoftmax) y[at] = store<T>(v - mx - log_sum);
        else y[at] = store<T>(exp(v - mx) / sum);
      }
    }
  }
}

// Softmax / LogSoftmax of contiguous rows held in registers.
template <typename T, Kind K>
__global__ void __launch_bounds__(1024) softmax_row_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t count,
                                                           int n) {
  using A = Acc<T>;
  __shared__ A sh[32];
  A v[rows::k_vpt];
  KILN_ROWS(r, count) {
    rows::load(v, x + r * n, n, -std::numeric_limits<A>::infinity());
    rows::softmax<K == Kind::LogSoftmax>(v, n, y + r * n, sh);
  }
}

// Hardmax: 1 at the CPU's argmax (the first maximum; NaN is never greater, so
// a NaN first element wins and later NaNs lose), 0 elsewhere.
template <typename A>
struct HardArg {
  A v;
  int64_t i;  // -1: none yet
  int cls;    // 2: NaN at index 0, 1: a number, 0: a later NaN
};
template <typename A>
struct HardC {
  __device__ HardArg<A> combine(HardArg<A> a, HardArg<A> b) const {
    if (a.i < 0) return b;
    if (b.i < 0) return a;
    if (a.cls != b.cls) return a.cls > b.cls ? a : b;
    if (a.cls == 1 && a.v != b.v) return a.v > b.v ? a : b;
    return a.i < b.i ? a : b;
  }
};

template <typename T>
__global__ void __launch_bounds__(k_threads)
    hardmax_kernel(const T* __restrict__ x, T* __restrict__ y, ReduceGeom g, Launch l) {
  using A = Acc<T>;
  using H = HardArg<A>;
  H* sh = rdx::shared_slots<H>();
  const Lanes ln = rdx::lanes(l);
  const HardC<A> c;
  for (int64_t ob = blockIdx.x * static_cast<int64_t>(l.x); ob < g.outputs; ob += static_cast<int64_t>(gridDim.x) * l.x) {
    const int64_t o = ob + ln.tx;
    const bool live = o < g.outputs;
    const int64_t b = live ? g.base(o) : 0;
    H best{A(0), -1, 0};
    if (live)
      for (int64_t j = ln.ty; j < g.count; j += l.y) {
        const A v = load(x[b + g.roff(j)]);
        best = c.combine(best, H{v, j, isnan(v) ? (j == 0 ? 2 : 0) : 1});
      }
    best = rdx::group_reduce(best, c, sh, ln, l);
    if (live)
      for (int64_t j = ln.ty; j < g.count; j += l.y) y[b + g.roff(j)] = store<T>(A(j == best.i ? 1 : 0));
  }
}

template <Kind K>
void run_softmax(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const params::SoftmaxPlan p = params::softmax_plan(ctx);
  Tensor& y = ctx.output(0, x.dtype(), x.shape());
  if (x.numel() == 0) return;
  const ReduceGeom g = rdx::axis_geom(p.outer, p.n, p.inner);
  const Launch l = rdx::plan_launch(g, false);
  const cudaStream_t s = cuda_stream(ctx).get();
  dispatch_float(x.dtype(), ctx, [&](auto tag) {
    using T = decltype(tag);
    const T* xp = static_cast<const T*>(x.raw());
    T* yp = static_cast<T*>(y.raw());
    if constexpr (K == Kind::Hardmax) {
      hardmax_kernel<T><<<l.blocks, k_threads, 0, s>>>(xp, yp, g, l);
      KILN_CUDA_LAUNCH("hardmax_kernel");
    } else if (p.inner == 1 && p.n <= rows::k_max) {
      const rows::Launch rl = rows::plan(p.outer, p.n);
      softmax_row_kernel<T, K><<<rl.blocks, rl.threads, 0, s>>>(xp, yp, p.outer, static_cast<int>(p.n));
      KILN_CUDA_LAUNCH("softmax_row_kernel");
    } else {
      softmax_kernel<T, K><<<l.blocks, k_threads, 0, s>>>(xp, yp, g, l);
      KILN_CUDA_LAUNCH("softmax_kernel");
    }
  });
}

void check_softmax(const ir::Node& n, const ir::Graph& g) { rdx::require_input_dtype(n, g, 0, rdx::k_float_types); }

}  // namespace

void register_cuda_nn_softmax(KernelRegistry& r) {
  rdx::add_checked(r, "Softmax", check_softmax, run_softmax<Kind::Softmax>);
  rdx::add_checked(r, "LogSoftmax", check_softmax, run_softmax<Kind::LogSoftmax>);
  rdx::add_checked(r, "Hardmax", check_softmax, run_softmax<Kind::Hardmax>);
}

}  // namespace kiln::backend::cuda
