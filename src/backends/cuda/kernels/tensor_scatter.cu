// Ops that write by index: ScatterND, ScatterElements and its old name
// Scatter, with the none/add/mul/max/min reductions. The output starts as a
// copy of data. Updates that hit the same place apply in their order, as on
// the CPU, with no atomics: each update's target slot is computed (and its
// indices checked), the (slot, update) pairs are sorted by slot with a stable
// radix sort, and one thread per (slot, element) applies that slot's updates
// in order. So results are deterministic and match the CPU bit for bit (float
// sums included).
#include <limits>

#include <cub/device/device_radix_sort.cuh>

#include "backends/cuda/kernels/tensor_util.cuh"

namespace kiln::backend::cuda::tensor {

namespace {

using Reduction = params::ScatterReduction;

// The CPU's combine(): 16-bit floats compute in float; max/min keep `a` unless
// `b` wins by the std::max/std::min comparison (so a NaN in `a` gives way).
template <typename T>
__device__ inline T combine(T a, T b, int r) {
  if constexpr (std::is_same_v<T, bool>) {
    if (r == static_cast<int>(Reduction::None)) return b;
    return (r == static_cast<int>(Reduction::Add) || r == static_cast<int>(Reduction::Max)) ? (a || b) : (a && b);
  } else {
    const Acc<T> x = load(a), y = load(b);
    switch (r) {
      case static_cast<int>(Reduction::Add): return store<T>(static_cast<Acc<T>>(x + y));
      case static_cast<int>(Reduction::Mul): return store<T>(static_cast<Acc<T>>(x * y));
      case static_cast<int>(Reduction::Max): return (x < y || x != x) ? b : a;
      case static_cast<int>(Reduction::Min): return (y < x || x != x) ? b : a;
      default: return b;
    }
  }
}

// Index tuples of m components (ScatterND) or one component per element
// (ScatterElements, where the other coordinates come from the position).
struct SlotPlan {
  int m = 0;                        // components per update (ScatterND)
  int64_t dims[k_max_dims] = {};    // their dims
  int64_t strides[k_max_dims] = {}; // their slot strides
  int axis = -1;                    // ScatterElements: the axis, with `pos` walking the indices' shape
  Strided<1> pos;                   // ScatterElements: data offset of the non-axis coordinates
};

template <typename Ix>
__global__ void slot_kernel(const Ix* __restrict__ ix, SlotPlan p, int64_t n, uint64_t* __restrict__ keys,
                            uint32_t* __restrict__ vals, int64_t* slot) {
  KILN_GRID_STRIDE(j, n) {
    int64_t key = 0;
    if (p.axis >= 0) {
      int64_t off[1];
      p.pos.offsets(j, off);
      key = off[0];
    }
    for (int k = 0; k < p.m; ++k) {
      int64_t v = static_cast<int64_t>(ix[j * p.m + k]);
      const int64_t dim = p.dims[k];
      if (v < -dim || v >= dim) {
        if (slot) {
          slot[0] = 1;
          slot[1] = v;
        }
        v = 0;  // stays in bounds; the run fails afterwards
      }
      key += (v < 0 ? v + dim : v) * p.strides[k];
    }
    keys[j] = static_cast<uint64_t>(key);
    vals[j] = static_cast<uint32_t>(j);
  }
}

// Thread (q, e): when q starts a run of equal slots, applies that run's
// updates to element e of the slot, in update order.
template <typename T>
__global__ void apply_kernel(T* __restrict__ out, const T* __restrict__ upd, const uint64_t* __restrict__ keys,
                             const uint32_t* __restrict__ vals, int64_t n_upd, int64_t slice, int red) {
  KILN_GRID_STRIDE(i, n_upd * slice) {
    const int64_t q = i / slice, e = i % slice;
    const uint64_t key = keys[q];
    if (q > 0 && keys[q - 1] == key) continue;
    T* o = out + static_cast<int64_t>(key) * slice + e;
    T acc = *o;
    for (int64_t r = q; r < n_upd && keys[r] == key; ++r)
      acc = combine(acc, upd[static_cast<int64_t>(vals[r]) * slice + e], red);
    *o = acc;
  }
}

int key_bits(uint64_t slots) {
  int bits = 1;
  while (bits < 64 && (uint64_t{1} << bits) < slots) ++bits;
  return bits;
}

// Copies data to the output, then applies n_upd updates of `slice` elements.
void scatter(KernelContext& ctx, Reduction red, const Tensor& indices, const Tensor& updates, const SlotPlan& plan,
             int64_t n_upd, int64_t slice, int64_t slots, bool on_device) {
  // A bad index reads as 0 on the device (the run fails afterwards), which is
  // in bounds unless there are no slots at all: that case only checks.
  const Tensor& data = ctx.input(0);
  Tensor& out = ctx.output(0, data.dtype(), data.shape());
  cudaStream_t stream = cuda_stream(ctx).get();
  if (data.nbytes()) KILN_CUDA(cudaMemcpyAsync(out.raw(), data.raw(), data.nbytes(), cudaMemcpyDeviceToDevice, stream));
  if (n_upd == 0) return;
  if (n_upd > std::numeric_limits<int32_t>::max())
    throw Error(ErrorCode::Unsupported, ctx.node().label() + ": more than 2^31 updates on cuda");
  const int bits = key_bits(static_cast<uint64_t>(slots));
  const int num = static_cast<int>(n_upd);
  size_t sort_bytes = 0;
  KILN_CUDA(cub::DeviceRadixSort::SortPairs(nullptr, sort_bytes, static_cast<const uint64_t*>(nullptr),
                                            static_cast<uint64_t*>(nullptr), static_cast<const uint32_t*>(nullptr),
                                            static_cast<uint32_t*>(nullptr), num, 0, bits, stream));
  Scratch sc;
  const size_t n = static_cast<size_t>(n_upd);
  const size_t at_slot = sc.add(2 * sizeof(int64_t)), at_k0 = sc.add(n * 8), at_k1 = sc.add(n * 8),
               at_v0 = sc.add(n * 4), at_v1 = sc.add(n * 4), at_tmp = sc.add(sort_bytes);
  char* ws = sc.take(ctx);
  int64_t* slot = on_device ? reinterpret_cast<int64_t*>(ws + at_slot) : nullptr;
  auto* k0 = reinterpret_cast<uint64_t*>(ws + at_k0);
  auto* k1 = reinterpret_cast<uint64_t*>(ws + at_k1);
  auto* v0 = reinterpret_cast<uint32_t*>(ws + at_v0);
  auto* v1 = reinterpret_cast<uint32_t*>(ws + at_v1);
  if (slots == 0) {  // every index is out of range: check them, apply nothing
    on_device = true;
    slot = reinterpret_cast<int64_t*>(ws + at_slot);
  }
  if (on_device) clear_flag(ctx, slot);
  if (indices.dtype() == DataType::Int32)
    slot_kernel<int32_t><<<grid_for(n_upd), k_threads, 0, stream>>>(indices.data<int32_t>(), plan, n_upd, k0, v0, slot);
  else
    slot_kernel<int64_t><<<grid_for(n_upd), k_threads, 0, stream>>>(indices.data<int64_t>(), plan, n_upd, k0, v0, slot);
  KILN_CUDA_LAUNCH("slot_kernel");
  int64_t bad = 0;
  if (slots == 0) {
    if (read_flag(ctx, slot, &bad)) ctx.fail("index " + std::to_string(bad) + " is out of range for its data dim");
    return;
  }
  KILN_CUDA(cub::DeviceRadixSort::SortPairs(ws + at_tmp, sort_bytes, k0, k1, v0, v1, num, 0, bits, stream));
  const int64_t total = n_upd * slice;
  dispatch_all(data.dtype(), ctx, [&](auto tag) {
    using T = decltype(tag);
    apply_kernel<T><<<grid_for(total), k_threads, 0, stream>>>(out.data<T>(), updates.data<T>(), k1, v1, n_upd, slice,
                                                               static_cast<int>(red));
    KILN_CUDA_LAUNCH("apply_kernel");
  });
  if (on_device && read_flag(ctx, slot, &bad))
    ctx.fail("index " + std::to_string(bad) + " is out of range for its data dim");
}

void scatter_nd(KernelContext& ctx, const std::vector<int64_t>& checked) {
  const Tensor &data = ctx.input(0), &indices = ctx.input(1), &updates = ctx.input(2);
  const Reduction red = params::scatter_reduction(ctx);
  const int64_t k = params::scatter_nd_components(ctx);
  const Shape& ds = data.shape();
  const int64_t slice = prod(ds, static_cast<size_t>(k), ds.size());
  SlotPlan p;
  p.m = static_cast<int>(k);
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < k; ++d) {
    p.dims[d] = ds[static_cast<size_t>(d)];
    p.strides[d] = prod(ds, static_cast<size_t>(d) + 1, static_cast<size_t>(k));  // in slots
    dims.push_back(p.dims[d]);
  }
  const int64_t n_upd = indices.numel() / k;
  scatter(ctx, red, indices, updates, p, n_upd, slice, prod(ds, 0, static_cast<size_t>(k)),
          checked != dims);
}

void scatter_elements(KernelContext& ctx, const std::vector<int64_t>& checked) {
  const Tensor &data = ctx.input(0), &indices = ctx.input(1), &updates = ctx.input(2);
  const Reduction red = params::scatter_reduction(ctx);
  const size_t a = params::scatter_elements_axis(ctx);
  const Shape &ds = data.shape(), &is = indices.shape();
  if (ds.size() > static_cast<size_t>(k_max_dims)) throw Error(ErrorCode::Unsupported, ctx.node().label() + ": rank > 8 on cuda");
  const std::vector<int64_t> st = strides_of(ds);
  SlotPlan p;
  p.m = 1;
  p.dims[0] = ds[a];
  p.strides[0] = st[a];
  p.axis = static_cast<int>(a);
  p.pos.rank = static_cast<int>(is.size());
  for (size_t d = 0; d < is.size(); ++d) {
    p.pos.dims[d] = is[d];
    p.pos.strides[0][d] = d == a ? 0 : st[d];
  }
  scatter(ctx, red, indices, updates, p, indices.numel(), 1, data.numel(), checked != std::vector<int64_t>{ds[a]});
}

void check_scatter(const ir::Node& n, const ir::Graph& g) {
  check_movable_ranked(n, g);
  check_index_dtype(n, g, 1, n.op_type == "ScatterND");
  const DataType dt = dtype_of(g, n, 0);
  if (dt == DataType::Undefined) return;
  if (dt != DataType::Bool && dt != DataType::Float32 && dt != DataType::Float64 && dt != DataType::Float16 &&
      dt != DataType::BFloat16 && dt != DataType::Int8 && dt != DataType::Int16 && dt != DataType::Int32 &&
      dt != DataType::Int64 && dt != DataType::UInt8 && dt != DataType::UInt16 && dt != DataType::UInt32 &&
      dt != DataType::UInt64)
    unsupported(n, "data of dtype " + std::string(dtype_name(dt)));
  const std::string r = n.op_type == "Scatter" ? "none" : n.attr_s("reduction", "none");
  if (r != "none" && r != "add" && r != "mul" && r != "max" && r != "min") unsupported(n, "reduction '" + r + "'");
}

std::vector<int64_t> nd_dims(const ir::Node& n, const ir::Graph& g) {
  const std::vector<int64_t> k = known_dims(g, n, 1, -1, 1);
  return k.empty() ? k : known_dims(g, n, 0, 0, k[0]);
}

std::vector<int64_t> axis_dim(const ir::Node& n, const ir::Graph& g) {
  return known_dims(g, n, 0, n.attr_i("axis", 0), 1);
}

}  // namespace

void register_scatter(KernelRegistry& r) {
  add_indexed_op(r, "ScatterND", scatter_nd, check_scatter, 1, nd_dims);
  add_indexed_op(r, "ScatterElements", scatter_elements, check_scatter, 1, axis_dim);
  add_indexed_op(r, "Scatter", scatter_elements, check_scatter, 1, axis_dim);
}

}  // namespace kiln::backend::cuda::tensor
