// GridSample on CUDA (spatial rank 1-3; cubic for 2-D), mirroring
// backends/cpu/kernels/grid_sample.cpp: per output position, each spatial
// dim gives 1 (nearest), 2 (linear) or 4 (cubic) candidate indices with
// weights; their products are the taps, dim 0 outermost, and the weighted
// sum runs in double in the CPU's tap order. A thread owns one position of
// one batch item and a run of channels, so the taps are computed once per
// run of channels.
#include "backends/cuda/kernels/detection_common.cuh"
#include "backends/detection_params.h"

namespace kiln::backend::cuda {

namespace {

using det::dadd;
using det::ddiv;
using det::dmul;
using det::dsub;

using Pad = params::GridPad;

struct Dimension {
  int64_t size = 1;
  double lo = 0, hi = 0;  // [-0.5, size - 0.5], or [0, size - 1] with align_corners
  int64_t stride = 1;     // in the input plane
};

template <int R>
struct GridArgs {
  Dimension dims[R];
  int64_t batch = 0, channels = 0, positions = 0, plane = 0;
  int64_t channels_per_thread = 1;
  Pad pad = Pad::Zeros;
  bool align = false;
  DataType grid_dtype = DataType::Float32;
};

// Reflects x into [lo, hi] by bouncing off the nearer border.
__device__ inline double reflect(double x, double lo, double hi) {
  const double range = dsub(hi, lo);
  if (range <= 0) return lo;
  if (x < lo) {
    const double dx = dsub(lo, x);
    const auto n = static_cast<int64_t>(ddiv(dx, range));
    const double r = dsub(dx, dmul(static_cast<double>(n), range));
    return n % 2 == 0 ? dadd(lo, r) : dsub(hi, r);
  }
  if (x > hi) {
    const double dx = dsub(x, hi);
    const auto n = static_cast<int64_t>(ddiv(dx, range));
    const double r = dsub(dx, dmul(static_cast<double>(n), range));
    return n % 2 == 0 ? dsub(hi, r) : dadd(lo, r);
  }
  return x;
}

__device__ inline void cubic_coeffs(double t, double* c) {
  constexpr double a = -0.75;
  const double t1 = dadd(t, 1), t2 = dsub(1, t), t3 = dsub(2, t);
  c[0] = dsub(dmul(dadd(dmul(dsub(dmul(a, t1), dmul(5, a)), t1), dmul(8, a)), t1), dmul(4, a));
  c[1] = dadd(dmul(dmul(dsub(dmul(dadd(a, 2), t), dadd(a, 3)), t), t), 1);
  c[2] = dadd(dmul(dmul(dsub(dmul(dadd(a, 2), t2), dadd(a, 3)), t2), t2), 1);
  c[3] = dsub(dmul(dadd(dmul(dsub(dmul(a, t3), dmul(5, a)), t3), dmul(8, a)), t3), dmul(4, a));
}

// Index i of a dim after padding; -1 where it reads a zero.
__device__ inline int64_t pad_index(int64_t i, const Dimension& d, Pad pad) {
  switch (pad) {
    case Pad::Zeros: return i >= 0 && i < d.size ? i : -1;
    case Pad::Border: return i < 0 ? 0 : (i > d.size - 1 ? d.size - 1 : i);
    case Pad::Reflection: return static_cast<int64_t>(reflect(static_cast<double>(i), d.lo, d.hi));
  }
  return -1;
}

// The CD candidates of one dim for the unnormalized coordinate x (CD = 1
// nearest, 2 linear, 4 cubic).
template <int CD>
__device__ inline void candidates(double x, const Dimension& d, Pad pad, int64_t* idx, double* w) {
  if constexpr (CD == 1) x = rint(x);  // half to even, as the CPU's nearbyint
  if (x < d.lo || x > d.hi) {
    if (pad == Pad::Border) x = det::std_min(det::std_max(x, 0.0), static_cast<double>(d.size - 1));
    else if (pad == Pad::Reflection) x = reflect(x, d.lo, d.hi);
  }
  if constexpr (CD == 1) {
    idx[0] = pad_index(static_cast<int64_t>(x), d, pad);
    w[0] = 1.0;
  } else {
    const double f = floor(x), t = dsub(x, f);
    const auto i0 = static_cast<int64_t>(f);
    if constexpr (CD == 2) {
      idx[0] = pad_index(i0, d, pad);
      w[0] = dsub(1, t);
      idx[1] = pad_index(i0 + 1, d, pad);
      w[1] = t;
    } else {
      cubic_coeffs(t, w);
      for (int k = 0; k < 4; ++k) idx[k] = pad_index(i0 - 1 + k, d, pad);
    }
  }
}

template <int CD, int R>
struct TapCount {
  static constexpr int value = CD * TapCount<CD, R - 1>::value;
};
template <int CD>
struct TapCount<CD, 0> {
  static constexpr int value = 1;
};

template <typename T, int R, int CD>
__global__ void grid_sample_kernel(const T* x, const void* grid, T* y, GridArgs<R> a) {
  constexpr int NT = TapCount<CD, R>::value;
  const int64_t chunks = (a.channels + a.channels_per_thread - 1) / a.channels_per_thread;
  KILN_GRID_STRIDE(i, a.batch * chunks * a.positions) {
    const int64_t p = i % a.positions, rest = i / a.positions;
    const int64_t chunk = rest % chunks, b = rest / chunks;
    int64_t cidx[R][CD];
    double cw[R][CD];
    const int64_t g = (b * a.positions + p) * R;
#pragma unroll
    for (int d = 0; d < R; ++d) {
      const double v = det::read_float(grid, a.grid_dtype, g + (R - 1 - d));  // x first
      const auto len = static_cast<double>(a.dims[d].size);
      // Unnormalized as float, as the CPU keeps coordinates.
      const double u = a.align ? dmul(ddiv(dadd(v, 1), 2.0), dsub(len, 1))
                               : ddiv(dsub(dmul(dadd(v, 1), len), 1), 2.0);
      candidates<CD>(static_cast<double>(static_cast<float>(u)), a.dims[d], a.pad, cidx[d], cw[d]);
    }
    // Taps: every combination, dim 0 outermost; -1 where a dim reads padding.
    int64_t tidx[NT];
    double tw[NT];
#pragma unroll
    for (int t = 0; t < NT; ++t) {
      int64_t off = 0;
      double w = 1.0;
      bool valid = true;
      int rem = t, span = NT;
#pragma unroll
      for (int d = 0; d < R; ++d) {
        span /= CD;
        const int k = rem / span;
        rem %= span;
        valid = valid && cidx[d][k] >= 0;
        off += cidx[d][k] * a.dims[d].stride;
        w = dmul(w, cw[d][k]);
      }
      tidx[t] = valid ? off : -1;
      tw[t] = w;
    }
    const int64_t c_end = det::std_min(a.channels, (chunk + 1) * a.channels_per_thread);
    for (int64_t c = chunk * a.channels_per_thread; c < c_end; ++c) {
      const T* src = x + (b * a.channels + c) * a.plane;
      double v = 0;
#pragma unroll
      for (int t = 0; t < NT; ++t)
        if (tidx[t] >= 0) v = dadd(v, dmul(tw[t], static_cast<double>(load(src[tidx[t]]))));
      y[(b * a.channels + c) * a.positions + p] = store<T>(static_cast<Acc<T>>(v));
    }
  }
}

template <int R>
void launch(KernelContext& ctx, const Tensor& x, const Tensor& grid, Tensor& y, int cd, Pad pad, bool align) {
  GridArgs<R> a;
  a.batch = x.shape()[0];
  a.channels = x.shape()[1];
  a.pad = pad;
  a.align = align;
  a.grid_dtype = grid.dtype();
  int64_t plane = 1;
  for (int i = R - 1; i >= 0; --i) {
    Dimension& d = a.dims[i];
    d.size = x.shape()[static_cast<size_t>(i) + 2];
    d.lo = align ? 0.0 : -0.5;
    d.hi = align ? static_cast<double>(d.size - 1) : static_cast<double>(d.size) - 0.5;
    d.stride = plane;
    plane *= d.size;
  }
  a.plane = plane;
  a.positions = y.numel() / std::max<int64_t>(1, a.batch * a.channels);
  // Enough threads to fill the GPU; the rest of the channels loop in-thread.
  const int64_t sites = a.batch * a.positions;
  a.channels_per_thread = std::max<int64_t>(1, std::min<int64_t>(a.channels, (sites * a.channels) / (int64_t{1} << 18)));
  const int64_t chunks = (a.channels + a.channels_per_thread - 1) / a.channels_per_thread;
  const unsigned blocks = grid_for(sites * chunks);
  dispatch_float(x.dtype(), ctx, [&](auto tag) {
    using T = decltype(tag);
    auto go = [&](auto cd_tag) {
      constexpr int CD = decltype(cd_tag)::value;
      grid_sample_kernel<T, R, CD><<<blocks, k_threads, 0, cuda_stream(ctx).get()>>>(
          static_cast<const T*>(x.raw()), grid.raw(), static_cast<T*>(y.raw()), a);
      KILN_CUDA_LAUNCH("grid_sample_kernel");
    };
    if (cd == 1) go(std::integral_constant<int, 1>{});
    else if constexpr (R == 2) {
      if (cd == 4) go(std::integral_constant<int, 4>{});
      else go(std::integral_constant<int, 2>{});
    } else {
      go(std::integral_constant<int, 2>{});
    }
  });
}

void run_grid_sample(KernelContext& ctx) {
  const ir::Node& node = ctx.node();
  const Tensor& x = ctx.input(0);
  const Tensor& grid = ctx.input(1);
  const params::GridSampleParams gp = params::grid_sample_params(ctx);
  Tensor& y = ctx.output(0, x.dtype(), gp.out);
  if (y.numel() == 0) return;
  const size_t rank = gp.rank;  // spatial
  // Candidates per dim: 1 nearest, 2 linear, 4 cubic.
  const int cd = gp.mode == params::GridMode::Nearest ? 1 : gp.mode == params::GridMode::Cubic ? 4 : 2;
  if (rank > 3)
    throw Error(ErrorCode::Unsupported, node.label() + ": " + std::to_string(rank) + "-D sampling on cuda");
  switch (rank) {
    case 1: launch<1>(ctx, x, grid, y, cd, gp.pad, gp.align); break;
    case 2: launch<2>(ctx, x, grid, y, cd, gp.pad, gp.align); break;
    default: launch<3>(ctx, x, grid, y, cd, gp.pad, gp.align); break;
  }
}

std::unique_ptr<Kernel> make_grid_sample(const ir::Node& n, const ir::Graph& g) {
  if (n.inputs.size() < 2 || !det::is_float_or_unknown(g, n.inputs[0]) || !det::is_float_or_unknown(g, n.inputs[1]))
    throw Error(ErrorCode::Unsupported, n.label() + ": GridSample on cuda takes float X and grid");
  const auto& s = g.value(n.inputs[0]).shape;
  if (s && (s->size() < 3 || s->size() > 5))
    throw Error(ErrorCode::Unsupported, n.label() + ": GridSample on cuda takes 3-D to 5-D X");
  return std::make_unique<FnKernel>(run_grid_sample);
}

}  // namespace

void register_cuda_detection_grid_sample(KernelRegistry& r) { r.add("GridSample", make_grid_sample, "cuda"); }

}  // namespace kiln::backend::cuda
