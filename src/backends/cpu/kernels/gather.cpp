// Indexing kernels that read by index: Gather, GatherElements, GatherND, OneHot,
// Compress. They move whole elements or rows as bytes; an index out of range is
// a kiln::Error naming the node (OneHot alone defines it: the row stays "off").
#include <cstring>

#include "backends/cpu/kernels/copy_strided.h"
#include "backends/cpu/kernels/tensor_kernels.h"
#include "core/dispatch.h"

namespace kiln::backend::cpu {

namespace {

using ir::to_sym;

int64_t prod(const Shape& s, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end; ++i) p *= s[i];
  return p;
}

// Reads an index tensor, wrapping negatives against dim; fails on out-of-range.
std::vector<int64_t> read_indices(const KernelContext& ctx, const Tensor& t, int64_t dim) {
  if (t.dtype() != DataType::Int32 && t.dtype() != DataType::Int64)
    ctx.fail("indices must be int32 or int64, got " + std::string(dtype_name(t.dtype())));
  std::vector<int64_t> idx = read_ints(t);
  for (int64_t& i : idx) {
    if (i < -dim || i >= dim)
      ctx.fail("index " + std::to_string(i) + " is out of range for a dim of size " + std::to_string(dim));
    if (i < 0) i += dim;
  }
  return idx;
}

void gather(KernelContext& ctx) {
  const Tensor &data = ctx.input(0), &indices = ctx.input(1);
  const auto fail = fail_of(ctx);
  const Shape shape = concrete(ctx, ir::rules::gather(fail, to_sym(data.shape()), to_sym(indices.shape()),
                                                      ctx.node().attr_i("axis", 0)));
  const size_t a = static_cast<size_t>(ir::rules::norm_axis(fail, ctx.node().attr_i("axis", 0), data.rank()));
  const int64_t dim = data.shape()[a];
  const std::vector<int64_t> idx = read_indices(ctx, indices, dim);
  Tensor& out = ctx.output(0, data.dtype(), shape);
  const int64_t outer = prod(data.shape(), 0, a);
  const size_t row = static_cast<size_t>(prod(data.shape(), a + 1, data.shape().size())) * dtype_size(data.dtype());
  const int64_t n = static_cast<int64_t>(idx.size());
  const std::byte* src = bytes_of(data);
  std::byte* dst = bytes_of(out);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < n; ++j)
      std::memcpy(dst + static_cast<size_t>(o * n + j) * row, src + static_cast<size_t>(o * dim + idx[static_cast<size_t>(j)]) * row, row);
}

void gather_elements(KernelContext& ctx) {
  const Tensor &data = ctx.input(0), &indices = ctx.input(1);
  if (data.rank() != indices.rank()) ctx.fail("data and indices differ in rank");
  const size_t a = static_cast<size_t>(ir::rules::norm_axis(fail_of(ctx), ctx.node().attr_i("axis", 0), data.rank()));
  for (size_t d = 0; d < data.shape().size(); ++d)
    if (d != a && indices.shape()[d] > data.shape()[d])
      ctx.fail("indices " + shape_str(indices.shape()) + " exceed data " + shape_str(data.shape()) + " outside the axis");
  const std::vector<int64_t> idx = read_indices(ctx, indices, data.shape()[a]);
  Tensor& out = ctx.output(0, data.dtype(), indices.shape());
  const Strides ds = contiguous_strides(data.shape());
  const Shape& shape = indices.shape();
  const size_t rank = shape.size();
  dispatch_bytes(dtype_size(data.dtype()), [&](auto tag) {
    using U = decltype(tag);
    const U* src = data.data<U>();
    U* dst = out.data<U>();
    std::vector<int64_t> i(rank, 0);
    for (size_t k = 0; k < idx.size(); ++k) {
      int64_t off = 0;
      for (size_t d = 0; d < rank; ++d) off += (d == a ? idx[k] : i[d]) * ds[d];
      dst[k] = src[off];
      for (size_t d = rank; d-- > 0;) {  // odometer over the output index
        if (++i[d] < shape[d]) break;
        i[d] = 0;
      }
    }
  });
}

