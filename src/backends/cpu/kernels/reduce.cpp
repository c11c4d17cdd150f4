// Reduce* kernels. One pass over the input in memory order accumulates each
// element into the output element it reduces to (float types in double, integer
// types in 64-bit integers), then a finishing step per output element. An empty
// reduction yields the op's identity: 0 for the sums, 1 for ReduceProd, the
// lowest value (-inf) for ReduceMax, the highest (+inf) for ReduceMin, -inf for
// ReduceLogSum(Exp) and NaN for a float ReduceMean (0 for an integer one).
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "backends/cpu/kernels/families.h"
#include "backends/cpu/kernels/reduce_kernels.h"
#include "ir/ops/reduce_attrs.h"

namespace kiln::backend {

namespace {

enum class Op { Sum, Mean, Max, Min, Prod, L1, L2, LogSum, LogSumExp, SumSquare };

template <typename T>
using Acc = std::conditional_t<std::is_integral_v<T>, std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>,
                               double>;

template <typename T>
Acc<T> load(T v) {
  if constexpr (std::is_integral_v<T>) return static_cast<Acc<T>>(v);
  else return static_cast<double>(static_cast<reduce::Calc<T>>(v));
}

template <typename T, typename A>
T store(A v) {
  if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) {
    return T(static_cast<float>(v));
  } else if constexpr (std::is_same_v<T, bool>) {
    return v != 0;
  } else if constexpr (std::is_integral_v<T> && std::is_floating_point_v<A>) {
    // Integer results of sqrt/log: truncate, saturating instead of overflowing.
    if (std::isnan(v)) return T(0);
    if (v <= static_cast<A>(std::numeric_limits<T>::lowest())) return std::numeric_limits<T>::lowest();
    if (v >= static_cast<A>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
    return static_cast<T>(v);
  } else {
    return static_cast<T>(v);
  }
}

template <typename T>
Acc<T> identity(Op op) {
  using A = Acc<T>;
  switch (op) {
    case Op::Prod: return A(1);
    case Op::Max:
      if constexpr (std::is_integral_v<T>) return static_cast<A>(std::numeric_limits<T>::lowest());
      else return -std::numeric_limits<double>::infinity();
    case Op::Min:
      if constexpr (std::is_integral_v<T>) return static_cast<A>(std::numeric_limits<T>::max());
      else return std::numeric_limits<double>::infinity();
    default: return A(0);
  }
}

template <typename A>
A magnitude(A v) {
  if constexpr (std::is_unsigned_v<A>) return v;
  else return v < 0 ? -v : v;
}

// log(sum(exp(x))) shifted by the running max so large inputs do not overflow.
template <typename T>
void log_sum_exp(const Tensor& x, Tensor& y, const std::vector<int64_t>& ostride) {
  const T* in = x.data<T>();
  const auto m = static_cast<size_t>(y.numel());
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> mx(m, -inf), sum(m, 0.0);
  auto val = [&](int64_t i) { return static_cast<double>(static_cast<reduce::Calc<T>>(in[i])); };
  reduce::walk(x.shape(), ostride, [&](int64_t i, int64_t o) {
    const double v = val(i);
    if (v > mx[o] || std::isnan(v)) mx[o] = v;
  });
  for (double& v : mx)
    if (!std::isfinite(v)) v = 0;  // all -inf, +inf present or NaN: the plain formula gives the answer
  reduce::walk(x.shape(), ostride, [&](int64_t i, int64_t o) { sum[o] += std::exp(val(i) - mx[o]); });
  T* out = y.data<T>();
  for (size_t o = 0; o < m; ++o) out[o] = store<T>(std::log(sum[o]) + mx[o]);
}

template <typename T>
void reduce_typed(Op op, const Tensor& x, Tensor& y, const std::vector<int64_t>& ostride, int64_t count) {
  using A = Acc<T>;
  if (op == Op::LogSumExp) return log_sum_exp<T>(x, y, ostride);
  const T* in = x.data<T>();
  const auto m = static_cast<size_t>(y.numel());
  std::vector<A> acc(m, identity<T>(op));
  const Shape& s = x.shape();
  switch (op) {
    case Op::Sum:
    case Op::Mean:
    case Op::LogSum: reduce::walk(s, ostride, [&](int64_t i, int64_t o) { acc[o] += load(in[i]); }); break;
    case Op::SumSquare:
    case Op::L2:
      reduce::walk(s, ostride, [&](int64_t i, int64_t o) {
        const A v = load(in[i]);
        acc[o] += v * v;
      });
      break;
    case Op::L1: reduce::walk(s, ostride, [&](int64_t i, int64_t o) { acc[o] += magnitude(load(in[i])); }); break;
    case Op::Prod: reduce::walk(s, ostride, [&](int64_t i, int64_t o) { acc[o] *= load(in[i]); }); break;
    case Op::Max:
      reduce::walk(s, ostride, [&](int64_t i, int64_t o) {
        const A v = load(in[i]);
        if (v > acc[o] || reduce::is_nan(v)) acc[o] = v;
      });
      break;
    case Op::Min:
      reduce::walk(s, ostride, [&](int64_t i, int64_t o) {
        const A v = load(in[i]);
        if (v < acc[o] || reduce::is_nan(v)) acc[o] = v;
      });
      break;
    case Op::LogSumExp: break;
  }
  T* out = y.data<T>();
  for (size_t o = 0; o < m; ++o) {
    const A a = acc[o];
    switch (op) {
      case Op::Mean:
        if constexpr (std::is_integral_v<A>) out[o] = store<T>(count ? a / static_cast<A>(count) : A(0));
        else out[o] = store<T>(a / static_cast<double>(count));
        break;
      case Op::L2: out[o] = store<T>(std::sqrt(static_cast<double>(a))); break;
      case Op::LogSum: out[o] = store<T>(std::log(static_cast<double>(a))); break;
      default: out[o] = store<T>(a);
    }
  }
}

template <Op K>
void run_reduce(KernelContext& ctx) {
  const ir::Node& node = ctx.node();
  const Tensor& x = ctx.input(0);
  std::optional<std::vector<int64_t>> axes;
  if (ir::reduce_axes_are_input(node, ctx.opset())) {
    if (ctx.has_input(1)) axes = read_ints(ctx.input(1));
  } else if (node.attr("axes")) {
    axes = node.attr_ints("axes");
  }
  const ir::ReducePlan plan = ir::plan_reduce(node, axes, x.rank(), ErrorCode::InvalidArgument);
  Tensor& y = ctx.output(0, x.dtype(), ir::reduced_shape(plan, x.shape()));
  if (x.dtype() == DataType::Bool && K != Op::Max && K != Op::Min) unsupported_dtype(x.dtype(), node.label());
  if (plan.noop) {
    if (x.nbytes()) std::memcpy(y.raw(), x.raw(), x.nbytes());
    return;
  }
  int64_t count = 1;
  const std::vector<int64_t> ostride = reduce::reduce_strides(x.shape(), plan.reduced, &count);
  dispatch_all(x.dtype(), node.label(), [&](auto tag) {
    using T = decltype(tag);
    reduce_typed<T>(K, x, y, ostride, count);
  });
}

}  // namespace

void register_cpu_reduce(KernelRegistry& r) {
  r.add_fn("ReduceSum", run_reduce<Op::Sum>);
  r.add_fn("ReduceMean", run_reduce<Op::Mean>);
  r.add_fn("ReduceMax", run_reduce<Op::Max>);
  r.add_fn("ReduceMin", run_reduce<Op::Min>);
  r.add_fn("ReduceProd", run_reduce<Op::Prod>);
  r.add_fn("ReduceL1", run_reduce<Op::L1>);
  r.add_fn("ReduceL2", run_reduce<Op::L2>);
  r.add_fn("ReduceLogSum", run_reduce<Op::LogSum>);
  r.add_fn("ReduceLogSumExp", run_reduce<Op::LogSumExp>);
  r.add_fn("ReduceSumSquare", run_reduce<Op::SumSquare>);
  register_cpu_arg_topk(r);
}

}  // namespace kiln::backend
