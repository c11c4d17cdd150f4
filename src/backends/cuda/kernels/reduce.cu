// Reduce* on CUDA, over the reduction engine (reduce_engine.cuh). As the CPU:
// float types accumulate in double, integers in 64-bit integers; an empty
// reduction gives the op's identity (0 for the sums, 1 for ReduceProd, the
// lowest/highest value for ReduceMax/ReduceMin, -inf for ReduceLogSum(Exp),
// NaN for a float ReduceMean, 0 for an integer one). ReduceLogSumExp takes two
// passes (the row max, then the shifted sum) as the CPU does.
#include <cstring>

#include "backends/cuda/kernels/families.h"
#include "backends/cuda/kernels/reduce_engine.cuh"
#include "core/dispatch.h"
#include "ir/ops/reduce_attrs.h"

namespace kiln::backend::cuda {

namespace {

using rdx::Launch;
using rdx::ReduceGeom;

enum class Kind { Sum, Mean, Max, Min, Prod, L1, L2, LogSum, SumSquare, LseMax, LseSum, LogSumExp };

template <typename T>
using IntAcc = std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>;
// Accumulator of kind K on T: double for floats and for the log-sum-exp
// passes, 64-bit integers otherwise (bool as uint64).
template <typename T, Kind K>
using RAcc = std::conditional_t<std::is_integral_v<T> && K != Kind::LseMax && K != Kind::LseSum, IntAcc<T>, double>;

// A double result into T: integers truncate and saturate (NaN gives 0).
template <typename T>
__device__ inline T store_from_double(double v) {
  if constexpr (std::is_integral_v<T>) {
    if (isnan(v)) return T(0);
    if (v <= static_cast<double>(std::numeric_limits<T>::lowest())) return std::numeric_limits<T>::lowest();
    if (v >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
    return static_cast<T>(v);
  } else {
    return store<T>(v);
  }
}

template <typename T, Kind K>
struct ReduceOp {
  using Acc = RAcc<T, K>;
  using Out = std::conditional_t<K == Kind::LseMax, double, T>;  // LseMax: the row max, for LseSum
  int64_t count = 1;          // elements per row (ReduceMean)
  const double* mx = nullptr;  // LseSum: each row's max

  __device__ Acc identity() const {
    constexpr bool is_int = std::is_integral_v<Acc>;
    if constexpr (K == Kind::Prod) return Acc(1);
    else if constexpr (K == Kind::Max || K == Kind::LseMax) {
      if constexpr (is_int) return static_cast<Acc>(std::numeric_limits<T>::lowest());
      else return -std::numeric_limits<double>::infinity();
    } else if constexpr (K == Kind::Min) {
      if constexpr (is_int) return static_cast<Acc>(std::numeric_limits<T>::max());
      else return std::numeric_limits<double>::infinity();
    } else {
      return Acc(0);
    }
  }
  __device__ Acc map(T v, int64_t, int64_t o) const {
    const Acc a = static_cast<Acc>(load(v));
    if constexpr (K == Kind::SumSquare || K == Kind::L2) return a * a;
    else if constexpr (K == Kind::L1) {
      if constexpr (std::is_unsigned_v<Acc>) return a;
      else return a < 0 ? -a : a;
    } else if constexpr (K == Kind::LseSum) {
      return exp(a - mx[o]);
    } else {
      return a;
    }
  }
  __device__ Acc combine(Acc a, Acc b) const {
    if constexpr (K == Kind::Max || K == Kind::LseMax || K == Kind::Min) {
      // NaN wins, as in the CPU's running comparison.
      if constexpr (!std::is_integral_v<Acc>) {
        if (isnan(a)) return a;
        if (isnan(b)) return b;
      }
      if constexpr (K == Kind::Min) return b < a ? b : a;
      else return b > a ? b : a;
    } else if constexpr (K == Kind::Prod) {
      return a * b;
    } else {
      return a + b;
    }
  }
  __device__ Out finish(Acc a, int64_t o) const {
    if constexpr (K == Kind::Mean) {
      if constexpr (std::is_integral_v<Acc>) return store<T>(count ? a / static_cast<Acc>(count) : Acc(0));
      else return store<T>(a / static_cast<double>(count));
    } else if constexpr (K == Kind::L2) {
      return store_from_double<T>(sqrt(static_cast<double>(a)));
    } else if constexpr (K == Kind::LogSum) {
      return store_from_double<T>(log(static_cast<double>(a)));
    } else if constexpr (K == Kind::LseMax) {
      // All -inf, +inf present or NaN: the plain formula gives the answer.
      return isfinite(a) ? a : 0.0;
    } else if constexpr (K == Kind::LseSum) {
      return store_from_double<T>(log(a) + mx[o]);
    } else {
      return store<T>(a);
    }
  }
};

template <typename T, Kind K>
void reduce_typed(KernelContext& ctx, const ReduceGeom& g, const Tensor& x, Tensor& y) {
  const cudaStream_t s = cuda_stream(ctx).get();
  const Launch l = rdx::plan_launch(g, true);
  const T* xp = static_cast<const T*>(x.raw());
  T* yp = static_cast<T*>(y.raw());
  if constexpr (K == Kind::LogSumExp) {
    using MaxOp = ReduceOp<T, Kind::LseMax>;
    using SumOp = ReduceOp<T, Kind::LseSum>;
    rdx::Scratch ws;
    const size_t mx_at = ws.add(static_cast<size_t>(g.outputs) * sizeof(double));
    // Both passes have the same launch, so they share the partials (stream order).
    const size_t part_at = ws.add(std::max(rdx::partial_bytes<MaxOp>(g, l), rdx::partial_bytes<SumOp>(g, l)));
    ws.bind(ctx);
    double* mx = ws.at<double>(mx_at);
    rdx::run_reduce(g, l, xp, mx, ws.at<void>(part_at), MaxOp{}, s);
    SumOp sum;
    sum.mx = mx;
    rdx::run_reduce(g, l, xp, yp, ws.at<void>(part_at), sum, s);
  } else {
    using Op = ReduceOp<T, K>;
    rdx::Scratch ws;
    const size_t part_at = ws.add(rdx::partial_bytes<Op>(g, l));
    ws.bind(ctx);
    Op op;
    op.count = g.count;
    rdx::run_reduce(g, l, xp, yp, ws.at<void>(part_at), op, s);
  }
}

template <Kind K>
void run_reduce_op(KernelContext& ctx) {
  const ir::Node& node = ctx.node();
  const Tensor& x = ctx.input(0);
  std::optional<std::vector<int64_t>> axes;
  if (ir::reduce_axes_are_input(node, ctx.opset())) {
    if (ctx.has_input(1)) axes = read_ints(ctx.input(1));  // a host input (cuda_backend.cpp)
  } else if (node.attr("axes")) {
    axes = node.attr_ints("axes");
  }
  const ir::ReducePlan plan = ir::plan_reduce(node, axes, x.rank(), ErrorCode::InvalidArgument);
  Tensor& y = ctx.output(0, x.dtype(), ir::reduced_shape(plan, x.shape()));
  constexpr bool bool_ok = K == Kind::Max || K == Kind::Min;
  if (x.dtype() == DataType::Bool && !bool_ok) unsupported(ctx, x.dtype());
  if (plan.noop) {
    if (x.nbytes())
      KILN_CUDA(cudaMemcpyAsync(y.raw(), x.raw(), x.nbytes(), cudaMemcpyDeviceToDevice, cuda_stream(ctx).get()));
    return;
  }
  if (y.numel() == 0) return;
  if (x.rank() > k_max_dims)
    throw Error(ErrorCode::Unsupported, node.label() + ": rank " + std::to_string(x.rank()) + " on cuda");
  const ReduceGeom g = rdx::make_geom(x.shape(), plan.reduced);
  auto body = [&](auto tag) { reduce_typed<decltype(tag), K>(ctx, g, x, y); };
  if constexpr (bool_ok) dispatch_all(x.dtype(), ctx, body);
  else dispatch_numeric(x.dtype(), ctx, body);
}

template <Kind K>
void add_reduce(KernelRegistry& r, const char* op) {
  constexpr bool bool_ok = K == Kind::Max || K == Kind::Min;
  rdx::add_checked(
      r, op,
      [](const ir::Node& n, const ir::Graph& g) {
        if (!n.inputs.empty() && n.inputs[0] != ir::k_no_value) {
          const DataType dt = g.value(n.inputs[0]).dtype;
          if (dt != DataType::Undefined && !(bool_ok && dt == DataType::Bool))
            rdx::require_input_dtype(n, g, 0, rdx::k_numeric_types);
          require_rank(n, g, n.inputs[0]);
        }
      },
      run_reduce_op<K>);
}

}  // namespace

void register_cuda_reduce(KernelRegistry& r) {
  add_reduce<Kind::Sum>(r, "ReduceSum");
  add_reduce<Kind::Mean>(r, "ReduceMean");
  add_reduce<Kind::Max>(r, "ReduceMax");
  add_reduce<Kind::Min>(r, "ReduceMin");
  add_reduce<Kind::Prod>(r, "ReduceProd");
  add_reduce<Kind::L1>(r, "ReduceL1");
  add_reduce<Kind::L2>(r, "ReduceL2");
  add_reduce<Kind::LogSum>(r, "ReduceLogSum");
  add_reduce<Kind::LogSumExp>(r, "ReduceLogSumExp");
  add_reduce<Kind::SumSquare>(r, "ReduceSumSquare");
  rdx::register_reduce_arg(r);
  rdx::register_reduce_topk(r);
  rdx::register_reduce_quant(r);
}

}  // namespace kiln::backend::cuda
