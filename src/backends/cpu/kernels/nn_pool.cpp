// Pooling reference kernels: MaxPool (optional Indices), AveragePool,
// GlobalAveragePool, GlobalMaxPool; any number of spatial axes.
#include <limits>

#include "backends/cpu/kernels/nn_kernels.h"
#include "backends/nn_params.h"
#include "ir/ops/nn_attrs.h"

namespace kiln::backend {

namespace {

using nn::AccIn;
using nn::AccOut;
using nn::product;

// One spatial axis of a pool: per output position, the input indices its
// window reads, and how many taps lie inside the padded extent.
struct PoolAxis {
  std::vector<std::vector<int64_t>> taps;
  std::vector<int64_t> padded;
};

struct PoolGeom {
  int64_t n = 0, c = 0;
  Shape in, out;
  std::vector<PoolAxis> axes;
};

PoolGeom pool_geom(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.rank() < 3) ctx.fail("X must have rank >= 3 (N, C, spatial...), got " + shape_str(x.shape()));
  PoolGeom g;
  g.n = x.shape()[0];
  g.c = x.shape()[1];
  g.in.assign(x.shape().begin() + 2, x.shape().end());
  ir::Window w = ir::read_window(ctx.node(), g.in.size(), {}, true);
  const size_t nd = g.in.size();
  for (size_t d = 0; d < nd; ++d) {
    const int64_t out = ir::window_out_dim(ctx.node(), w, d, g.in[d]);
    g.out.push_back(out);
    PoolAxis axis;
    for (int64_t o = 0; o < out; ++o) {
      std::vector<int64_t> taps;
      int64_t padded = 0;
      for (int64_t k = 0; k < w.kernel[d]; ++k) {
        const int64_t i = o * w.strides[d] - w.pads[d] + k * w.dilations[d];
        if (i >= 0 && i < g.in[d]) taps.push_back(i);
        if (i >= -w.pads[d] && i < g.in[d] + w.pads[d + nd]) ++padded;
      }
      axis.taps.push_back(std::move(taps));
      axis.padded.push_back(padded);
    }
    g.axes.push_back(std::move(axis));
  }
  return g;
}

// Calls f(p, offsets, padded) for every output position p (row-major), with the
// row-major offsets (within one plane) of the inputs its window covers.
template <typename F>
void for_each_window(const PoolGeom& g, F&& f) {
  const size_t nd = g.out.size();
  std::vector<int64_t> o(nd, 0), offs, next;
  const int64_t total = product(g.out);
  for (int64_t p = 0; p < total; ++p) {
    offs.assign(1, 0);
    int64_t padded = 1;
    for (size_t d = 0; d < nd; ++d) {
      const auto& taps = g.axes[d].taps[static_cast<size_t>(o[d])];
      padded *= g.axes[d].padded[static_cast<size_t>(o[d])];
      next.clear();
      for (int64_t base : offs)
        for (int64_t i : taps) next.push_back(base * g.in[d] + i);
      offs.swap(next);
    }
    f(p, offs, padded);
    for (size_t d = nd; d-- > 0;) {
      if (++o[d] < g.out[d]) break;
      o[d] = 0;
    }
  }
}

// Row-major plane offset → column-major (storage_order=1) offset.
int64_t column_major(int64_t off, const Shape& in) {
  int64_t cm = 0, stride = 1;
  std::vector<int64_t> idx(in.size());
  for (size_t d = in.size(); d-- > 0;) {
    idx[d] = off % in[d];
    off /= in[d];
  }
  for (size_t d = 0; d < in.size(); ++d) {
    cm += idx[d] * stride;
    stride *= in[d];
  }
  return cm;
}

void run_max_pool(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const PoolGeom g = pool_geom(ctx);
  const bool col_major = ctx.node().attr_i("storage_order", 0) == 1;
  Shape y_shape{g.n, g.c};
  y_shape.insert(y_shape.end(), g.out.begin(), g.out.end());
  Tensor& y = ctx.output(0, x.dtype(), y_shape);
  int64_t* ind = ctx.has_output(1) ? ctx.output(1, DataType::Int64, y_shape).data<int64_t>() : nullptr;
  const int64_t plane_in = product(g.in), plane_out = product(g.out);
  dispatch_numeric(x.dtype(), ctx.node().label(), [&](auto tag) {
    using T = decltype(tag);
    const T* xs = x.data<T>();
    T* ys = y.data<T>();
    // A window wholly inside the padding (possible with pads >= kernel) reads nothing.
    T lowest;
    if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) lowest = T(-std::numeric_limits<float>::infinity());
    else lowest = std::numeric_limits<T>::lowest();
    for (int64_t nc = 0; nc < g.n * g.c; ++nc) {
      const T* plane = xs + nc * plane_in;
      for_each_window(g, [&](int64_t p, const std::vector<int64_t>& offs, int64_t) {
        int64_t best = -1;
        for (int64_t off : offs)
          if (best < 0 || static_cast<double>(plane[off]) > static_cast<double>(plane[best])) best = off;
        ys[nc * plane_out + p] = best >= 0 ? plane[best] : lowest;
        if (ind) ind[nc * plane_out + p] = best < 0 ? -1 : nc * plane_in + (col_major ? column_major(best, g.in) : best);
      });
    }
  });
}

void run_average_pool(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const PoolGeom g = pool_geom(ctx);
  const bool include_pad = ctx.node().attr_i("count_include_pad", 0) == 1;
  Shape y_shape{g.n, g.c};
  y_shape.insert(y_shape.end(), g.out.begin(), g.out.end());
  Tensor& y = ctx.output(0, x.dtype(), y_shape);
  const int64_t plane_in = product(g.in), plane_out = product(g.out);
  nn::dispatch_acc(ctx, x.dtype(), [&](auto tag) {
    using A = decltype(tag);
    const AccIn<A> xa(x);
    AccOut<A> ya(y);
    for (int64_t nc = 0; nc < g.n * g.c; ++nc) {
      const A* plane = xa.data() + nc * plane_in;
      for_each_window(g, [&](int64_t p, const std::vector<int64_t>& offs, int64_t padded) {
        A sum = 0;
        for (int64_t off : offs) sum += plane[off];
        const auto count = include_pad ? padded : static_cast<int64_t>(offs.size());
        ya.data()[nc * plane_out + p] = count > 0 ? sum / static_cast<A>(count) : A(0);
      });
    }
    ya.commit();
  });
}

template <bool Max>
void run_global_pool(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const params::GlobalPoolPlan p = params::global_pool_plan(ctx);
  const int64_t planes = p.planes, size = p.size;
  Tensor& y = ctx.output(0, x.dtype(), p.out);
  nn::dispatch_acc(ctx, x.dtype(), [&](auto tag) {
    using A = decltype(tag);
    const AccIn<A> xa(x);
    AccOut<A> ya(y);
    for (int64_t i = 0; i < planes; ++i) {
      const A* plane = xa.data() + i * size;
      A r = plane[0];
      for (int64_t j = 1; j < size; ++j) r = Max ? (plane[j] > r ? plane[j] : r) : r + plane[j];
      ya.data()[i] = Max ? r : r / static_cast<A>(size);
    }
    ya.commit();
  });
}

}  // namespace

void register_cpu_pool(KernelRegistry& r) {
  r.add_fn("MaxPool", run_max_pool);
  r.add_fn("AveragePool", run_average_pool);
  r.add_fn("GlobalAveragePool", run_global_pool<false>);
  r.add_fn("GlobalMaxPool", run_global_pool<true>);
}

}  // namespace kiln::backend
