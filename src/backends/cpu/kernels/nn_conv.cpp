// Conv, ConvInteger and ConvTranspose reference kernels, any number of
// spatial axes.
// Conv: im2col + GEMM per (image, group). ConvTranspose: GEMM + col2im
// (scatter-add), the adjoint of the same tap mapping.
#include <algorithm>
#include <optional>

#include "backends/cpu/kernels/nn_kernels.h"
#include "backends/nn_params.h"
#include "ir/ops/nn_attrs.h"

namespace kiln::backend {

namespace {

using nn::AccIn;
using nn::AccOut;
using nn::product;

// Per axis d, for one kernel tap: the image index grid position o reads
// (o*stride - pad_begin + tap*dilation), or -1 when it falls in the padding.
using TapMaps = std::vector<std::vector<int64_t>>;

void tap_maps(const ir::Window& w, const Shape& img, const Shape& grid, int64_t tap, TapMaps& maps) {
  const size_t nd = grid.size();
  maps.resize(nd);
  for (size_t d = nd; d-- > 0;) {
    const int64_t kd = tap % w.kernel[d];
    tap /= w.kernel[d];
    maps[d].resize(static_cast<size_t>(grid[d]));
    for (int64_t o = 0; o < grid[d]; ++o) {
      const int64_t i = o * w.strides[d] - w.pads[d] + kd * w.dilations[d];
      maps[d][static_cast<size_t>(o)] = i >= 0 && i < img[d] ? i : -1;
    }
  }
}

// Calls f(p, src) for every grid position p (row-major) with src the linear
// image offset it reads for this tap, or -1 in the padding.
template <typename F>
void visit_taps(const TapMaps& maps, const Shape& img, const Shape& grid, F&& f) {
  const size_t nd = grid.size();
  const int64_t last = grid[nd - 1];
  if (last == 0) return;
  const int64_t* ml = maps[nd - 1].data();
  std::vector<int64_t> o(nd, 0);
  const int64_t outer = product(grid) / last;
  int64_t p = 0;
  for (int64_t t = 0; t < outer; ++t) {
    int64_t base = 0;
    bool valid = true;
    for (size_t d = 0; d + 1 < nd && valid; ++d) {
      const int64_t i = maps[d][static_cast<size_t>(o[d])];
      valid = i >= 0;
      base = base * img[d] + i;
    }
    base *= img[nd - 1];
    for (int64_t j = 0; j < last; ++j, ++p) f(p, valid && ml[j] >= 0 ? base + ml[j] : -1);
    for (size_t d = nd - 1; d-- > 0;) {
      if (++o[d] < grid[d]) break;
      o[d] = 0;
    }
  }
}

// col[(c*taps + tap) * P + p] = x[c][image position tap/p reads], 0 in padding.
template <typename A>
void im2col(const A* x, int64_t channels, const Shape& img, const Shape& grid, const ir::Window& w, A* col) {
  const int64_t taps = product(w.kernel), img_size = product(img), grid_size = product(grid);
  TapMaps maps;
  for (int64_t tap = 0; tap < taps; ++tap) {
    tap_maps(w, img, grid, tap, maps);
    for (int64_t c = 0; c < channels; ++c) {
      A* dst = col + (c * taps + tap) * grid_size;
      const A* src = x + c * img_size;
      visit_taps(maps, img, grid, [&](int64_t p, int64_t s) { dst[p] = s < 0 ? A(0) : src[s]; });
    }
  }
}

// The adjoint of im2col: y[c][image position] += col[(c*taps + tap) * P + p].
template <typename A>
void col2im(const A* col, int64_t channels, const Shape& img, const Shape& grid, const ir::Window& w, A* y) {
  const int64_t taps = product(w.kernel), img_size = product(img), grid_size = product(grid);
  TapMaps maps;
  for (int64_t tap = 0; tap < taps; ++tap) {
    tap_maps(w, img, grid, tap, maps);
    for (int64_t c = 0; c < channels; ++c) {
      const A* src = col + (c * taps + tap) * grid_size;
      A* dst = y + c * img_size;
      visit_taps(maps, img, grid, [&](int64_t p, int64_t s) {
        if (s >= 0) dst[s] += src[p];
      });
    }
  }
}

template <typename A>
std::optional<AccIn<A>> bias_of(KernelContext& ctx, int64_t m) {
  if (!ctx.has_input(2)) return std::nullopt;
  const Tensor& b = ctx.input(2);
  if (b.rank() != 1 || b.shape()[0] != m)
    ctx.fail("bias B " + shape_str(b.shape()) + " must have shape [" + std::to_string(m) + "]");
  return AccIn<A>(b);
}

// Validated geometry of one Conv/ConvInteger node (shared with CUDA).
using ConvPlan = params::ConvGeometry;

ConvPlan plan_conv(KernelContext& ctx) {
  return params::conv_geometry(ctx, ctx.node(), ctx.input(0).shape(), ctx.input(1).shape());
}

// y = conv(x, w) + bias (bias may be null), per image and group: im2col + GEMM.
template <typename A>
void conv_forward(const ConvPlan& pl, const A* x, const A* w, const A* bias, A* y) {
  const ConvPlan& d = pl;
  const int64_t mg = pl.m / d.group, taps = product(d.kernel), k = pl.cg * taps;
  const int64_t img = product(d.spatial), p = product(pl.grid);
  // A 1x1 kernel with unit strides and no padding reads the image as is.
  const auto ones = [](const std::vector<int64_t>& v, int64_t one) {
    return std::all_of(v.begin(), v.end(), [one](int64_t s) { return s == one; });
  };
  const bool direct = taps == 1 && ones(pl.w.strides, 1) && ones(pl.w.pads, 0);
  std::vector<A> col(direct ? 0 : static_cast<size_t>(k * p));
  for (int64_t n = 0; n < d.n; ++n) {
    for (int64_t g = 0; g < d.group; ++g) {
      const A* xg = x + (n * d.c + g * pl.cg) * img;
      const A* cols = xg;
      if (!direct) {
        im2col(xg, pl.cg, d.spatial, pl.grid, pl.w, col.data());
        cols = col.data();
      }
      A* yg = y + (n * pl.m + g * mg) * p;
      nn::gemm<A>(false, false, mg, p, k, A(1), w + g * mg * k, k, cols, p, A(0), yg, p);
      if (bias)
        for (int64_t o = 0; o < mg; ++o)
          for (int64_t q = 0; q < p; ++q) yg[o * p + q] += bias[g * mg + o];
    }
  }
}

void run_conv(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const ConvPlan pl = plan_conv(ctx);
  Tensor& y = ctx.output(0, x.dtype(), pl.y_shape);
  nn::dispatch_acc(ctx, x.dtype(), [&](auto tag) {
    using A = decltype(tag);
    const AccIn<A> xa(x), wa(ctx.input(1));
    const auto bias = bias_of<A>(ctx, pl.m);
    AccOut<A> ya(y);
    conv_forward<A>(pl, xa.data(), wa.data(), bias ? bias->data() : nullptr, ya.data());
    ya.commit();
  });
}

// ConvInteger: (x - x_zero_point) conv (w - w_zero_point) in int32; padding
// reads x_zero_point, i.e. 0 after centering. w_zero_point is a scalar or one
// value per output channel.
void run_conv_integer(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& wt = ctx.input(1);
  for (const Tensor* t : {&x, &wt})
    if (t->dtype() != DataType::Int8 && t->dtype() != DataType::UInt8)
      ctx.fail("inputs must be int8 or uint8, got " + std::string(dtype_name(t->dtype())));
  const ConvPlan pl = plan_conv(ctx);
  const auto zero_points = [&](size_t i, int64_t per) {
    std::vector<int32_t> zp{0};
    if (!ctx.has_input(i)) return zp;
    const Tensor& z = ctx.input(i);
    if (z.rank() > 1 || (z.numel() != 1 && z.numel() != per))
      ctx.fail("zero point " + shape_str(z.shape()) + " must be a scalar or have " + std::to_string(per) + " values");
    zp.clear();
    for (int64_t k = 0; k < z.numel(); ++k) zp.push_back(static_cast<int32_t>(read_int(z, k)));
    return zp;
  };
  const std::vector<int32_t> xzp = zero_points(2, 1), wzp = zero_points(3, pl.m);
  std::vector<int32_t> xc(static_cast<size_t>(x.numel())), wc(static_cast<size_t>(wt.numel()));
  for (int64_t i = 0; i < x.numel(); ++i) xc[static_cast<size_t>(i)] = static_cast<int32_t>(read_int(x, i)) - xzp[0];
  const int64_t per_m = wt.numel() / std::max<int64_t>(pl.m, 1);
  for (int64_t i = 0; i < wt.numel(); ++i)
    wc[static_cast<size_t>(i)] =
        static_cast<int32_t>(read_int(wt, i)) - wzp[wzp.size() == 1 ? 0 : static_cast<size_t>(i / per_m)];
  Tensor& y = ctx.output(0, DataType::Int32, pl.y_shape);
  conv_forward<int32_t>(pl, xc.data(), wc.data(), nullptr, y.data<int32_t>());
}

void run_conv_transpose(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& wt = ctx.input(1);
  const ConvPlan d = params::conv_transpose_geometry(ctx, ctx.node(), x.shape(), wt.shape());
  const int64_t m = d.m, mg = m / d.group, cg = d.cg;
  const ir::Window& w = d.w;
  const Shape& img = d.grid;
  const Shape& y_shape = d.y_shape;
  Tensor& y = ctx.output(0, x.dtype(), y_shape);
  nn::dispatch_acc(ctx, x.dtype(), [&](auto tag) {
    using A = decltype(tag);
    const AccIn<A> xa(x), wa(wt);
    const auto bias = bias_of<A>(ctx, m);
    AccOut<A> ya(y);
    const int64_t taps = product(d.kernel), k = mg * taps;
    const int64_t grid = product(d.spatial), img_size = product(img);
    std::vector<A> col(static_cast<size_t>(k * grid));
    for (int64_t n = 0; n < d.n; ++n) {
      for (int64_t g = 0; g < d.group; ++g) {
        A* yg = ya.data() + (n * m + g * mg) * img_size;
        for (int64_t o = 0; o < mg; ++o)
          std::fill(yg + o * img_size, yg + (o + 1) * img_size, bias ? (*bias)[g * mg + o] : A(0));
        // col[K x grid] = W_g^T [K x cg] * X_g [cg x grid]
        nn::gemm<A>(true, false, k, grid, cg, A(1), wa.data() + g * cg * k, k,
                    xa.data() + (n * d.c + g * cg) * grid, grid, A(0), col.data(), grid);
        col2im(col.data(), mg, img, d.spatial, w, yg);
      }
    }
    ya.commit();
  });
}

}  // namespace

void register_cpu_conv(KernelRegistry& r) {
  r.add_fn("Conv", run_conv);
  r.add_fn("ConvInteger", run_conv_integer);
  r.add_fn("ConvTranspose", run_conv_transpose);
}

}  // namespace kiln::backend
