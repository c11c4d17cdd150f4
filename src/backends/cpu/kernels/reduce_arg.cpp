// ArgMax, ArgMin and TopK. Ties go to the lowest index (ArgMax/ArgMin: the
// highest with select_last_index=1). NaN behaves as in numpy: ArgMax and
// ArgMin report the first NaN; TopK sorts NaN as the largest value. TopK
// always returns sorted results, which sorted=0 permits.
#include <algorithm>
#include <numeric>
#include <vector>

#include "backends/cpu/kernels/reduce_kernels.h"
#include "backends/kernel_params.h"

namespace kiln::backend {

namespace {

using reduce::AxisSplit;
using reduce::Calc;
using reduce::is_nan;

template <bool Max, typename T>
void arg_typed(const Tensor& x, Tensor& y, const AxisSplit& sp, bool last) {
  const T* in = x.data<T>();
  int64_t* out = y.data<int64_t>();
  for (int64_t o = 0; o < sp.outer; ++o)
    for (int64_t i = 0; i < sp.inner; ++i) {
      const T* p = in + o * sp.n * sp.inner + i;
      int64_t best = 0;
      Calc<T> bv = static_cast<Calc<T>>(p[0]);
      for (int64_t k = 1; k < sp.n && !is_nan(bv); ++k) {
        const auto v = static_cast<Calc<T>>(p[k * sp.inner]);
        const bool better = is_nan(v) || (Max ? v > bv : v < bv) || (last && v == bv);
        if (better) {
          best = k;
          bv = v;
        }
      }
      out[o * sp.inner + i] = best;
    }
}

template <bool Max>
void run_arg(KernelContext& ctx) {
  const ir::Node& node = ctx.node();
  const Tensor& x = ctx.input(0);
  const params::ArgPlan p = params::arg_plan(ctx);
  const AxisSplit sp{p.outer, p.n, p.inner};
  const bool last = p.last;
  Tensor& y = ctx.output(0, DataType::Int64, p.out);
  dispatch_numeric(x.dtype(), node.label(), [&](auto tag) { arg_typed<Max, decltype(tag)>(x, y, sp, last); });
}

template <typename T>
void topk_typed(const Tensor& x, Tensor& values, Tensor& indices, const AxisSplit& sp, int64_t k, bool largest) {
  using C = Calc<T>;
  const T* in = x.data<T>();
  T* vo = values.data<T>();
  int64_t* io = indices.data<int64_t>();
  std::vector<C> row(static_cast<size_t>(sp.n));
  std::vector<int64_t> order(static_cast<size_t>(sp.n));
  auto before = [&](int64_t a, int64_t b) {
    const C va = row[static_cast<size_t>(a)], vb = row[static_cast<size_t>(b)];
    const bool na = is_nan(va), nb = is_nan(vb);
    if (na || nb) return na && nb ? a < b : (largest ? na : nb);
    if (va != vb) return largest ? va > vb : va < vb;
    return a < b;
  };
  for (int64_t o = 0; o < sp.outer; ++o)
    for (int64_t i = 0; i < sp.inner; ++i) {
      const int64_t base = o * sp.n * sp.inner + i;
      for (int64_t j = 0; j < sp.n; ++j) row[static_cast<size_t>(j)] = static_cast<C>(in[base + j * sp.inner]);
      std::iota(order.begin(), order.end(), int64_t{0});
      std::partial_sort(order.begin(), order.begin() + k, order.end(), before);
      const int64_t obase = o * k * sp.inner + i;
      for (int64_t j = 0; j < k; ++j) {
        const int64_t src = order[static_cast<size_t>(j)];
        vo[obase + j * sp.inner] = in[base + src * sp.inner];
        io[obase + j * sp.inner] = src;
      }
    }
}

void run_topk(KernelContext& ctx) {
  const ir::Node& node = ctx.node();
  const Tensor& x = ctx.input(0);
  const params::TopKPlan p = params::topk_plan(ctx);
  const AxisSplit sp{p.outer, p.n, p.inner};
  const int64_t k = p.k;
  const bool largest = p.largest;
  Tensor& values = ctx.output(0, x.dtype(), p.out);
  Tensor& indices = ctx.output(1, DataType::Int64, p.out);
  dispatch_numeric(x.dtype(), node.label(),
                   [&](auto tag) { topk_typed<decltype(tag)>(x, values, indices, sp, k, largest); });
}

}  // namespace

void register_cpu_arg_topk(KernelRegistry& r) {
  r.add_fn("ArgMax", run_arg<true>);
  r.add_fn("ArgMin", run_arg<false>);
  r.add_fn("TopK", run_topk);
}

}  // namespace kiln::backend
