// Pooling on CUDA: MaxPool (optional Indices, storage_order), AveragePool
// (count_include_pad), GlobalAveragePool and GlobalMaxPool, 1 to 6 spatial
// axes. Windowed pools run a thread per output element over its window in
// row-major tap order (the CPU's order: the first maximum wins); the window
// geometry (pads, auto_pad, dilations, ceil_mode) comes from ir::read_window /
// window_out_dim, as on the CPU. Global pools are engine reductions, or
// 16-byte vector walks over channels-last X.
// Channels-last (NHWC, marked by passes/assign_cuda_layouts.cpp): a windowed
// pool reads and writes it (MaxPool without Indices), a global pool reads it.
#include "backends/cuda/kernels/families.h"
#include "backends/cuda/kernels/reduce_engine.cuh"
#include "backends/nn_params.h"
#include "ir/ops/nn_attrs.h"

namespace kiln::backend::cuda {

namespace {

constexpr int k_pool_dims = k_max_dims - 2;

struct PoolGeom {
  int nd = 0;
  int64_t in[k_pool_dims] = {}, out[k_pool_dims] = {}, kernel[k_pool_dims] = {}, stride[k_pool_dims] = {},
          dil[k_pool_dims] = {}, pad_b[k_pool_dims] = {}, pad_e[k_pool_dims] = {};
  int64_t plane_in = 1, plane_out = 1, window = 1;
  bool nhwc = false;     // X and Y channels last (4-D)
  int64_t channels = 1;  // C, for the NHWC indexing
};

// Where output element i reads from: its plane position p, the X offset of
// its (image, channel) and the step between spatial positions.
__device__ inline void pool_site(const PoolGeom& g, int64_t i, int64_t* p, int64_t* base, int64_t* step) {
  if (g.nhwc) {
    const int64_t r = i / g.channels;
    *p = r % g.plane_out;
    *base = (r / g.plane_out) * g.plane_in * g.channels + i % g.channels;
    *step = g.channels;
  } else {
    *p = i % g.plane_out;
    *base = (i / g.plane_out) * g.plane_in;
    *step = 1;
  }
}

// The channels-last vector kernels: element types they take, and whether X
// and Y (16-byte aligned) split into 16-byte vectors of `channels`.
template <typename T>
constexpr bool k_vec16 = std::is_same_v<T, half> || std::is_same_v<T, bf16> || std::is_same_v<T, float>;
template <typename T>
bool vec16_fits(const Tensor& x, const Tensor& y, int64_t channels) {
  const uintptr_t addresses = reinterpret_cast<uintptr_t>(x.raw()) | reinterpret_cast<uintptr_t>(y.raw());
  return channels % static_cast<int64_t>(16 / sizeof(T)) == 0 && addresses % 16 == 0;
}

bool reads_nhwc(const ir::Node& n) {
  const std::vector<int64_t> in = n.attr_ints("kiln_in_layouts");
  return !in.empty() && in[0] == 1;
}

PoolGeom pool_geom(KernelContext& ctx, Shape* y_shape) {
  const Tensor& x = ctx.input(0);
  if (x.rank() < 3) ctx.fail("X must have rank >= 3 (N, C, spatial...), got " + shape_str(x.shape()));
  const auto nd = static_cast<size_t>(x.rank() - 2);
  if (nd > static_cast<size_t>(k_pool_dims))
    throw Error(ErrorCode::Unsupported, ctx.node().label() + ": more than 6 spatial axes on cuda");
  ir::Window w = ir::read_window(ctx.node(), nd, {}, true);
  PoolGeom g;
  g.nd = static_cast<int>(nd);
  g.nhwc = reads_nhwc(ctx.node());
  g.channels = x.shape()[1];
  if (g.nhwc != (ctx.node().attr_i("kiln_out_layout", 0) == 1) || (g.nhwc && (nd != 2 || ctx.has_output(1))))
    ctx.fail("internal: channels-last pools read and write 2-D NHWC, without Indices");
  *y_shape = {x.shape()[0], x.shape()[1]};
  for (size_t d = 0; d < nd; ++d) {
    g.in[d] = x.shape()[d + 2];
    g.out[d] = ir::window_out_dim(ctx.node(), w, d, g.in[d]);  // resolves auto_pad into w.pads
    y_shape->push_back(g.out[d]);
  }
  for (size_t d = 0; d < nd; ++d) {
    g.kernel[d] = w.kernel[d];
    g.stride[d] = w.strides[d];
    g.dil[d] = w.dilations[d];
    g.pad_b[d] = w.pads[d];
    g.pad_e[d] = w.pads[d + nd];
    g.plane_in *= g.in[d];
    g.plane_out *= g.out[d];
    g.window *= g.kernel[d];
  }
  return g;
}

// Output position p (within a plane) -> per-axis output coordinates.
__device__ inline void out_coords(const PoolGeom& g, int64_t p, int64_t (&o)[k_pool_dims]) {
  for (int d = g.nd - 1; d >= 0; --d) {
    o[d] = p % g.out[d];
    p /= g.out[d];
  }
}

// Plane offset of window tap t (row-major over the kernel) of output o; -1
// when the tap falls in the padding.
__device__ inline int64_t tap_offset(const PoolGeom& g, const int64_t (&o)[k_pool_dims], int64_t t) {
  int64_t k[k_pool_dims];
  for (int d = g.nd - 1; d >= 0; --d) {
    k[d] = t % g.kernel[d];
    t /= g.kernel[d];
  }
  int64_t off = 0;
  for (int d = 0; d < g.nd; ++d) {
    const int64_t i = o[d] * g.stride[d] - g.pad_b[d] + k[d] * g.dil[d];
    if (i < 0 || i >= g.in[d]) return -1;
    off = off * g.in[d] + i;
  }
  return off;
}

template <typename T>
__device__ inline T lowest_value() {
  // A window wholly in the padding reads nothing: the CPU writes this.
  if constexpr (std::is_same_v<T, half> || std::is_same_v<T, bf16>) return store<T>(-INFINITY);
  else return std::numeric_limits<T>::lowest();
}

template <typename T>
__global__ void max_pool_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t* __restrict__ ind, PoolGeom g,
                                int64_t total, bool col_major) {
  KILN_GRID_STRIDE(i, total) {
    int64_t p, base, step;
    pool_site(g, i, &p, &base, &step);
    const int64_t nc = i / g.plane_out;  // (NCHW: Indices are written only there)
    int64_t o[k_pool_dims];
    out_coords(g, p, o);
    const T* plane = x + base;
    int64_t best = -1;
    Acc<T> bv{};
    for (int64_t t = 0; t < g.window; ++t) {
      const int64_t off = tap_offset(g, o, t);
      if (off < 0) continue;
      const Acc<T> v = load(plane[off * step]);
      if (best < 0 || v > bv) {
        best = off;
        bv = v;
      }
    }
    y[i] = best >= 0 ? plane[best * step] : lowest_value<T>();
    if (ind) {
      int64_t at = best;
      if (best >= 0 && col_major) {  // row-major plane offset -> column-major
        int64_t rem = best, stride = 1, coord[k_pool_dims];
        for (int d = g.nd - 1; d >= 0; --d) {
          coord[d] = rem % g.in[d];
          rem /= g.in[d];
        }
        at = 0;
        for (int d = 0; d < g.nd; ++d) {
          at += coord[d] * stride;
          stride *= g.in[d];
        }
      }
      ind[i] = best < 0 ? -1 : nc * g.plane_in + at;
    }
  }
}

// 2-D MaxPool without Indices (CNN stems): the output's coordinates are
// found once per element in 32-bit arithmetic and the window is walked row by
// row, the same tap order as max_pool_kernel (whose per-tap 64-bit divisions
// made a ResNet-50 stem's pool a quarter of its batch-32 time).
template <typename T>
__global__ void max_pool_2d_kernel(const T* __restrict__ x, T* __restrict__ y, PoolGeom g, int32_t total) {
  const int32_t c_n = static_cast<int32_t>(g.channels), ih = static_cast<int32_t>(g.in[0]),
                iw = static_cast<int32_t>(g.in[1]), oh_n = static_cast<int32_t>(g.out[0]),
                ow_n = static_cast<int32_t>(g.out[1]);
  KILN_GRID_STRIDE(at_i, total) {
    const auto i = static_cast<int32_t>(at_i);
    int32_t r = i, c = 0;
    if (g.nhwc) {
      c = r % c_n;
      r /= c_n;
    }
    const int32_t ow = r % ow_n;
    r /= ow_n;
    const int32_t oh = r % oh_n;
    r /= oh_n;  // NHWC: the image; NCHW: the (image, channel) plane
    const int64_t base = g.nhwc ? static_cast<int64_t>(r) * ih * iw * c_n + c : static_cast<int64_t>(r) * ih * iw;
    const int32_t step_w = g.nhwc ? c_n : 1;
    int64_t best = -1;
    Acc<T> bv{};
    for (int32_t ky = 0; ky < g.kernel[0]; ++ky) {
      const int32_t yy = oh * static_cast<int32_t>(g.stride[0]) - static_cast<int32_t>(g.pad_b[0]) +
                         ky * static_cast<int32_t>(g.dil[0]);
      if (yy < 0 || yy >= ih) continue;
      for (int32_t kx = 0; kx < g.kernel[1]; ++kx) {
        const int32_t xx = ow * static_cast<int32_t>(g.stride[1]) - static_cast<int32_t>(g.pad_b[1]) +
                           kx * static_cast<int32_t>(g.dil[1]);
        if (xx < 0 || xx >= iw) continue;
        const int64_t at = base + (static_cast<int64_t>(yy) * iw + xx) * step_w;
        const Acc<T> v = load(x[at]);
        if (best < 0 || v > bv) {
          best = at;
          bv = v;
        }
      }
    }
    y[i] = best >= 0 ? x[best] : lowest_value<T>();
  }
}

// The 2-D kernel on channels-last X for 16-bit and float data: a thread takes
// 16 bytes of channels (8 halves, 4 floats) of one output position, so the
// index arithmetic is paid once per vector and each tap is one 16-byte load
// (the scalar kernel made a ResNet-50 stem's pool 11% of its batch-256 time).
// Per channel the comparison is the scalar kernel's (the first maximum wins;
// a NaN only as the first tap) and the winner's bits are stored as read.
// K > 0: a KxK window known at compile time (3x3 stems), its taps unrolled so
// that their loads are in flight together.
template <typename T, int K = 0>
__global__ void max_pool_2d_vec_kernel(const T* __restrict__ x, T* __restrict__ y, PoolGeom g, int32_t total_vec) {
  constexpr int V = 16 / sizeof(T);
  const int32_t c_n = static_cast<int32_t>(g.channels), cv_n = c_n / V, ih = static_cast<int32_t>(g.in[0]),
                iw = static_cast<int32_t>(g.in[1]), oh_n = static_cast<int32_t>(g.out[0]),
                ow_n = static_cast<int32_t>(g.out[1]), kh = K ? K : static_cast<int32_t>(g.kernel[0]),
                kw = K ? K : static_cast<int32_t>(g.kernel[1]), sh = static_cast<int32_t>(g.stride[0]),
                sw = static_cast<int32_t>(g.stride[1]), dh = static_cast<int32_t>(g.dil[0]),
                dw = static_cast<int32_t>(g.dil[1]), ph = static_cast<int32_t>(g.pad_b[0]),
                pw = static_cast<int32_t>(g.pad_b[1]);
  KILN_GRID_STRIDE(at_i, total_vec) {
    const auto i = static_cast<int32_t>(at_i);
    int32_t r = i / cv_n;
    const int32_t cv = i - r * cv_n;
    const int32_t ow = r % ow_n;
    r /= ow_n;
    const int32_t oh = r % oh_n;
    r /= oh_n;  // the image
    const T* xb = x + static_cast<int64_t>(r) * ih * iw * c_n + cv * V;
    T best[V];
    Acc<T> bv[V];
    bool any = false;
#pragma unroll
    for (int32_t ky = 0; ky < kh; ++ky) {
      const int32_t yy = oh * sh - ph + ky * dh;
      if (yy < 0 || yy >= ih) continue;
#pragma unroll
      for (int32_t kx = 0; kx < kw; ++kx) {
        const int32_t xx = ow * sw - pw + kx * dw;
        if (xx < 0 || xx >= iw) continue;
        const uint4 raw = *reinterpret_cast<const uint4*>(xb + (static_cast<int64_t>(yy) * iw + xx) * c_n);
        const T* v = reinterpret_cast<const T*>(&raw);
#pragma unroll
        for (int e = 0; e < V; ++e) {
          const Acc<T> a = load(v[e]);
          if (!any || a > bv[e]) {
            bv[e] = a;
            best[e] = v[e];
          }
        }
        any = true;
      }
    }
    uint4 out;
    T* o = reinterpret_cast<T*>(&out);
#pragma unroll
    for (int e = 0; e < V; ++e) o[e] = any ? best[e] : lowest_value<T>();
    *reinterpret_cast<uint4*>(y + static_cast<int64_t>(i) * V) = out;
  }
}

template <typename T, typename A>
__global__ void avg_pool_kernel(const T* __restrict__ x, T* __restrict__ y, PoolGeom g, int64_t total,
                                bool include_pad) {
  KILN_GRID_STRIDE(i, total) {
    int64_t p, base, step;
    pool_site(g, i, &p, &base, &step);
    int64_t o[k_pool_dims];
    out_coords(g, p, o);
    const T* plane = x + base;
    A sum = 0;
    int64_t taps = 0;
    for (int64_t t = 0; t < g.window; ++t) {
      const int64_t off = tap_offset(g, o, t);
      if (off < 0) continue;
      sum += static_cast<A>(load(plane[off * step]));
      ++taps;
    }
    int64_t count = taps;
    if (include_pad) {  // taps inside the padded extent (ceil_mode's extra ones do not count)
      count = 1;
      for (int d = 0; d < g.nd; ++d) {
        int64_t c = 0;
        for (int64_t k = 0; k < g.kernel[d]; ++k) {
          const int64_t at = o[d] * g.stride[d] - g.pad_b[d] + k * g.dil[d];
          c += at >= -g.pad_b[d] && at < g.in[d] + g.pad_e[d];
        }
        count *= c;
      }
    }
    y[i] = store<T>(count > 0 ? sum / static_cast<A>(count) : A(0));
  }
}

void run_max_pool(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Shape y_shape;
  const PoolGeom g = pool_geom(ctx, &y_shape);
  const int64_t order = ctx.node().attr_i("storage_order", 0);
  Tensor& y = ctx.output(0, x.dtype(), y_shape);
  int64_t* ind = ctx.has_output(1) ? static_cast<int64_t*>(ctx.output(1, DataType::Int64, y_shape).raw()) : nullptr;
  const int64_t total = y.numel();
  if (total == 0) return;
  const bool fast = g.nd == 2 && !ind && total < INT32_MAX;
  dispatch_numeric(x.dtype(), ctx, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (k_vec16<T>) {
      constexpr int64_t v = 16 / sizeof(T);
      if (fast && g.nhwc && vec16_fits<T>(x, y, g.channels)) {
        const int64_t total_vec = total / v;
        const auto launch = [&](auto kernel) {
          kernel<<<grid_for(total_vec), k_threads, 0, cuda_stream(ctx).get()>>>(
              static_cast<const T*>(x.raw()), static_cast<T*>(y.raw()), g, static_cast<int32_t>(total_vec));
          KILN_CUDA_LAUNCH("max_pool_2d_vec_kernel");
        };
        if (g.kernel[0] == 3 && g.kernel[1] == 3) launch(max_pool_2d_vec_kernel<T, 3>);
        else launch(max_pool_2d_vec_kernel<T>);
        return;
      }
    }
    if (fast) {
      max_pool_2d_kernel<T><<<grid_for(total), k_threads, 0, cuda_stream(ctx).get()>>>(
          static_cast<const T*>(x.raw()), static_cast<T*>(y.raw()), g, static_cast<int32_t>(total));
      KILN_CUDA_LAUNCH("max_pool_2d_kernel");
      return;
    }
    max_pool_kernel<T><<<grid_for(total), k_threads, 0, cuda_stream(ctx).get()>>>(
        static_cast<const T*>(x.raw()), static_cast<T*>(y.raw()), ind, g, total, order == 1);
    KILN_CUDA_LAUNCH("max_pool_kernel");
  });
}

