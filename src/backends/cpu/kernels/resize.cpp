// Resize (opset 10-19) and Upsample (7-9) on the CPU, following the ONNX
// reference: per resized axis, each output index maps to a source coordinate
// (coordinate_transformation_mode) and then to weighted input taps (nearest,
// linear, cubic, with antialias and exclude_outside). Interpolation is separable,
// so it runs one axis at a time, innermost first; nearest is a pure gather.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "backends/cpu/kernels/copy_strided.h"
#include "backends/cpu/kernels/tensor_kernels.h"
#include "core/dispatch.h"
#include "ir/ops/resize_rules.h"

namespace kiln::backend::cpu {

namespace {

using ir::rules::CoordMode;
using ir::rules::NearestMode;
using ir::rules::ResizeAttrs;
using ir::rules::ResizeMode;
using ir::rules::ResizePlan;

struct Tap {
  int64_t index;
  double weight;
};

// Source coordinate of output index o along dim d; nullopt: outside the crop
// (tf_crop_and_resize), which reads the extrapolation value.
std::optional<double> source_coord(const ResizeAttrs& a, const ResizePlan& p, size_t d, int64_t in_w, int64_t out_int,
                                   int64_t o) {
  const double scale = p.scales[d], x = static_cast<double>(o);
  const double in_f = static_cast<double>(in_w), out_w = scale * in_f;  // not rounded, as in the reference
  switch (a.coord) {
    case CoordMode::AlignCorners: return out_w == 1 ? 0.0 : x * (in_f - 1) / (out_w - 1);
    case CoordMode::Asymmetric: return x / scale;
    case CoordMode::PytorchHalfPixel: return out_w == 1 ? -0.5 : (x + 0.5) / scale - 0.5;
    case CoordMode::HalfPixel: return (x + 0.5) / scale - 0.5;
    case CoordMode::HalfPixelSymmetric: {
      const double adjustment = static_cast<double>(out_int) / out_w;
      const double offset = in_f / 2 * (1 - adjustment);
      return offset + (x + 0.5) / scale - 0.5;
    }
    case CoordMode::TfCropAndResize: {
      const double rs = p.roi_start[d], re = p.roi_end[d];
      double c = out_w == 1 ? (re - rs) * (in_f - 1) / 2 : x * (re - rs) * (in_f - 1) / (out_w - 1);
      c += rs * (in_f - 1);
      if (c < 0 || c > in_f - 1) return std::nullopt;
      return c;
    }
  }
  return x;
}

int64_t nearest_index(double x, NearestMode m, double scale, int64_t in_w) {
  int64_t i;
  if (m == NearestMode::Simple) {
    i = scale < 1 ? static_cast<int64_t>(std::ceil(x)) : static_cast<int64_t>(x);
  } else if (x == std::floor(x)) {
    i = static_cast<int64_t>(x);
  } else {
    const double fl = std::floor(x), frac = x - fl;
    bool up = false;
    switch (m) {
      case NearestMode::RoundPreferFloor: up = frac > 0.5; break;
      case NearestMode::RoundPreferCeil: up = frac >= 0.5; break;
      case NearestMode::Floor: up = false; break;
      case NearestMode::Ceil: up = true; break;
      case NearestMode::Simple: break;
    }
    i = static_cast<int64_t>(fl) + (up ? 1 : 0);
  }
  return std::clamp<int64_t>(i, 0, in_w - 1);
}

double cubic_kernel(double x, double a) {
  x = std::fabs(x);
  if (x <= 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
  return 0;
}

// Interpolation taps around x. Offsets count from i0 = ceil(x) - 1, so the
// fraction r = x - i0 lies in (0, 1] as in the reference.
std::vector<Tap> taps_for(double x, const ResizeAttrs& a, double scale, int64_t in_w) {
  const int64_t i0 = static_cast<int64_t>(std::ceil(x)) - 1;
  const double r = x - static_cast<double>(i0);
  std::vector<Tap> taps;
  if (!a.antialias) {
    if (a.mode == ResizeMode::Linear) {
      taps = {{i0, 1 - r}, {i0 + 1, r}};
    } else {
      for (int64_t k = -1; k <= 2; ++k) taps.push_back({i0 + k, cubic_kernel(static_cast<double>(k) - r, a.cubic_a)});
    }
  } else {
    // Antialias stretches the filter by 1/scale when downsampling.
    const double s = std::min(scale, 1.0);
    const double support = a.mode == ResizeMode::Linear ? 1.0 : 2.0;
    const int64_t start = static_cast<int64_t>(std::floor(-support / s)) + 1, end = 2 - start;
    for (int64_t k = start; k < end; ++k) {
      const double t = s * (static_cast<double>(k) - r);
      const double w = a.mode == ResizeMode::Linear ? std::clamp(1 - std::fabs(t), 0.0, 1.0) : cubic_kernel(t, a.cubic_a);
      taps.push_back({i0 + k, w});
    }
  }
  if (a.exclude_outside)
    for (Tap& t : taps)
      if (t.index < 0 || t.index >= in_w) t.weight = 0;
  if (a.antialias || a.exclude_outside) {
    double sum = 0;
    for (const Tap& t : taps) sum += t.weight;
    if (sum != 0)
      for (Tap& t : taps) t.weight /= sum;
  }
  for (Tap& t : taps) t.index = std::clamp<int64_t>(t.index, 0, in_w - 1);  // edge padding
  return taps;
}

bool resizes(const ResizeAttrs& a, const ResizePlan& p, const Shape& in, const Shape& out, size_t d) {
  return out[d] != in[d] || p.scales[d] != 1.0 || a.coord == CoordMode::TfCropAndResize;
}

void nearest(const Tensor& in, Tensor& out, const ResizeAttrs& a, const ResizePlan& p, const std::string& where) {
  const Shape &is = in.shape(), &os = out.shape();
  std::vector<std::vector<int64_t>> maps(is.size());
  for (size_t d = 0; d < is.size(); ++d) {
    auto& m = maps[d];
    m.resize(static_cast<size_t>(os[d]));
    for (int64_t o = 0; o < os[d]; ++o) {
      if (!resizes(a, p, is, os, d)) { m[static_cast<size_t>(o)] = o; continue; }
      const auto x = source_coord(a, p, d, is[d], os[d], o);
      m[static_cast<size_t>(o)] = x ? nearest_index(*x, a.nearest, p.scales[d], is[d]) : -1;
    }
  }
  std::vector<std::byte> fill(dtype_size(in.dtype()));
  dispatch_all(in.dtype(), where, [&](auto tag) {
    using T = decltype(tag);
    const T v = static_cast<T>(static_cast<float>(a.extrapolation));
    std::memcpy(fill.data(), &v, sizeof(T));
  });
  gather_axes(out.raw(), os, in.raw(), is, maps, fill.data(), fill.size());
}

template <typename T, typename A>
void interpolate(const Tensor& in, Tensor& out, const ResizeAttrs& a, const ResizePlan& p) {
  Shape cur = in.shape();
  const Shape& os = out.shape();
  std::vector<A> buf(static_cast<size_t>(in.numel())), next;
  for (size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<A>(in.data<T>()[i]);
  for (size_t d = cur.size(); d-- > 0;) {  // innermost axis first, as the reference nests
    if (!resizes(a, p, cur, os, d)) continue;
    const int64_t in_d = cur[d], out_d = os[d];
    int64_t outer = 1, inner = 1;
    for (size_t k = 0; k < d; ++k) outer *= cur[k];
    for (size_t k = d + 1; k < cur.size(); ++k) inner *= cur[k];
    next.assign(static_cast<size_t>(outer * out_d * inner), A(0));
    for (int64_t j = 0; j < out_d; ++j) {
      const auto x = source_coord(a, p, d, in_d, out_d, j);
      const std::vector<Tap> taps = x ? taps_for(*x, a, p.scales[d], in_d) : std::vector<Tap>{};
      for (int64_t o = 0; o < outer; ++o) {
        A* dst = next.data() + (o * out_d + j) * inner;
        if (!x) {
          std::fill_n(dst, inner, static_cast<A>(a.extrapolation));
          continue;
        }
        for (const Tap& t : taps) {
          const A w = static_cast<A>(t.weight);
          const A* src = buf.data() + (o * in_d + t.index) * inner;
          for (int64_t q = 0; q < inner; ++q) dst[q] += w * src[q];
        }
      }
    }
    buf.swap(next);
    cur[d] = out_d;
  }
  T* o = out.data<T>();
  for (size_t i = 0; i < buf.size(); ++i) {
    if constexpr (std::is_integral_v<T>) {  // truncate like the reference's astype, within range
      const A lo = static_cast<A>(std::numeric_limits<T>::lowest()), hi = static_cast<A>(std::numeric_limits<T>::max());
      o[i] = static_cast<T>(std::clamp(buf[i], lo, hi));
    } else {
      o[i] = static_cast<T>(buf[i]);
    }
  }
}

void resize(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  const auto fail = fail_of(ctx);
  const ResizeAttrs attrs = ir::rules::resize_attrs(fail, ctx.opset(), in.rank());
  const ir::rules::ResizeArgs args = params::resize_args(ctx);
  const ResizePlan plan = ir::rules::resize_plan(fail, ir::to_sym(in.shape()), attrs, args);
  Tensor& out = ctx.output(0, in.dtype(), concrete(ctx, plan.out));
  if (out.numel() == 0) return;
  if (attrs.mode == ResizeMode::Nearest) return nearest(in, out, attrs, plan, ctx.node().label());
  dispatch_numeric(in.dtype(), ctx.node().label(), [&](auto tag) {
    using T = decltype(tag);
    using A = std::conditional_t<std::is_same_v<T, double> || std::is_same_v<T, int64_t>, double, float>;
    interpolate<T, A>(in, out, attrs, plan);
  });
}

}  // namespace

void register_resize_kernels(KernelRegistry& r) {
  r.add_fn("Resize", resize);
  r.add_fn("Upsample", resize);
}

}  // namespace kiln::backend::cpu
