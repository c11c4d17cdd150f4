// Indexing kernels that read by index: Gather, GatherElements, GatherND, OneHot,
// Compress. They move whole elements or rows as bytes; an index out of range is
// a kiln::Error naming the node (OneHot alone defines it: the row stays "off").
#include <cstring>

#include "backends/cpu/kernels/copy_strided.h"
#include "backends/cpu/kernels/tensor_kernels.h"
#include "core/dispatch.h"

namespace kiln::backend::cpu {

namespace {

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
  const params::GatherPlan p = params::gather_plan(ctx);
  const int64_t dim = p.dim;
  const std::vector<int64_t> idx = read_indices(ctx, indices, dim);
  Tensor& out = ctx.output(0, data.dtype(), p.out);
  const size_t row = static_cast<size_t>(p.inner) * dtype_size(data.dtype());
  const int64_t n = static_cast<int64_t>(idx.size());
  const std::byte* src = bytes_of(data);
  std::byte* dst = bytes_of(out);
  for (int64_t o = 0; o < p.outer; ++o)
    for (int64_t j = 0; j < n; ++j)
      std::memcpy(dst + static_cast<size_t>(o * n + j) * row, src + static_cast<size_t>(o * dim + idx[static_cast<size_t>(j)]) * row, row);
}

void gather_elements(KernelContext& ctx) {
  const Tensor &data = ctx.input(0), &indices = ctx.input(1);
  const size_t a = params::gather_elements_axis(ctx);
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
  const params::GatherNdPlan p = params::gather_nd_plan(ctx);
  Tensor& out = ctx.output(0, data.dtype(), p.out);
  const Shape& ds = data.shape();
  const size_t bb = p.batch_dims;
  const int64_t m = p.m, batches = p.batches, per_batch = p.per_batch, batch_stride = p.batch_stride;
  const size_t row = static_cast<size_t>(p.row) * dtype_size(data.dtype());
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
  const Tensor &indices = ctx.input(0), &values = ctx.input(2);
  const params::OneHotPlan p = params::one_hot_plan(ctx);
  const int64_t depth = p.depth, inner = p.inner;
  Tensor& out = ctx.output(0, values.dtype(), p.out);
  const size_t es = dtype_size(values.dtype());
  fill_elems(out.raw(), out.numel(), values.raw(), es);
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
  const Tensor& in = ctx.input(0);
  const params::CompressPlan p = params::compress_plan(ctx);
  Tensor& out = ctx.output(0, in.dtype(), p.out);
  const size_t row = static_cast<size_t>(p.inner) * dtype_size(in.dtype());
  const int64_t k = static_cast<int64_t>(p.picked.size());
  for (int64_t o = 0; o < p.outer; ++o)
    for (int64_t j = 0; j < k; ++j)
      std::memcpy(bytes_of(out) + static_cast<size_t>(o * k + j) * row,
                  bytes_of(in) + static_cast<size_t>(o * p.dim + p.picked[static_cast<size_t>(j)]) * row, row);
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