void run_average_pool(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Shape y_shape;
  const PoolGeom g = pool_geom(ctx, &y_shape);
  const bool include_pad = ctx.node().attr_i("count_include_pad", 0) == 1;
  Tensor& y = ctx.output(0, x.dtype(), y_shape);
  const int64_t total = y.numel();
  if (total == 0) return;
  dispatch_float(x.dtype(), ctx, [&](auto tag) {
    using T = decltype(tag);
    avg_pool_kernel<T, Acc<T>><<<grid_for(total), k_threads, 0, cuda_stream(ctx).get()>>>(
        static_cast<const T*>(x.raw()), static_cast<T*>(y.raw()), g, total, include_pad);
    KILN_CUDA_LAUNCH("avg_pool_kernel");
  });
}

// ---- global pools: a row per (image, channel) ----
template <typename T>
struct GlobalAvgOp {
  using Acc = cuda::Acc<T>;
  using Out = T;
  int64_t size = 1;
  __device__ Acc identity() const { return Acc(0); }
  __device__ Acc map(T v, int64_t, int64_t) const { return static_cast<Acc>(load(v)); }
  __device__ Acc combine(Acc a, Acc b) const { return a + b; }
  __device__ Out finish(Acc a, int64_t) const { return store<T>(a / static_cast<Acc>(size)); }
};

