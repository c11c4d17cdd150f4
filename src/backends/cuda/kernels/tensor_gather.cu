// Ops that read by index: Gather, GatherElements, GatherND, OneHot, Compress.
// They move elements as bytes. An index out of range is an error naming the
// node (as on the CPU): constant indices are checked at build time, others on
// the device, with the verdict read back after the gather; a bad index never
// reads out of bounds (its element is written as zeros). OneHot alone defines
// out-of-range indices: the row stays "off".
#include "backends/cuda/kernels/tensor_util.cuh"

namespace kiln::backend::cuda::tensor {

namespace {

[[noreturn]] void fail_index(const KernelContext& ctx, int64_t v, const std::string& dim) {
  ctx.fail("index " + std::to_string(v) + " is out of range for " + dim);
}

void require_index_dtype(const KernelContext& ctx, const Tensor& t) {
  if (t.dtype() == DataType::Int64 || t.dtype() == DataType::Int32) return;
  ctx.fail("indices must be int32 or int64, got " + std::string(dtype_name(t.dtype())));
}

// ---- Gather ----

void gather(KernelContext& ctx, const std::vector<int64_t>& checked) {
  const Tensor &data = ctx.input(0), &indices = ctx.input(1);
  require_index_dtype(ctx, indices);
  const params::GatherPlan p = params::gather_plan(ctx);
  const int64_t dim = p.dim, n_idx = indices.numel();
  Tensor& out = ctx.output(0, data.dtype(), p.out);
  const bool on_device = n_idx > 0 && checked != std::vector<int64_t>{dim};
  int64_t* slot = nullptr;
  if (on_device) {
    Scratch sc;
    const size_t at = sc.add(2 * sizeof(int64_t));
    slot = reinterpret_cast<int64_t*>(sc.take(ctx) + at);
    clear_flag(ctx, slot);
    check_indices(ctx, indices.raw(), indices.dtype(), n_idx, dim, slot);
  }
  gather_rows(ctx, out.raw(), data.raw(), indices.raw(), indices.dtype(), p.outer, n_idx, dim, p.inner,
              dtype_size(data.dtype()));
  int64_t bad = 0;
  if (on_device && read_flag(ctx, slot, &bad)) fail_index(ctx, bad, "a dim of size " + std::to_string(dim));
}

std::vector<int64_t> axis_dim(const ir::Node& n, const ir::Graph& g) {
  return known_dims(g, n, 0, n.attr_i("axis", 0), 1);
}

// ---- GatherElements ----

template <typename U, typename Ix>
__global__ void gather_elements_kernel(U* __restrict__ out, const U* __restrict__ data, const Ix* __restrict__ idx,
                                       Strided<1> p, int64_t axis_stride, int64_t dim, int64_t n, int64_t* slot) {
  KILN_GRID_STRIDE(i, n) {
    int64_t off[1];
    p.offsets(i, off);  // the data offset of every coordinate but the axis
    int64_t v = static_cast<int64_t>(idx[i]);
    if (v < -dim || v >= dim) {
      if (slot) {
        slot[0] = 1;
        slot[1] = v;
      }
      out[i] = U{};
      continue;
    }
    if (v < 0) v += dim;
    out[i] = data[off[0] + v * axis_stride];
  }
}

void gather_elements(KernelContext& ctx, const std::vector<int64_t>& checked) {
  const Tensor &data = ctx.input(0), &indices = ctx.input(1);
  require_index_dtype(ctx, indices);
  const size_t a = params::gather_elements_axis(ctx);
  const Shape &ds = data.shape(), &is = indices.shape();
  Tensor& out = ctx.output(0, data.dtype(), is);
  const int64_t n = indices.numel(), dim = ds[a];
  if (n == 0) return;
  if (ds.size() > static_cast<size_t>(k_max_dims)) throw Error(ErrorCode::Unsupported, ctx.node().label() + ": rank > 8 on cuda");
  const std::vector<int64_t> st = strides_of(ds);
  Strided<1> p;
  p.rank = static_cast<int>(is.size());
  for (size_t d = 0; d < is.size(); ++d) {
    p.dims[d] = is[d];
    p.strides[0][d] = d == a ? 0 : st[d];
  }
  const bool on_device = checked != std::vector<int64_t>{dim};
  int64_t* slot = nullptr;
  if (on_device) {
    Scratch sc;
    const size_t at = sc.add(2 * sizeof(int64_t));
    slot = reinterpret_cast<int64_t*>(sc.take(ctx) + at);
    clear_flag(ctx, slot);
  }
  cudaStream_t stream = cuda_stream(ctx).get();
  dispatch_bytes(dtype_size(data.dtype()), ctx, [&](auto tag) {
    using U = decltype(tag);
    if (indices.dtype() == DataType::Int32)
      gather_elements_kernel<U, int32_t><<<grid_for(n), k_threads, 0, stream>>>(
          out.data<U>(), data.data<U>(), indices.data<int32_t>(), p, st[a], dim, n, slot);
    else
      gather_elements_kernel<U, int64_t><<<grid_for(n), k_threads, 0, stream>>>(
          out.data<U>(), data.data<U>(), indices.data<int64_t>(), p, st[a], dim, n, slot);
    KILN_CUDA_LAUNCH("gather_elements_kernel");
  });
  int64_t bad = 0;
  if (on_device && read_flag(ctx, slot, &bad)) fail_index(ctx, bad, "a dim of size " + std::to_string(dim));
}

// ---- GatherND ----

struct NdPlan {
  int m = 0;
  int64_t per_batch = 1, batch_stride = 0;
  int64_t dims[k_max_dims] = {};
  int64_t strides[k_max_dims] = {};
};

// The data offset of each index tuple (checked; a bad component reads 0).
__global__ void nd_offsets_kernel(const int64_t* __restrict__ ix, NdPlan p, int64_t tuples, int64_t* __restrict__ offs,
                                  int64_t* slot) {
  KILN_GRID_STRIDE(t, tuples) {
    int64_t off = (t / p.per_batch) * p.batch_stride;
    for (int k = 0; k < p.m; ++k) {
      int64_t v = ix[t * p.m + k];
      const int64_t dim = p.dims[k];
      if (v < -dim || v >= dim) {
        if (slot) {
          slot[0] = 1;
          slot[1] = v;
        }
        v = 0;
      }
      off += (v < 0 ? v + dim : v) * p.strides[k];
    }
    offs[t] = off;
  }
}

// out[t, e] = data[offs[t] / f + e]: rows of `row` units of f elements.
template <typename U>
__global__ void nd_copy_kernel(U* __restrict__ out, const U* __restrict__ data, const int64_t* __restrict__ offs,
                               int64_t f, int64_t row, int64_t n) {
  KILN_GRID_STRIDE(i, n) out[i] = data[offs[i / row] / f + i % row];
}

void gather_nd(KernelContext& ctx, const std::vector<int64_t>& checked) {
  const Tensor &data = ctx.input(0), &indices = ctx.input(1);
  const params::GatherNdPlan plan = params::gather_nd_plan(ctx);
  Tensor& out = ctx.output(0, data.dtype(), plan.out);
  const Shape& ds = data.shape();
  const size_t bb = plan.batch_dims;
  const int64_t m = plan.m;
  const int64_t tuples = plan.batches * plan.per_batch;
  const int64_t row = plan.row;
  if (tuples == 0) return;
  const std::vector<int64_t> st = strides_of(ds);
  NdPlan p;
  p.m = static_cast<int>(m);
  p.per_batch = plan.per_batch;
  p.batch_stride = plan.batch_stride;
  std::vector<int64_t> dims;
  for (int64_t k = 0; k < m; ++k) {
    p.dims[k] = ds[bb + static_cast<size_t>(k)];
    p.strides[k] = st[bb + static_cast<size_t>(k)];
    dims.push_back(p.dims[k]);
  }
  // A bad component reads as 0, in bounds unless its dim is empty: then every
  // tuple is bad and only the check runs.
  const bool empty_dim = std::find(dims.begin(), dims.end(), 0) != dims.end();
  const bool on_device = checked != dims || empty_dim;
  Scratch sc;
  const size_t at_slot = sc.add(2 * sizeof(int64_t)), at_offs = sc.add(static_cast<size_t>(tuples) * sizeof(int64_t));
  char* ws = sc.take(ctx);
  int64_t* slot = on_device ? reinterpret_cast<int64_t*>(ws + at_slot) : nullptr;
  auto* offs = reinterpret_cast<int64_t*>(ws + at_offs);
  if (on_device) clear_flag(ctx, slot);
  cudaStream_t stream = cuda_stream(ctx).get();
  nd_offsets_kernel<<<grid_for(tuples), k_threads, 0, stream>>>(indices.data<int64_t>(), p, tuples, offs, slot);
  KILN_CUDA_LAUNCH("nd_offsets_kernel");
  if (row > 0 && !empty_dim) {
    const size_t es = dtype_size(data.dtype());
    const int64_t f = widen_factor(es, row, {out.raw(), data.raw()});
    const int64_t n = tuples * (row / f);
    dispatch_move(es * static_cast<size_t>(f), [&](auto tag) {
      using U = decltype(tag);
      nd_copy_kernel<U><<<grid_for(n), k_threads, 0, stream>>>(static_cast<U*>(out.raw()),
                                                               static_cast<const U*>(data.raw()), offs, f, row / f, n);
      KILN_CUDA_LAUNCH("nd_copy_kernel");
    });
  }
  int64_t bad = 0;
  if (on_device && read_flag(ctx, slot, &bad)) fail_index(ctx, bad, "its data dim");
}

std::vector<int64_t> nd_dims(const ir::Node& n, const ir::Graph& g) {
  const std::vector<int64_t> m = known_dims(g, n, 1, -1, 1);
  if (m.empty()) return {};
  return known_dims(g, n, 0, n.attr_i("batch_dims", 0), m[0]);
}

// ---- OneHot ----

template <typename T>
__device__ inline int64_t to_i64(T v) {
  if constexpr (std::is_integral_v<T>) return static_cast<int64_t>(v);
  else return static_cast<int64_t>(static_cast<double>(load(v)));
}

template <typename U, typename T>
__global__ void one_hot_kernel(U* __restrict__ out, const T* __restrict__ idx, int64_t depth, int64_t inner, U off,
                               U on, int64_t n) {
  KILN_GRID_STRIDE(i, n) {
    const int64_t r = i % inner, t = i / inner;
    const int64_t c = t % depth, o = t / depth;
    int64_t v = to_i64(idx[o * inner + r]);
    if (v < 0) v += depth;
    out[i] = v == c ? on : off;
  }
}

void one_hot(KernelContext& ctx) {
  const Tensor &indices = ctx.input(0), &depth_t = ctx.input(1), &values = ctx.input(2);
  if (!depth_t.on_host() || !values.on_host())
    throw Error(ErrorCode::Internal, ctx.node().label() + ": depth and values must be in host memory");
  const params::OneHotPlan p = params::one_hot_plan(ctx);
  const int64_t depth = p.depth, inner = p.inner;
  Tensor& out = ctx.output(0, values.dtype(), p.out);
  const int64_t n = out.numel();
  if (n == 0) return;
  const size_t es = dtype_size(values.dtype());
  cudaStream_t stream = cuda_stream(ctx).get();
  dispatch_bytes(es, ctx, [&](auto utag) {
    using U = decltype(utag);
    U off, on;
    std::memcpy(&off, values.raw(), sizeof(U));
    std::memcpy(&on, static_cast<const char*>(values.raw()) + es, sizeof(U));
    dispatch_numeric(indices.dtype(), ctx, [&](auto ttag) {
      using T = decltype(ttag);
      one_hot_kernel<U, T><<<grid_for(n), k_threads, 0, stream>>>(out.data<U>(), indices.data<T>(), depth, inner,
                                                                   off, on, n);
      KILN_CUDA_LAUNCH("one_hot_kernel");
    });
  });
}

void check_one_hot(const ir::Node& n, const ir::Graph& g) {
  const DataType it = dtype_of(g, n, 0), vt = dtype_of(g, n, 2);
  if (it == DataType::Bool || it == DataType::String) unsupported(n, "indices of dtype " + std::string(dtype_name(it)));
  if (vt != DataType::Undefined) {
    const size_t es = dtype_size(vt);
    if (vt == DataType::String || (es != 1 && es != 2 && es != 4 && es != 8))
      unsupported(n, "values of dtype " + std::string(dtype_name(vt)));
  }
}

// ---- Compress ----

void compress(KernelContext& ctx) {
  const Tensor &in = ctx.input(0), &cond = ctx.input(1);
  if (!cond.on_host()) throw Error(ErrorCode::Internal, ctx.node().label() + ": condition must be in host memory");
  const params::CompressPlan p = params::compress_plan(ctx);
  const std::vector<int64_t>& picked = p.picked;
  Tensor& out = ctx.output(0, in.dtype(), p.out);
  if (out.numel() == 0) return;
  // The picked positions are a gather's (valid) indices.
  Scratch sc;
  const size_t at = sc.add(picked.size() * sizeof(int64_t));
  void* idx = sc.take(ctx) + at;
  upload(ctx, idx, picked.data(), picked.size() * sizeof(int64_t));
  gather_rows(ctx, out.raw(), in.raw(), idx, DataType::Int64, p.outer, static_cast<int64_t>(picked.size()), p.dim,
              p.inner, dtype_size(in.dtype()));
}

}  // namespace

void register_gather(KernelRegistry& r) {
  add_indexed_op(r, "Gather", gather, [](const ir::Node& n, const ir::Graph& g) {
    check_movable(n, g);  // rows of any rank: no strided walk
    check_index_dtype(n, g, 1);
  }, 1, axis_dim);
  add_indexed_op(r, "GatherElements", gather_elements, [](const ir::Node& n, const ir::Graph& g) {
    check_movable_ranked(n, g);
    check_index_dtype(n, g, 1);
  }, 1, axis_dim);
  add_indexed_op(r, "GatherND", gather_nd, [](const ir::Node& n, const ir::Graph& g) {
    check_movable_ranked(n, g);
    check_index_dtype(n, g, 1, true);
  }, 1, nd_dims);
  add_op(r, "OneHot", one_hot, check_one_hot);
  add_op(r, "Compress", compress, check_movable, /*capturable=*/false);  // uploads a pageable table per run
}

}  // namespace kiln::backend::cuda::tensor
