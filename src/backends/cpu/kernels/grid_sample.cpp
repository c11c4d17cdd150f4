// GridSample over any spatial rank (linear/nearest; cubic for 2-D), as the
// ONNX reference and PyTorch compute it. Each output position gets a list of
// taps (input offset, weight), one per combination of the per-dim candidates
// (1 nearest, 2 linear, 4 cubic); the taps are then applied to every channel.
// Grid components are in reverse dim order (x first), normalized to [-1, 1].
#include <cmath>
#include <vector>

#include "backends/cpu/kernels/detection_kernels.h"
#include "backends/cpu/kernels/reduce_kernels.h"
#include "backends/detection_params.h"

namespace kiln::backend {

namespace {

using Mode = params::GridMode;
using Pad = params::GridPad;

// Reflects x into [lo, hi] by bouncing off the nearer border.
double reflect(double x, double lo, double hi) {
  const double range = hi - lo;
  if (range <= 0) return lo;
  if (x < lo) {
    const double dx = lo - x;
    const auto n = static_cast<int64_t>(dx / range);
    const double r = dx - static_cast<double>(n) * range;
    return n % 2 == 0 ? lo + r : hi - r;
  }
  if (x > hi) {
    const double dx = x - hi;
    const auto n = static_cast<int64_t>(dx / range);
    const double r = dx - static_cast<double>(n) * range;
    return n % 2 == 0 ? hi - r : lo + r;
  }
  return x;
}

void cubic_coeffs(double t, double* c) {
  constexpr double a = -0.75;
  const double t1 = t + 1, t2 = 1 - t, t3 = 2 - t;
  c[0] = ((a * t1 - 5 * a) * t1 + 8 * a) * t1 - 4 * a;
  c[1] = ((a + 2) * t - (a + 3)) * t * t + 1;
  c[2] = ((a + 2) * t2 - (a + 3)) * t2 * t2 + 1;
  c[3] = ((a * t3 - 5 * a) * t3 + 8 * a) * t3 - 4 * a;
}

struct Dimension {
  int64_t size = 1;
  double lo = 0, hi = 0;  // the borders: [-0.5, size - 0.5], or [0, size - 1] with align_corners
};

// Index i of a dim after padding; -1 where it reads a zero.
int64_t pad_index(int64_t i, const Dimension& d, Pad pad) {
  switch (pad) {
    case Pad::Zeros: return i >= 0 && i < d.size ? i : -1;
    case Pad::Border: return std::min(std::max<int64_t>(i, 0), d.size - 1);
    case Pad::Reflection: return static_cast<int64_t>(reflect(static_cast<double>(i), d.lo, d.hi));
  }
  return -1;
}

struct Candidate {
  int64_t index;
  double weight;
};

// The candidates of one dim for the unnormalized coordinate x.
void candidates(double x, const Dimension& d, Mode mode, Pad pad, std::vector<Candidate>& out) {
  out.clear();
  // Half to even at every rank: the conformance data does so in 3-D too (not std::round).
  if (mode == Mode::Nearest) x = std::nearbyint(x);
  if (x < d.lo || x > d.hi) {
    if (pad == Pad::Border) x = std::min(std::max(x, 0.0), static_cast<double>(d.size - 1));
    else if (pad == Pad::Reflection) x = reflect(x, d.lo, d.hi);
  }
  if (mode == Mode::Nearest) {
    out.push_back({pad_index(static_cast<int64_t>(x), d, pad), 1.0});
    return;
  }
  const double f = std::floor(x), t = x - f;
  const auto i0 = static_cast<int64_t>(f);
  if (mode == Mode::Linear) {
    out.push_back({pad_index(i0, d, pad), 1 - t});
    out.push_back({pad_index(i0 + 1, d, pad), t});
    return;
  }
  double c[4];
  cubic_coeffs(t, c);
  for (int k = 0; k < 4; ++k) out.push_back({pad_index(i0 - 1 + k, d, pad), c[k]});
}

void run_grid_sample(KernelContext& ctx) {
  const ir::Node& node = ctx.node();
  const Tensor& x = ctx.input(0);
  const Tensor& grid = ctx.input(1);
  const params::GridSampleParams gp = params::grid_sample_params(ctx);
  const size_t rank = gp.rank;  // spatial
  const Mode mode = gp.mode;
  const Pad pad = gp.pad;
  const bool align = gp.align;

  std::vector<Dimension> dims(rank);
  std::vector<int64_t> strides(rank);
  int64_t plane = 1;
  for (size_t i = rank; i-- > 0;) {
    Dimension& d = dims[i];
    d.size = x.shape()[i + 2];
    d.lo = align ? 0.0 : -0.5;
    d.hi = align ? static_cast<double>(d.size - 1) : static_cast<double>(d.size) - 0.5;
    strides[i] = plane;
    plane *= d.size;
  }
  int64_t positions = 1;
  for (size_t i = 1; i + 1 < grid.shape().size(); ++i) positions *= grid.shape()[i];
  Tensor& y = ctx.output(0, x.dtype(), gp.out);
  if (y.numel() == 0) return;
  const int64_t n = x.shape()[0], ch = x.shape()[1];
  dispatch_float(x.dtype(), node.label(), [&](auto tag) {
    using T = decltype(tag);
    const T* in = x.data<T>();
    T* out = y.data<T>();
    std::vector<std::vector<Candidate>> per_dim(rank);
    std::vector<Candidate> taps, next;
    for (int64_t b = 0; b < n; ++b)
      for (int64_t p = 0; p < positions; ++p) {
        const int64_t g = (b * positions + p) * static_cast<int64_t>(rank);
        for (size_t i = 0; i < rank; ++i) {
          const double v = read_double(grid, g + static_cast<int64_t>(rank - 1 - i));
          const auto len = static_cast<double>(dims[i].size);
          // Unnormalized as float, as the reference keeps coordinates.
          const auto u = static_cast<float>(align ? (v + 1) / 2.0 * (len - 1) : ((v + 1) * len - 1) / 2.0);
          candidates(u, dims[i], mode, pad, per_dim[i]);
        }
        taps.assign(1, {0, 1.0});
        for (size_t i = 0; i < rank; ++i) {
          next.clear();
          for (const Candidate& t : taps)
            for (const Candidate& c : per_dim[i])
              if (t.index >= 0 && c.index >= 0) next.push_back({t.index + c.index * strides[i], t.weight * c.weight});
          taps.swap(next);
        }
        for (int64_t c = 0; c < ch; ++c) {
          const T* src = in + (b * ch + c) * plane;
          double v = 0;
          for (const Candidate& t : taps) v += t.weight * static_cast<double>(src[t.index]);
          out[(b * ch + c) * positions + p] = T(static_cast<reduce::Calc<T>>(v));
        }
      }
  });
}

}  // namespace

void register_cpu_grid_sample(KernelRegistry& r) { r.add_fn("GridSample", run_grid_sample); }

}  // namespace kiln::backend