// The CPU keeps a running max from element 0 with `>`: a NaN first element
// stays, later NaNs are skipped. Later NaNs map to -inf (neutral) here.
template <typename T>
struct GlobalMaxOp {
  using Acc = cuda::Acc<T>;
  using Out = T;
  __device__ Acc identity() const { return -std::numeric_limits<Acc>::infinity(); }
  __device__ Acc map(T v, int64_t j, int64_t) const {
    const auto a = static_cast<Acc>(load(v));
    return isnan(a) && j != 0 ? -std::numeric_limits<Acc>::infinity() : a;
  }
  __device__ Acc combine(Acc a, Acc b) const {
    if (isnan(a)) return a;
    if (isnan(b)) return b;
    return b > a ? b : a;
  }
  __device__ Out finish(Acc a, int64_t) const { return store<T>(a); }
};

// A global pool of channels-last X [n, hw, c]: a thread per image and 16
// bytes of channels, walking the positions with one 16-byte load each (the
// reduction engine's middle-axis walk made ResNet-50's pool, 51 MB at batch
// 256, 0.115 ms: 7x its bandwidth time). The engine's ops, each channel
// summed in position order.
template <typename T, typename Op>
__global__ void global_pool_nhwc_vec_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t hw, int32_t cv_n,
                                            int32_t total_vec, Op op) {
  constexpr int V = 16 / sizeof(T);
  KILN_GRID_STRIDE(at_i, total_vec) {
    const auto i = static_cast<int32_t>(at_i);
    const int32_t img = i / cv_n, cv = i - img * cv_n;
    const T* xb = x + (static_cast<int64_t>(img) * hw * cv_n + cv) * V;
    typename Op::Acc acc[V];
#pragma unroll
    for (int e = 0; e < V; ++e) acc[e] = op.identity();
    for (int64_t j = 0; j < hw; ++j) {
      const uint4 raw = *reinterpret_cast<const uint4*>(xb + j * cv_n * V);
      const T* v = reinterpret_cast<const T*>(&raw);
#pragma unroll
      for (int e = 0; e < V; ++e) acc[e] = op.combine(acc[e], op.map(v[e], j, 0));
    }
    uint4 out;
    T* o = reinterpret_cast<T*>(&out);
#pragma unroll
    for (int e = 0; e < V; ++e) o[e] = op.finish(acc[e], 0);
    *reinterpret_cast<uint4*>(y + static_cast<int64_t>(i) * V) = out;
  }
}

