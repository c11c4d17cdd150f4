// ArgMax and ArgMin on CUDA, over the reduction engine. The combine is a total
// order on (value, index), so any tree order gives the CPU's answer: the first
// NaN if there is one, else the extreme value at the lowest index (the highest
// with select_last_index=1).
#include "backends/cuda/kernels/reduce_engine.cuh"
#include "backends/kernel_params.h"

namespace kiln::backend::cuda::rdx {

namespace {

template <typename T, bool Max>
struct ArgOp {
  using V = ::kiln::backend::cuda::Acc<T>;  // float for 16-bit floats, else T
  struct Acc {
    V v;
    int64_t i;  // -1: no element yet
  };
  using Out = int64_t;
  bool last = false;

  __device__ Acc identity() const { return Acc{V{}, -1}; }
  __device__ Acc map(T v, int64_t j, int64_t) const { return Acc{load(v), j}; }
  __device__ Acc combine(Acc a, Acc b) const {
    if (a.i < 0) return b;
    if (b.i < 0) return a;
    if constexpr (std::is_floating_point_v<V>) {
      const bool na = isnan(a.v), nb = isnan(b.v);
      if (na || nb) {
        if (na && nb) return a.i < b.i ? a : b;
        return na ? a : b;
      }
    }
    if (a.v != b.v) return (Max ? a.v > b.v : a.v < b.v) ? a : b;
    return (last ? a.i > b.i : a.i < b.i) ? a : b;
  }
  __device__ Out finish(Acc a, int64_t) const { return a.i; }
};

template <bool Max>
void run_arg(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const params::ArgPlan p = params::arg_plan(ctx);
  const bool last = p.last;
  Tensor& y = ctx.output(0, DataType::Int64, p.out);
  if (y.numel() == 0) return;
  const ReduceGeom g = axis_geom(p.outer, p.n, p.inner);
  const Launch l = plan_launch(g, true);
  dispatch_numeric(x.dtype(), ctx, [&](auto tag) {
    using T = decltype(tag);
    using Op = ArgOp<T, Max>;
    Scratch ws;
    const size_t part_at = ws.add(partial_bytes<Op>(g, l));
    ws.bind(ctx);
    Op op;
    op.last = last;
    run_reduce(g, l, static_cast<const T*>(x.raw()), static_cast<int64_t*>(y.raw()), ws.at<void>(part_at), op,
               cuda_stream(ctx).get());
  });
}

void check_arg(const ir::Node& n, const ir::Graph& g) { require_input_dtype(n, g, 0, k_numeric_types); }

}  // namespace

void register_reduce_arg(KernelRegistry& r) {
  add_checked(r, "ArgMax", check_arg, run_arg<true>);
  add_checked(r, "ArgMin", check_arg, run_arg<false>);
}

}  // namespace kiln::backend::cuda::rdx
