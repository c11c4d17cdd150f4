// ArgMax and ArgMin on CUDA, over the reduction engine. The combine is a total
// order on (value, index), so any tree order gives the CPU's answer: the first
// NaN if there is one, else the extreme value at the lowest index (the highest
// with select_last_index=1).
#include "backends/cuda/kernels/reduce_engine.cuh"

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
  const ir::Node& node = ctx.node();
  const Tensor& x = ctx.input(0);
  if (x.rank() == 0) ctx.fail("input must have rank >= 1");
  const int64_t rank = x.rank();
  int64_t axis = node.attr_i("axis", 0);
  if (axis < -rank || axis >= rank)
    ctx.fail("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  if (axis < 0) axis += rank;
  const auto ax = static_cast<size_t>(axis);
  const bool last = node.attr_i("select_last_index", 0) != 0;
  Shape out = x.shape();
  if (node.attr_i("keepdims", 1) != 0) out[ax] = 1;
  else out.erase(out.begin() + static_cast<std::ptrdiff_t>(ax));
  if (x.shape()[ax] == 0) ctx.fail("cannot take the arg of an empty axis");
  Tensor& y = ctx.output(0, DataType::Int64, out);
  if (y.numel() == 0) return;
  int64_t outer = 1, inner = 1;
  for (size_t d = 0; d < ax; ++d) outer *= x.shape()[d];
  for (size_t d = ax + 1; d < x.shape().size(); ++d) inner *= x.shape()[d];
  const ReduceGeom g = axis_geom(outer, x.shape()[ax], inner);
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