template <bool Max>
void run_global_pool(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const params::GlobalPoolPlan p = params::global_pool_plan(ctx);
  Tensor& y = ctx.output(0, x.dtype(), p.out);
  if (p.planes == 0) return;
  // NHWC X: reduce the middle axis of [N, HW, C]; Y [N,C,1,1] is the same
  // bytes in either layout.
  const bool nhwc = reads_nhwc(ctx.node());
  if (nhwc && x.rank() != 4) ctx.fail("internal: a channels-last global pool needs 4-D X");
  if (nhwc && p.size > 0) {
    bool done = false;
    dispatch_float(x.dtype(), ctx, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (k_vec16<T>) {
        constexpr int64_t v = 16 / sizeof(T);
        const int64_t c = x.shape()[1];
        const int64_t total_vec = p.planes / v;
        if (!vec16_fits<T>(x, y, c) || total_vec >= INT32_MAX) return;
        using Op = std::conditional_t<Max, GlobalMaxOp<T>, GlobalAvgOp<T>>;
        Op op;
        if constexpr (!Max) op.size = p.size;
        global_pool_nhwc_vec_kernel<T, Op><<<grid_for(total_vec), k_threads, 0, cuda_stream(ctx).get()>>>(
            static_cast<const T*>(x.raw()), static_cast<T*>(y.raw()), p.size, static_cast<int32_t>(c / v),
            static_cast<int32_t>(total_vec), op);
        KILN_CUDA_LAUNCH("global_pool_nhwc_vec_kernel");
        done = true;
      }
    });
    if (done) return;
  }
  const rdx::ReduceGeom g = nhwc ? rdx::axis_geom(x.shape()[0], p.size, x.shape()[1]) : rdx::axis_geom(p.planes, p.size, 1);
  const rdx::Launch l = rdx::plan_launch(g, true);
  dispatch_float(x.dtype(), ctx, [&](auto tag) {
    using T = decltype(tag);
    using Op = std::conditional_t<Max, GlobalMaxOp<T>, GlobalAvgOp<T>>;
    rdx::Scratch ws;
    const size_t part_at = ws.add(rdx::partial_bytes<Op>(g, l));
    ws.bind(ctx);
    Op op;
    if constexpr (!Max) op.size = p.size;
    rdx::run_reduce(g, l, static_cast<const T*>(x.raw()), static_cast<T*>(y.raw()), ws.at<void>(part_at), op,
                    cuda_stream(ctx).get());
  });
}

