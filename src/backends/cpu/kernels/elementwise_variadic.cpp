// Variadic kernels (Sum, Min, Max, Mean: any number of inputs, broadcast
// together) and the ternary Where.
#include <cmath>
#include <vector>

#include "backends/cpu/kernels/elementwise_util.h"

namespace kiln::backend::ew {

namespace {

enum class Var { Sum, Min, Max, Mean };

template <Var K, typename C>
inline C combine(C a, C b) {
  if constexpr (K == Var::Sum || K == Var::Mean) {
    return add_wrap(a, b);
  } else {
    if constexpr (std::is_floating_point_v<C>) {  // NaN wins, as in numpy
      if (std::isnan(a)) return a;
      if (std::isnan(b)) return b;
    }
    if constexpr (K == Var::Min) return b < a ? b : a;
    else return a < b ? b : a;
  }
}

// Accumulates in the compute type (float for 16-bit floats) so Sum/Mean of
// float16 inputs round once, at the end.
template <Var K>
void variadic_kernel(KernelContext& ctx) {
  const Shape so = params::variadic_shape(ctx);
  const size_t n = ctx.num_inputs();
  const DataType dt = ctx.input(0).dtype();
  auto run = [&](auto tag) {
    using T = decltype(tag);
    using C = Compute<T>;
    Tensor& out = ctx.output(0, dt, so);
    std::vector<C> acc(static_cast<size_t>(shape_numel(so)));
    broadcast_copy(ctx.input(0).data<T>(), ctx.input(0).shape(), acc.data(), so,
                   [](T v) { return load(v); });
    for (size_t i = 1; i < n; ++i)
      binary_loop(acc.data(), so, ctx.input(i).data<T>(), ctx.input(i).shape(), acc.data(), so,
                  [](C a, T b) { return combine<K>(a, load(b)); });
    T* po = out.data<T>();
    if constexpr (K == Var::Mean) {
      const C count = static_cast<C>(n);
      for (size_t i = 0; i < acc.size(); ++i) po[i] = store<T>(acc[i] / count);
    } else {
      for (size_t i = 0; i < acc.size(); ++i) po[i] = store<T>(acc[i]);
    }
  };
  if constexpr (K == Var::Mean) dispatch_float(dt, ctx.node().label(), run);
  else dispatch_numeric(dt, ctx.node().label(), run);
}

void where_kernel(KernelContext& ctx) {
  const Tensor& c = ctx.input(0);
  const Tensor& x = ctx.input(1);
  const Tensor& y = ctx.input(2);
  if (c.dtype() != DataType::Bool)
    ctx.fail("condition must be bool, got " + std::string(dtype_name(c.dtype())));
  require_same_dtype(ctx, {1, 2});
  const Shape so = broadcast_shape(ctx, {&c.shape(), &x.shape(), &y.shape()});
  dispatch_all(x.dtype(), ctx.node().label(), [&](auto tag) {
    using T = decltype(tag);
    Tensor& out = ctx.output(0, x.dtype(), so);
    const bool* pc = c.data<bool>();
    const T* px = x.data<T>();
    const T* py = y.data<T>();
    T* po = out.data<T>();
    const int64_t n = shape_numel(so);
    if (c.numel() == n && x.numel() == n && y.numel() == n) {
      for (int64_t i = 0; i < n; ++i) po[i] = pc[i] ? px[i] : py[i];
      return;
    }
    const BroadcastPlan plan = make_plan(so, {&c.shape(), &x.shape(), &y.shape()});
    walk<3>(plan, [&](int64_t oo, const std::array<int64_t, 3>& off, int64_t len,
                      const std::array<int64_t, 3>& st) {
      for (int64_t j = 0; j < len; ++j)
        po[oo + j] = pc[off[0] + j * st[0]] ? px[off[1] + j * st[1]] : py[off[2] + j * st[2]];
    });
  });
}

}  // namespace

void register_ew_variadic(KernelRegistry& r) {
  r.add_fn("Sum", variadic_kernel<Var::Sum>);
  r.add_fn("Min", variadic_kernel<Var::Min>);
  r.add_fn("Max", variadic_kernel<Var::Max>);
  r.add_fn("Mean", variadic_kernel<Var::Mean>);
  r.add_fn("Where", where_kernel);
}

}  // namespace kiln::backend::ew
