// Indexing kernels that write by index: ScatterND, ScatterElements and its old
// name Scatter, with the none/add/mul/max/min reductions. The output starts as a
// copy of data; duplicate indices apply in order (the last write wins for none).
#include <algorithm>
#include <cstring>
#include <type_traits>

#include "backends/cpu/kernels/copy_strided.h"
#include "backends/cpu/kernels/tensor_kernels.h"
#include "core/dispatch.h"

namespace kiln::backend::cpu {

namespace {

using Reduction = params::ScatterReduction;

template <typename T>
T combine(T a, T b, Reduction r) {
  if constexpr (std::is_same_v<T, bool>) {
    return (r == Reduction::Add || r == Reduction::Max) ? (a || b) : r == Reduction::None ? b : (a && b);
  } else {
    using A = std::conditional_t<std::is_integral_v<T> || std::is_same_v<T, double>, T, float>;
    const A x = static_cast<A>(a), y = static_cast<A>(b);
    switch (r) {
      case Reduction::None: return b;
      case Reduction::Add: return static_cast<T>(x + y);
      case Reduction::Mul: return static_cast<T>(x * y);
      case Reduction::Max: return std::max(x, y) == x ? a : b;
      case Reduction::Min: return std::min(x, y) == x ? a : b;
    }
    return b;
  }
}

Tensor& copy_data(KernelContext& ctx) {
  const Tensor& data = ctx.input(0);
  Tensor& out = ctx.output(0, data.dtype(), data.shape());
  if (data.nbytes()) std::memcpy(out.raw(), data.raw(), data.nbytes());
  return out;
}

void scatter_nd(KernelContext& ctx) {
  const Tensor &data = ctx.input(0), &indices = ctx.input(1), &updates = ctx.input(2);
  const Reduction red = params::scatter_reduction(ctx);
  const int64_t k = params::scatter_nd_components(ctx);
  const Shape& ds = data.shape();
  Tensor& out = copy_data(ctx);
  const Strides strides = contiguous_strides(ds);
  int64_t slice = 1;
  for (size_t d = static_cast<size_t>(k); d < ds.size(); ++d) slice *= ds[d];
  const int64_t n = indices.numel() / k;
  const int64_t* ix = indices.data<int64_t>();
  dispatch_all(data.dtype(), ctx.node().label(), [&](auto tag) {
    using T = decltype(tag);
    T* o = out.data<T>();
    const T* u = updates.data<T>();
    for (int64_t j = 0; j < n; ++j) {
      int64_t off = 0;
      for (int64_t d = 0; d < k; ++d) {
        const int64_t dim = ds[static_cast<size_t>(d)], v = ix[j * k + d];
        if (v < -dim || v >= dim)
          ctx.fail("index " + std::to_string(v) + " is out of range for data dim " + std::to_string(d) +
                   " of size " + std::to_string(dim));
        off += (v < 0 ? v + dim : v) * strides[static_cast<size_t>(d)];
      }
      for (int64_t e = 0; e < slice; ++e) o[off + e] = combine(o[off + e], u[j * slice + e], red);
    }
  });
}

void scatter_elements(KernelContext& ctx) {
  const Tensor &data = ctx.input(0), &indices = ctx.input(1), &updates = ctx.input(2);
  const Reduction red = params::scatter_reduction(ctx);
  const size_t a = params::scatter_elements_axis(ctx);
  const Shape &ds = data.shape(), &is = indices.shape();
  Tensor& out = copy_data(ctx);
  const std::vector<int64_t> idx = read_ints(indices);
  const Strides strides = contiguous_strides(ds);
  const size_t rank = ds.size();
  dispatch_all(data.dtype(), ctx.node().label(), [&](auto tag) {
    using T = decltype(tag);
    T* o = out.data<T>();
    const T* u = updates.data<T>();
    std::vector<int64_t> i(rank, 0);
    for (size_t k = 0; k < idx.size(); ++k) {
      int64_t v = idx[k];
      if (v < -ds[a] || v >= ds[a])
        ctx.fail("index " + std::to_string(v) + " is out of range for a dim of size " + std::to_string(ds[a]));
      if (v < 0) v += ds[a];
      int64_t off = 0;
      for (size_t d = 0; d < rank; ++d) off += (d == a ? v : i[d]) * strides[d];
      o[off] = combine(o[off], u[k], red);
      for (size_t d = rank; d-- > 0;) {
        if (++i[d] < is[d]) break;
        i[d] = 0;
      }
    }
  });
}

}  // namespace

void register_scatter_kernels(KernelRegistry& r) {
  r.add_fn("ScatterND", scatter_nd);
  r.add_fn("ScatterElements", scatter_elements);
  r.add_fn("Scatter", scatter_elements);
}

}  // namespace kiln::backend::cpu