void check_pool(const ir::Node& n, const ir::Graph& g, bool int8_ok) {
  if (int8_ok) {
    rdx::require_input_dtype(n, g, 0, {DataType::Float32, DataType::Float64, DataType::Float16, DataType::BFloat16,
                                       DataType::Int8, DataType::UInt8});
  } else {
    rdx::require_input_dtype(n, g, 0, rdx::k_float_types);
  }
  if (!n.inputs.empty()) require_rank(n, g, n.inputs[0]);
}

}  // namespace

void register_cuda_nn_pool(KernelRegistry& r) {
  rdx::add_checked(r, "MaxPool", [](const ir::Node& n, const ir::Graph& g) { check_pool(n, g, true); }, run_max_pool);
  rdx::add_checked(
      r, "AveragePool", [](const ir::Node& n, const ir::Graph& g) { check_pool(n, g, false); }, run_average_pool);
  rdx::add_checked(
      r, "GlobalAveragePool", [](const ir::Node& n, const ir::Graph& g) { check_pool(n, g, false); },
      run_global_pool<false>);
  rdx::add_checked(
      r, "GlobalMaxPool", [](const ir::Node& n, const ir::Graph& g) { check_pool(n, g, false); }, run_global_pool<true>);
}

}  // namespace kiln::backend::cuda
