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

enum class Reduction { None, Add, Mul, Max, Min };

Reduction reduction_of(const KernelContext& ctx) {
  const std::string r = ctx.node().attr_s("reduction", "none");
  if (r == "none") return Reduction::None;
  if (r == "add") return Reduction::Add;
  if (r == "mul") return Reduction::Mul;
  if (r == "max") return Reduction::Max;
  if (r == "min") return Reduction::Min;
  ctx.fail("unknown reduction '" + r + "'");
}

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
  if (ctx.input(2).dtype() != data.dtype()) ctx.fail("updates and data differ in dtype");
  return out;
}

void scatter_nd(KernelContext& ctx) {
  const Tensor &data = ctx.input(0), &indices = ctx.input(1), &updates = ctx.input(2);
  const Reduction red = reduction_of(ctx);
  if (indices.dtype() != DataType::Int64) ctx.fail("indices must be int64");
  if (indices.rank() < 1) ctx.fail("indices must have rank >= 1");
  const Shape &ds = data.shape(), &is = indices.shape();
  const int64_t k = is.back();
  if (k < 1 || k > data.rank()) ctx.fail("indices' last dim " + std::to_string(k) + " exceeds the data rank");
  Shape want(is.begin(), is.end() - 1);
  want.insert(want.end(), ds.begin() + k, ds.end());
  if (updates.shape() != want)
    ctx.fail("updates " + shape_str(updates.shape()) + " must have shape " + shape_str(want));
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
  const Reduction red = ctx.node().op_type == "Scatter" ? Reduction::None : reduction_of(ctx);
  if (indices.dtype() != DataType::Int32 && indices.dtype() != DataType::Int64)
    ctx.fail("indices must be int32 or int64");
  if (indices.shape() != updates.shape()) ctx.fail("indices and updates differ in shape");
  if (data.rank() != indices.rank()) ctx.fail("data and indices differ in rank");
  const size_t a = static_cast<size_t>(ir::rules::norm_axis(fail_of(ctx), ctx.node().attr_i("axis", 0), data.rank()));
  const Shape &ds = data.shape(), &is = indices.shape();
  for (size_t d = 0; d < ds.size(); ++d)
    if (d != a && is[d] > ds[d])
      ctx.fail("indices " + shape_str(is) + " exceed data " + shape_str(ds) + " outside the axis");
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
