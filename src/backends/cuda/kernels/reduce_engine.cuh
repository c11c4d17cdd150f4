// The reduction engine of the reduce and nn-norm kernel files: a reduction
// over a set of axes of a contiguous tensor, seen as output rows (the kept
// dims) of `count` elements each (the reduced dims). Adjacent dims of the same
// kind merge, so the common cases (last axis, spatial axes, one middle axis)
// end as [outer, reduced, inner]; other axis sets walk strided.
//
// A block of k_threads threads holds X rows of Y threads each (X * Y =
// k_threads): Y threads stride along a row and combine through a shared-memory
// tree (group_reduce), so one launch shape serves long rows (a block per row),
// medium contiguous rows (a warp per row), strided rows (32 adjacent rows per
// block, coalesced across rows) and short rows (a thread per row). Very long
// rows with few outputs are split over several blocks whose partial results a
// second kernel combines in a fixed order: results are deterministic.
//
// An engine op (see run_reduce) defines Acc, Out, identity(), map(v, j, o)
// (element j of row o), combine(a, b) and finish(acc, o); row kernels with
// several passes (softmax, norms) use ReduceGeom, Launch, lanes() and
// group_reduce() directly.
#pragma once

#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "backends/cuda/kernels/common.cuh"
#include "kiln/error.h"

namespace kiln::backend::cuda::rdx {

// ---- geometry ----
struct ReduceGeom {
  int64_t outputs = 1;  // rows: product of the kept dims
  int64_t count = 1;    // elements per row: product of the reduced dims
  int kr = 0, rr = 0;   // merged kept / reduced dims
  int64_t kdims[k_max_dims] = {}, kstr[k_max_dims] = {};
  int64_t rdims[k_max_dims] = {}, rstr[k_max_dims] = {};

  // Input offset of row o's first element.
  __host__ __device__ inline int64_t base(int64_t o) const {
    int64_t off = 0;
    for (int d = kr - 1; d >= 0; --d) {
      const int64_t c = o % kdims[d];
      o /= kdims[d];
      off += c * kstr[d];
    }
    return off;
  }
  // Offset of element j of a row from the row's first element.
  __host__ __device__ inline int64_t roff(int64_t j) const {
    if (rr == 1) return j * rstr[0];
    int64_t off = 0;
    for (int d = rr - 1; d >= 0; --d) {
      const int64_t c = j % rdims[d];
      j /= rdims[d];
      off += c * rstr[d];
    }
    return off;
  }
  bool rows_contiguous() const { return rr == 0 || rstr[rr - 1] == 1; }
};

// The rows of a contiguous tensor of shape `in` reducing the dims marked in
// `reduced`; rows are numbered row-major over the kept dims (the output order).
inline ReduceGeom make_geom(const Shape& in, const std::vector<bool>& reduced) {
  ReduceGeom g;
  const std::vector<int64_t> st = contiguous_strides(in);
  int last = -1;  // kind of the previous non-1 dim: 0 kept, 1 reduced
  g.outputs = 1;
  g.count = 1;
  for (size_t d = 0; d < in.size(); ++d) {
    const bool r = reduced[d];
    (r ? g.count : g.outputs) *= in[d];
    if (in[d] == 1) continue;
    int& n = r ? g.rr : g.kr;
    int64_t* dims = r ? g.rdims : g.kdims;
    int64_t* strs = r ? g.rstr : g.kstr;
    // Dims between are 1s, so the previous one of this kind is adjacent in memory.
    if (last == static_cast<int>(r)) {
      dims[n - 1] *= in[d];
      strs[n - 1] = st[d];
    } else {
      dims[n] = in[d];
      strs[n] = st[d];
      ++n;
    }
    last = static_cast<int>(r);
  }
  return g;
}

// Rows of `n` elements spaced `inner` apart: [outer, n, inner] reducing n.
inline ReduceGeom axis_geom(int64_t outer, int64_t n, int64_t inner) {
  return make_geom(Shape{outer, n, inner}, {false, true, false});
}

// ---- launch shape ----
struct Launch {
  int x = 1, y = k_threads;  // rows per block, threads per row (powers of two)
  bool y_fast = false;       // a row's threads are adjacent lanes (contiguous rows)
  int64_t split = 1, seg = 0;  // blocks per row and elements each, when split
  unsigned blocks = 1;
};

inline Launch plan_launch(const ReduceGeom& g, bool allow_split) {
  Launch l;
  const int64_t n = g.count, rows = g.outputs;
  if (g.rows_contiguous()) {
    if (n < 32) { l.x = k_threads; l.y = 1; }
    else if (n < 2048) { l.x = k_threads / 32; l.y = 32; l.y_fast = true; }
    else { l.x = 1; l.y = k_threads; }
  } else {
    if (n <= 16) { l.x = k_threads; l.y = 1; }
    else if (rows >= 32) { l.x = 32; l.y = k_threads / 32; }
    else { l.x = 1; l.y = k_threads; }
  }
  // Few long rows: several blocks per row so the whole device works.
  if (allow_split && l.x == 1 && rows < 128 && n >= 32768) {
    const int64_t want = std::min<int64_t>((256 + rows - 1) / rows, n / 8192);
    if (want > 1) {
      l.seg = (n + want - 1) / want;
      l.split = (n + l.seg - 1) / l.seg;  // no empty segment
    }
  }
  const int64_t groups = (rows * l.split + l.x - 1) / l.x;
  l.blocks = static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>(groups, int64_t{1} << 20)));
  return l;
}

