// Device side of Resize/Upsample (included by resize.cu only): the per-axis
// tap tables and the kernels that apply them.
//
// Like the CPU kernel (backends/cpu/kernels/resize.cpp), every resized axis
// maps each output index to a source coordinate and then to weighted input
// taps. A table kernel computes those taps on the device with the CPU's
// double arithmetic (uncontracted, so nearest indices agree exactly) and no
// host-to-device upload. The apply kernels work on a [planes, H, W] view: one
// pass resizes W then H (the two innermost dims, as the CPU orders its
// separable passes), or one axis H with W the contiguous rest. Sums run in
// the CPU's accumulation type and tap order, so results match it closely
// (bit for bit barring the final rounding of 16-bit types).
#pragma once

#include <limits>

#include "backends/cuda/kernels/detection_common.cuh"
#include "ir/ops/resize_rules.h"

namespace kiln::backend::cuda::det {

using ir::rules::CoordMode;
using ir::rules::NearestMode;
using ir::rules::ResizeMode;

// One resized axis of the table kernel.
struct AxisPlan {
  int64_t in = 0, out = 0;  // sizes along the axis
  double scale = 1, roi_start = 0, roi_end = 1;
  int64_t taps = 1;      // taps per output index (1 for nearest)
  int64_t aa_start = 0;  // antialias: offset of the first tap from ceil(x) - 1
  int64_t first = 0;     // this axis's first entry in the flat launch
  int64_t* idx = nullptr;  // [out * taps]; -1 everywhere for a coordinate outside the crop
  void* w = nullptr;       // [out * taps] of the accumulation type; null for nearest
};

struct TablePlan {
  int axes = 0;
  AxisPlan ax[k_max_dims];
  int64_t total = 0;  // sum of out over the axes
  ResizeMode mode = ResizeMode::Nearest;
  CoordMode coord = CoordMode::HalfPixel;
  NearestMode nearest = NearestMode::RoundPreferFloor;
  double cubic_a = -0.75;
  bool exclude_outside = false, antialias = false;
};

// The CPU's source_coord(); false outside the crop (tf_crop_and_resize).
__device__ inline bool source_coord(const TablePlan& p, const AxisPlan& a, int64_t o, double& c) {
  const double scale = a.scale, x = static_cast<double>(o);
  const double in_f = static_cast<double>(a.in), out_w = dmul(scale, in_f);  // not rounded, as the CPU
  switch (p.coord) {
    case CoordMode::AlignCorners:
      c = out_w == 1 ? 0.0 : ddiv(dmul(x, dsub(in_f, 1)), dsub(out_w, 1));
      return true;
    case CoordMode::Asymmetric: c = ddiv(x, scale); return true;
    case CoordMode::PytorchHalfPixel:
      c = out_w == 1 ? -0.5 : dsub(ddiv(dadd(x, 0.5), scale), 0.5);
      return true;
    case CoordMode::HalfPixel: c = dsub(ddiv(dadd(x, 0.5), scale), 0.5); return true;
    case CoordMode::HalfPixelSymmetric: {
      const double adjustment = ddiv(static_cast<double>(a.out), out_w);
      const double offset = dmul(ddiv(in_f, 2), dsub(1, adjustment));
      c = dsub(dadd(offset, ddiv(dadd(x, 0.5), scale)), 0.5);
      return true;
    }
    case CoordMode::TfCropAndResize: {
      const double rs = a.roi_start, re = a.roi_end;
      double v = out_w == 1 ? ddiv(dmul(dsub(re, rs), dsub(in_f, 1)), 2)
                            : ddiv(dmul(dmul(x, dsub(re, rs)), dsub(in_f, 1)), dsub(out_w, 1));
      v = dadd(v, dmul(rs, dsub(in_f, 1)));
      c = v;
      return !(v < 0 || v > in_f - 1);
    }
  }
  c = x;
  return true;
}

__device__ inline int64_t clamp_index(int64_t i, int64_t n) { return i < 0 ? 0 : (i > n - 1 ? n - 1 : i); }

__device__ inline int64_t nearest_index(double x, NearestMode m, double scale, int64_t in_w) {
  int64_t i;
  if (m == NearestMode::Simple) {
    i = scale < 1 ? static_cast<int64_t>(ceil(x)) : static_cast<int64_t>(x);
  } else if (x == floor(x)) {
    i = static_cast<int64_t>(x);
  } else {
    const double fl = floor(x), frac = dsub(x, fl);
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
  return clamp_index(i, in_w);
}

__device__ inline double cubic_kernel(double x, double a) {
  x = fabs(x);
  if (x <= 1) return dadd(dmul(dmul(dsub(dmul(dadd(a, 2), x), dadd(a, 3)), x), x), 1);
  if (x < 2) return dsub(dmul(dadd(dmul(dsub(dmul(a, x), dmul(5, a)), x), dmul(8, a)), x), dmul(4, a));
  return 0;
}

// Weight and (unclamped) index of tap k around x, before normalization.
__device__ inline double tap_weight(const TablePlan& p, const AxisPlan& a, int64_t i0, double r, int64_t k,
                                    int64_t& index) {
  double w;
  if (!p.antialias) {
    if (p.mode == ResizeMode::Linear) {
      index = i0 + k;
      w = k == 0 ? dsub(1, r) : r;
    } else {
      index = i0 + k - 1;
      w = cubic_kernel(dsub(static_cast<double>(k - 1), r), p.cubic_a);
    }
  } else {
    // Antialias stretches the filter by 1/scale when downsampling.
    const double s = std_min(a.scale, 1.0);
    const int64_t off = a.aa_start + k;
    index = i0 + off;
    const double t = dmul(s, dsub(static_cast<double>(off), r));
    if (p.mode == ResizeMode::Linear) {
      const double v = dsub(1, fabs(t));
      w = v < 0.0 ? 0.0 : (1.0 < v ? 1.0 : v);  // std::clamp(v, 0, 1)
    } else {
      w = cubic_kernel(t, p.cubic_a);
    }
  }
  if (p.exclude_outside && (index < 0 || index >= a.in)) w = 0;
  return w;
}

// One thread per (axis, output index): the CPU's taps_for()/nearest_index().
template <typename A>
__global__ void build_tables(TablePlan p) {
  KILN_GRID_STRIDE(e, p.total) {
    int ai = 0;
    while (ai + 1 < p.axes && p.ax[ai + 1].first <= e) ++ai;
    const AxisPlan& a = p.ax[ai];
    const int64_t o = e - a.first, nt = a.taps;
    int64_t* idx = a.idx + o * nt;
    A* w = a.w ? static_cast<A*>(a.w) + o * nt : nullptr;
    double x;
    if (!source_coord(p, a, o, x)) {
      for (int64_t k = 0; k < nt; ++k) {
        idx[k] = -1;
        if (w) w[k] = A(0);
      }
      continue;
    }
    if (p.mode == ResizeMode::Nearest) {
      idx[0] = nearest_index(x, p.nearest, a.scale, a.in);
      continue;
    }
    const int64_t i0 = static_cast<int64_t>(ceil(x)) - 1;
    const double r = dsub(x, static_cast<double>(i0));
    const bool normalize = p.antialias || p.exclude_outside;
    double sum = 0;
    int64_t index;
    if (normalize)
      for (int64_t k = 0; k < nt; ++k) sum = dadd(sum, tap_weight(p, a, i0, r, k, index));
    for (int64_t k = 0; k < nt; ++k) {
      double wk = tap_weight(p, a, i0, r, k, index);
      if (normalize && sum != 0) wk = ddiv(wk, sum);
      idx[k] = clamp_index(index, a.in);  // edge padding
      w[k] = static_cast<A>(wk);
    }
  }
}

// The taps of one axis of an apply kernel; idx == nullptr: identity.
template <typename A>
struct Tab {
  const int64_t* idx = nullptr;
  const A* w = nullptr;
  int64_t taps = 1;
};

// Thread geometry of the [planes, oh, ow] loops: x over ow (coalesced), y
// over oh, z over planes; no divisions in the kernels.
#define KILN_RESIZE_LOOPS(planes, oh, ow)                                                                          \
  for (int64_t p = blockIdx.z * static_cast<int64_t>(blockDim.z) + threadIdx.z; p < (planes);                   \
       p += static_cast<int64_t>(gridDim.z) * blockDim.z)                                                          \
    for (int64_t oy = blockIdx.y * static_cast<int64_t>(blockDim.y) + threadIdx.y; oy < (oh);                   \
         oy += static_cast<int64_t>(gridDim.y) * blockDim.y)                                                       \
      for (int64_t ox = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; ox < (ow);                 \
           ox += static_cast<int64_t>(gridDim.x) * blockDim.x)

// Nearest is a gather of whole elements (E: an unsigned type of their size).
template <typename E>
__global__ void resize_nearest_hw(const E* in, E* out, int64_t planes, int64_t ih, int64_t iw, int64_t oh, int64_t ow,
                                  const int64_t* ty, const int64_t* tx, E fill) {
  KILN_RESIZE_LOOPS(planes, oh, ow) {
    const int64_t iy = ty ? ty[oy] : oy, ix = tx ? tx[ox] : ox;
    out[(p * oh + oy) * ow + ox] = (iy < 0 || ix < 0) ? fill : in[(p * ih + iy) * iw + ix];
  }
}

template <typename A, typename In>
__device__ __forceinline__ A to_acc(In v) {
  return static_cast<A>(load(v));
}

// A to the output type: integers truncate after clamping to their range, as
// the CPU does.
template <typename Out, typename A>
__device__ __forceinline__ Out from_acc(A v) {
  if constexpr (std::is_integral_v<Out>) {
    const A lo = static_cast<A>(std::numeric_limits<Out>::lowest()), hi = static_cast<A>(std::numeric_limits<Out>::max());
    v = v < lo ? lo : (hi < v ? hi : v);
    return static_cast<Out>(v);
  } else {
    return store<Out>(v);
  }
}

// Row value at column ox after the W taps (the CPU's first pass).
template <typename A, typename In>
__device__ __forceinline__ A row_value(const In* row, int64_t ox, const Tab<A>& tx, A extrapolation) {
  if (!tx.idx) return to_acc<A>(row[ox]);
  const int64_t* xi = tx.idx + ox * tx.taps;
  if (xi[0] < 0) return extrapolation;
  const A* xw = tx.w + ox * tx.taps;
  A acc = A(0);
  for (int64_t k = 0; k < tx.taps; ++k) acc = add_rn(acc, mul_rn(xw[k], to_acc<A>(row[xi[k]])));
  return acc;
}

template <typename In, typename Out, typename A>
__global__ void resize_interp_hw(const In* in, Out* out, int64_t planes, int64_t ih, int64_t iw, int64_t oh,
                                 int64_t ow, Tab<A> ty, Tab<A> tx, A extrapolation) {
  KILN_RESIZE_LOOPS(planes, oh, ow) {
    const In* plane = in + p * ih * iw;
    A v;
    if (!ty.idx) {
      v = row_value(plane + oy * iw, ox, tx, extrapolation);
    } else {
      const int64_t* yi = ty.idx + oy * ty.taps;
      if (yi[0] < 0) {
        v = extrapolation;
      } else {
        const A* yw = ty.w + oy * ty.taps;
        v = A(0);
        for (int64_t k = 0; k < ty.taps; ++k)
          v = add_rn(v, mul_rn(yw[k], row_value(plane + yi[k] * iw, ox, tx, extrapolation)));
      }
    }
    out[(p * oh + oy) * ow + ox] = from_acc<Out>(v);
  }
}

#undef KILN_RESIZE_LOOPS

}  // namespace kiln::backend::cuda::det