void gather_nd(KernelContext& ctx) {
  const Tensor &data = ctx.input(0), &indices = ctx.input(1);
  if (indices.dtype() != DataType::Int64) ctx.fail("indices must be int64");
  const int64_t b = ctx.node().attr_i("batch_dims", 0);
  const auto out_shape = ir::rules::gather_nd(fail_of(ctx), to_sym(data.shape()), to_sym(indices.shape()), b);
  const Shape shape = concrete(ctx, *out_shape);
  Tensor& out = ctx.output(0, data.dtype(), shape);
  const Shape &ds = data.shape(), &is = indices.shape();
  const size_t bb = static_cast<size_t>(b);
  const int64_t m = is.back();
  const int64_t batches = prod(ds, 0, bb), per_batch = prod(is, bb, is.size() - 1);
  const int64_t batch_stride = prod(ds, bb, ds.size());
  const size_t row = static_cast<size_t>(prod(ds, bb + static_cast<size_t>(m), ds.size())) * dtype_size(data.dtype());
  const Strides strides = contiguous_strides(ds);
  const int64_t* ix = indices.data<int64_t>();
  const size_t es = dtype_size(data.dtype());
  for (int64_t n = 0; n < batches; ++n) {
    for (int64_t j = 0; j < per_batch; ++j) {
      const int64_t* t = ix + (n * per_batch + j) * m;
      int64_t off = n * batch_stride;
      for (int64_t k = 0; k < m; ++k) {
        const size_t d = bb + static_cast<size_t>(k);
        int64_t v = t[k];
        if (v < -ds[d] || v >= ds[d])
          ctx.fail("index " + std::to_string(v) + " is out of range for data dim " + std::to_string(d) + " of size " +
                   std::to_string(ds[d]));
        off += (v < 0 ? v + ds[d] : v) * strides[d];
      }
      std::memcpy(bytes_of(out) + static_cast<size_t>(n * per_batch + j) * row, bytes_of(data) + static_cast<size_t>(off) * es, row);
    }
  }
}

void one_hot(KernelContext& ctx) {
  const Tensor &indices = ctx.input(0), &depth_t = ctx.input(1), &values = ctx.input(2);
  if (depth_t.numel() != 1) ctx.fail("depth must hold one value");
  if (values.numel() != 2) ctx.fail("values must hold [off, on]");
  const double dv = read_double(depth_t, 0);
  if (!(dv >= 0)) ctx.fail("depth must be >= 0");
  const int64_t depth = static_cast<int64_t>(dv);
  const int64_t axis = ctx.node().attr_i("axis", -1);
  const Shape shape = concrete(ctx, ir::rules::onehot(fail_of(ctx), to_sym(indices.shape()), ir::Dim(depth), axis));
  Tensor& out = ctx.output(0, values.dtype(), shape);
  const size_t es = dtype_size(values.dtype());
  fill_elems(out.raw(), out.numel(), values.raw(), es);
  const size_t a = static_cast<size_t>(axis < 0 ? axis + indices.rank() + 1 : axis);
  const int64_t inner = prod(indices.shape(), a, indices.shape().size());
  const int64_t n = indices.numel();
  const std::byte* on = bytes_of(values) + es;
  for (int64_t p = 0; p < n; ++p) {
    int64_t i = read_int(indices, p);
    if (i < 0) i += depth;
    if (i < 0 || i >= depth) continue;
    const int64_t o = p / inner, r = p % inner;
    std::memcpy(bytes_of(out) + static_cast<size_t>((o * depth + i) * inner + r) * es, on, es);
  }
}

void compress(KernelContext& ctx) {
  const Tensor &in = ctx.input(0), &cond = ctx.input(1);
  if (cond.rank() != 1) ctx.fail("condition must be 1-D, got " + shape_str(cond.shape()));
  const bool has_axis = ctx.node().attr("axis") != nullptr;
  const size_t a = has_axis ? static_cast<size_t>(ir::rules::norm_axis(fail_of(ctx), ctx.node().attr_i("axis", 0), in.rank())) : 0;
  const int64_t dim = has_axis ? in.shape()[a] : in.numel();
  std::vector<int64_t> picked;
  for (int64_t i = 0; i < cond.numel(); ++i) {
    if (read_double(cond, i) == 0) continue;
    if (i >= dim) ctx.fail("condition selects index " + std::to_string(i) + " beyond the dim of size " + std::to_string(dim));
    picked.push_back(i);
  }
  Shape shape = has_axis ? in.shape() : Shape{0};
  shape[a] = static_cast<int64_t>(picked.size());
  Tensor& out = ctx.output(0, in.dtype(), shape);
  const int64_t outer = has_axis ? prod(in.shape(), 0, a) : 1;
  const size_t row = static_cast<size_t>(has_axis ? prod(in.shape(), a + 1, in.shape().size()) : 1) * dtype_size(in.dtype());
  const int64_t k = static_cast<int64_t>(picked.size());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < k; ++j)
      std::memcpy(bytes_of(out) + static_cast<size_t>(o * k + j) * row,
                  bytes_of(in) + static_cast<size_t>(o * dim + picked[static_cast<size_t>(j)]) * row, row);
}

}  // namespace

void register_gather_kernels(KernelRegistry& r) {
  r.add_fn("Gather", gather);
  r.add_fn("GatherElements", gather_elements);
  r.add_fn("GatherND", gather_nd);
  r.add_fn("OneHot", one_hot);
  r.add_fn("Compress", compress);
}

}  // namespace kiln::backend::cpu