struct Lanes {
  int tx, ty;  // row within the block, thread within the row
};
__device__ inline Lanes lanes(const Launch& l) {
  const int t = static_cast<int>(threadIdx.x);
  return l.y_fast ? Lanes{t / l.y, t % l.y} : Lanes{t % l.x, t / l.x};
}

// k_threads slots of Acc in shared memory (one array per Acc type and kernel).
template <typename Acc>
__device__ inline Acc* shared_slots() {
  __shared__ double2 buf[(k_threads * sizeof(Acc) + sizeof(double2) - 1) / sizeof(double2)];
  return reinterpret_cast<Acc*>(buf);
}

// Combines the Y values of each row of the block; every thread of the row gets
// the result. Every thread of the block must call it (it synchronizes).
template <typename Acc, typename C>
__device__ inline Acc group_reduce(Acc v, const C& c, Acc* sh, Lanes ln, const Launch& l) {
  if (l.y == 1) return v;
  const int slot = ln.ty * l.x + ln.tx;
  sh[slot] = v;
  __syncthreads();
  for (int s = l.y / 2; s > 0; s >>= 1) {
    if (ln.ty < s) sh[slot] = c.combine(sh[slot], sh[slot + s * l.x]);
    __syncthreads();
  }
  const Acc r = sh[ln.tx];
  __syncthreads();  // all have read before the slots are reused
  return r;
}

template <typename A>
struct SumC {
  __device__ A combine(A a, A b) const { return a + b; }
};
// Max for softmax-like rows: NaN is not propagated here (the sums that follow
// propagate it).
template <typename A>
struct MaxC {
  __device__ A combine(A a, A b) const { return b > a ? b : a; }
};

// ---- the generic reduction ----
template <typename T, typename Op>
__global__ void __launch_bounds__(k_threads)
    reduce_kernel(const T* __restrict__ x, typename Op::Out* __restrict__ y, typename Op::Acc* __restrict__ partial,
                  ReduceGeom g, Launch l, Op op) {
  using A = typename Op::Acc;
  A* sh = shared_slots<A>();
  const Lanes ln = lanes(l);
  const int64_t vrows = g.outputs * l.split;
  for (int64_t vb = blockIdx.x * static_cast<int64_t>(l.x); vb < vrows; vb += static_cast<int64_t>(gridDim.x) * l.x) {
    const int64_t v = vb + ln.tx;
    A acc = op.identity();
    if (v < vrows) {
      int64_t o = v, j0 = 0, j1 = g.count;
      if (l.split > 1) {
        o = v / l.split;
        j0 = (v % l.split) * l.seg;
        j1 = j0 + l.seg < g.count ? j0 + l.seg : g.count;
      }
      const int64_t b = g.base(o);
      for (int64_t j = j0 + ln.ty; j < j1; j += l.y) acc = op.combine(acc, op.map(x[b + g.roff(j)], j, o));
    }
    acc = group_reduce(acc, op, sh, ln, l);
    if (ln.ty == 0 && v < vrows) {
      if (l.split > 1) partial[v] = acc;
      else y[v] = op.finish(acc, v);
    }
  }
}

// Combines each row's partials in segment order.
template <typename Op>
__global__ void reduce_finish_kernel(const typename Op::Acc* __restrict__ partial, typename Op::Out* __restrict__ y,
                                     int64_t outputs, int64_t split, Op op) {
  KILN_GRID_STRIDE(o, outputs) {
    typename Op::Acc a = op.identity();
    for (int64_t s = 0; s < split; ++s) a = op.combine(a, partial[o * split + s]);
    y[o] = op.finish(a, o);
  }
}

// Scratch bytes run_reduce needs for launch `l` (0 unless the rows are split).
template <typename Op>
size_t partial_bytes(const ReduceGeom& g, const Launch& l) {
  return l.split > 1 ? static_cast<size_t>(g.outputs * l.split) * sizeof(typename Op::Acc) : 0;
}

// y[o] = finish(combine over j of map(x[row o, element j])) for every row o.
// `partial` is scratch of partial_bytes<Op>(g, l) bytes (may be null if 0).
template <typename T, typename Op>
void run_reduce(const ReduceGeom& g, const Launch& l, const T* x, typename Op::Out* y, void* partial, const Op& op,
                cudaStream_t s) {
  if (g.outputs == 0) return;
  auto* p = static_cast<typename Op::Acc*>(partial);
  reduce_kernel<T, Op><<<l.blocks, k_threads, 0, s>>>(x, y, p, g, l, op);
  KILN_CUDA_LAUNCH("reduce_kernel");
  if (l.split > 1) {
    reduce_finish_kernel<Op><<<grid_for(g.outputs), k_threads, 0, s>>>(p, y, g.outputs, l.split, op);
    KILN_CUDA_LAUNCH("reduce_finish_kernel");
  }
}

// ---- scratch: sizes first, then one workspace() call per run ----
class Scratch {
 public:
  size_t add(size_t bytes) {
    m_bytes = scratch_bytes(m_bytes);
    const size_t at = m_bytes;
    m_bytes += bytes;
    return at;
  }
  void bind(const KernelContext& ctx) { m_base = m_bytes ? static_cast<char*>(cuda_stream(ctx).workspace(m_bytes)) : nullptr; }
  template <typename T>
  T* at(size_t off) const { return m_base ? reinterpret_cast<T*>(m_base + off) : nullptr; }

 private:
  size_t m_bytes = 0;
  char* m_base = nullptr;
};

// ---- conversions of small operands ----
template <typename S, typename A>
__global__ void to_acc_kernel(const S* __restrict__ src, A* __restrict__ dst, Strided<1> p, int64_t n) {
  KILN_GRID_STRIDE(i, n) {
    int64_t off[1];
    p.offsets(i, off);
    dst[i] = static_cast<A>(load(src[off[0]]));
  }
}

// dst (numel(target) values of A) = t broadcast to `target`, converted; t is a
// device tensor of any float dtype.
template <typename A>
void to_acc(const KernelContext& ctx, const Tensor& t, A* dst, const Shape& target, cudaStream_t s) {
  const int64_t n = shape_numel(target);
  if (n == 0) return;
  const Strided<1> p = broadcast_strides<1>(target, {&t.shape()}, ctx);
  dispatch_float(t.dtype(), ctx, [&](auto tag) {
    using S = decltype(tag);
    to_acc_kernel<S, A><<<grid_for(n), k_threads, 0, s>>>(static_cast<const S*>(t.raw()), dst, p, n);
    KILN_CUDA_LAUNCH("to_acc_kernel");
  });
}

template <typename A, typename D>
__global__ void cast_kernel(const A* __restrict__ src, D* __restrict__ dst, int64_t n) {
  KILN_GRID_STRIDE(i, n) dst[i] = store<D>(src[i]);
}

// ---- factories ----
[[noreturn]] inline void refuse(const ir::Node& n, const std::string& why) {
  throw Error(ErrorCode::Unsupported, n.label() + ": " + why);
}

inline const std::initializer_list<DataType> k_float_types = {DataType::Float32, DataType::Float64, DataType::Float16,
                                                             DataType::BFloat16};
inline const std::initializer_list<DataType> k_numeric_types = {
    DataType::Float32, DataType::Float64, DataType::Float16, DataType::BFloat16, DataType::Int8,
    DataType::Int16,   DataType::Int32,   DataType::Int64,   DataType::UInt8,   DataType::UInt16,
    DataType::UInt32,  DataType::UInt64};

// Throws Unsupported unless input i (when present and typed) has one of `dts`.
inline void require_input_dtype(const ir::Node& n, const ir::Graph& g, size_t i, std::initializer_list<DataType> dts) {
  if (i >= n.inputs.size() || dtype_in(g, n.inputs[i], dts)) return;
  refuse(n, "input " + std::to_string(i) + " of dtype " + std::string(dtype_name(g.value(n.inputs[i]).dtype)) +
                " is not supported on cuda");
}

using Check = std::function<void(const ir::Node&, const ir::Graph&)>;

// Registers `fn` for `op` as candidate "cuda", behind a factory that runs `check`.
inline void add_checked(KernelRegistry& r, const std::string& op, Check check, KernelFn fn) {
  r.add(
      op,
      [check = std::move(check), fn](const ir::Node& n, const ir::Graph& g) -> std::unique_ptr<Kernel> {
        check(n, g);
        return std::make_unique<FnKernel>(fn);
      },
      "cuda");
}

// Sub-family registrations (each file registers its own ops).
void register_reduce_arg(KernelRegistry& r);    // reduce_arg.cu: ArgMax, ArgMin
void register_reduce_topk(KernelRegistry& r);   // reduce_topk.cu: TopK
void register_reduce_quant(KernelRegistry& r);  // reduce_quant.cu: DynamicQuantizeLinear
void register_norm_layer(KernelRegistry& r);    // nn_norm_layer.cu: Layer/RMS/Lp norms, LRN

}  // namespace kiln::backend::cuda::rdx
