// Channel-statistics normalizations on CUDA: BatchNormalization (inference
// form), InstanceNormalization, GroupNormalization and
// MeanVarianceNormalization; register_cuda_nn_norm also registers the
// trailing-axis norms of nn_norm_layer.cu. As the CPU: statistics in double
// (two passes: mean, then squared deviations), the affine step in the compute
// type (float, double for float64); scale/bias/mean/var of any float dtype
// are converted once per run into scratch.
#include "backends/cuda/kernels/families.h"
#include "backends/cuda/kernels/reduce_engine.cuh"
#include "backends/nn_params.h"

namespace kiln::backend::cuda {

namespace {

using rdx::Launch;
using rdx::Lanes;
using rdx::ReduceGeom;

// ---- BatchNormalization ----
template <typename T, typename A>
__global__ void batch_norm_kernel(const T* __restrict__ x, T* __restrict__ y, const A* __restrict__ p, int64_t c,
                                  int64_t plane, int64_t n, double eps) {
  const A* scale = p;  // p: scale, bias, mean, var; c values each
  const A* bias = p + c;
  const A* mean = p + 2 * c;
  const A* var = p + 3 * c;
  KILN_GRID_STRIDE(i, n) {
    const int64_t ch = (i / plane) % c;
    const auto inv = static_cast<A>(1.0 / sqrt(static_cast<double>(var[ch]) + eps));
    const A mul = scale[ch] * inv;
    y[i] = store<T>((static_cast<A>(load(x[i])) - mean[ch]) * mul + bias[ch]);
  }
}

void run_batch_norm(KernelContext& ctx) {
  const params::BatchNormParams bn = params::batch_norm_params(ctx);
  const int64_t c = bn.c;
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0, x.dtype(), x.shape());
  const int64_t n = x.numel();
  if (n == 0) return;
  const cudaStream_t s = cuda_stream(ctx).get();
  dispatch_float(x.dtype(), ctx, [&](auto tag) {
    using T = decltype(tag);
    using A = Acc<T>;
    rdx::Scratch ws;
    const size_t p_at = ws.add(static_cast<size_t>(4 * c) * sizeof(A));
    ws.bind(ctx);
    A* p = ws.at<A>(p_at);
    for (size_t i = 1; i < 5; ++i) rdx::to_acc<A>(ctx, ctx.input(i), p + (i - 1) * c, Shape{c}, s);
    batch_norm_kernel<T, A><<<grid_for(n), k_threads, 0, s>>>(static_cast<const T*>(x.raw()), static_cast<T*>(y.raw()),
                                                              p, c, bn.plane, n, bn.eps);
    KILN_CUDA_LAUNCH("batch_norm_kernel");
  });
}

// A row's mean and sum of squared deviations, in double, two passes (the
// shifted form keeps the variance of large-mean rows exact). Every lane of
// the block calls it: the reductions are block-wide; dead lanes add nothing.
struct Moments {
  double mean, sq;
};
template <typename T>
__device__ inline Moments row_moments(const T* __restrict__ x, const ReduceGeom& g, int64_t b, bool live, double* sh,
                                      const Lanes& ln, const Launch& l) {
  const int64_t n = g.count;
  double sum = 0;
  if (live)
    for (int64_t j = ln.ty; j < n; j += l.y) sum += static_cast<double>(load(x[b + g.roff(j)]));
  const double mean = rdx::group_reduce(sum, rdx::SumC<double>{}, sh, ln, l) / static_cast<double>(n);
  double sq = 0;
  if (live)
    for (int64_t j = ln.ty; j < n; j += l.y) {
      const double d = static_cast<double>(load(x[b + g.roff(j)])) - mean;
      sq += d * d;
    }
  return {mean, rdx::group_reduce(sq, rdx::SumC<double>{}, sh, ln, l)};
}

// ---- Instance/GroupNormalization: a row per (image, group) ----
template <typename T, typename A>
__global__ void __launch_bounds__(k_threads)
    group_norm_kernel(const T* __restrict__ x, T* __restrict__ y, const A* __restrict__ scale,
                      const A* __restrict__ bias, ReduceGeom g, Launch l, int64_t groups, int64_t group_channels,
                      int64_t plane, bool per_group, double eps) {
  double* sh = rdx::shared_slots<double>();
  const Lanes ln = rdx::lanes(l);
  const int64_t n = g.count;
  for (int64_t ob = blockIdx.x * static_cast<int64_t>(l.x); ob < g.outputs; ob += static_cast<int64_t>(gridDim.x) * l.x) {
    const int64_t o = ob + ln.tx;
    const bool live = o < g.outputs;
    const int64_t b = live ? g.base(o) : 0;
    const auto [mean, sq] = row_moments(x, g, b, live, sh, ln, l);
    if (!live) continue;
    const double inv = 1.0 / sqrt(sq / static_cast<double>(n) + eps);
    const int64_t grp = o % groups;
    const auto mu = static_cast<A>(mean);
    for (int64_t j = ln.ty; j < n; j += l.y) {
      const int64_t k = per_group ? grp : grp * group_channels + j / plane;
      const A mul = static_cast<A>(inv) * scale[k];
      const int64_t at = b + g.roff(j);
      y[at] = store<T>((static_cast<A>(load(x[at])) - mu) * mul + bias[k]);
    }
  }
}

void group_normalize(KernelContext& ctx, int64_t groups, bool per_group) {
  const Tensor& x = ctx.input(0);
  const int64_t c = x.shape()[1];
  Tensor& y = ctx.output(0, x.dtype(), x.shape());
  if (x.numel() == 0) return;
  int64_t plane = 1;
  for (size_t d = 2; d < x.shape().size(); ++d) plane *= x.shape()[d];
  const int64_t gc = c / groups, params = per_group ? groups : c;
  const double eps = ctx.node().attr_f("epsilon", 1e-5f);
  const ReduceGeom g = rdx::axis_geom(x.shape()[0] * groups, gc * plane, 1);
  const Launch l = rdx::plan_launch(g, false);
  const cudaStream_t s = cuda_stream(ctx).get();
  dispatch_float(x.dtype(), ctx, [&](auto tag) {
    using T = decltype(tag);
    using A = Acc<T>;
    rdx::Scratch ws;
    const size_t p_at = ws.add(static_cast<size_t>(2 * params) * sizeof(A));
    ws.bind(ctx);
    A* p = ws.at<A>(p_at);
    rdx::to_acc<A>(ctx, ctx.input(1), p, Shape{params}, s);
    rdx::to_acc<A>(ctx, ctx.input(2), p + params, Shape{params}, s);
    group_norm_kernel<T, A><<<l.blocks, k_threads, 0, s>>>(static_cast<const T*>(x.raw()), static_cast<T*>(y.raw()), p,
                                                           p + params, g, l, groups, gc, plane, per_group, eps);
    KILN_CUDA_LAUNCH("group_norm_kernel");
  });
}

void run_instance_norm(KernelContext& ctx) { group_normalize(ctx, params::instance_norm_channels(ctx), false); }

void run_group_norm(KernelContext& ctx) {
  const params::GroupNormParams p = params::group_norm_params(ctx);
  group_normalize(ctx, p.groups, p.per_group);
}

// ---- MeanVarianceNormalization: (x - mean) / (std + 1e-9) over `axes` ----
template <typename T>
__global__ void __launch_bounds__(k_threads)
    mvn_kernel(const T* __restrict__ x, T* __restrict__ y, ReduceGeom g, Launch l) {
  double* sh = rdx::shared_slots<double>();
  const Lanes ln = rdx::lanes(l);
  const int64_t n = g.count;
  for (int64_t ob = blockIdx.x * static_cast<int64_t>(l.x); ob < g.outputs; ob += static_cast<int64_t>(gridDim.x) * l.x) {
    const int64_t o = ob + ln.tx;
    const bool live = o < g.outputs;
    const int64_t b = live ? g.base(o) : 0;
    const auto [mean, sq] = row_moments(x, g, b, live, sh, ln, l);
    if (!live) continue;
    const double denom = sqrt(sq / static_cast<double>(n)) + 1e-9;
    for (int64_t j = ln.ty; j < n; j += l.y) {
      const int64_t at = b + g.roff(j);
      y[at] = store<T>((static_cast<double>(load(x[at])) - mean) / denom);
    }
  }
}

void run_mvn(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const int64_t rank = x.rank();
  const std::vector<bool> reduced = params::mvn_reduced(ctx);
  Tensor& y = ctx.output(0, x.dtype(), x.shape());
  if (x.numel() == 0) return;
  if (rank > k_max_dims) throw Error(ErrorCode::Unsupported, ctx.node().label() + ": rank > 8 on cuda");
  const ReduceGeom g = rdx::make_geom(x.shape(), reduced);
  const Launch l = rdx::plan_launch(g, false);
  dispatch_float(x.dtype(), ctx, [&](auto tag) {
    using T = decltype(tag);
    mvn_kernel<T><<<l.blocks, k_threads, 0, cuda_stream(ctx).get()>>>(static_cast<const T*>(x.raw()),
                                                                     static_cast<T*>(y.raw()), g, l);
    KILN_CUDA_LAUNCH("mvn_kernel");
  });
}

void check_float_x(const ir::Node& n, const ir::Graph& g) {
  rdx::require_input_dtype(n, g, 0, rdx::k_float_types);
  if (!n.inputs.empty()) require_rank(n, g, n.inputs[0]);
}

void check_params(const ir::Node& n, const ir::Graph& g) {
  check_float_x(n, g);
  for (size_t i = 1; i < n.inputs.size(); ++i) rdx::require_input_dtype(n, g, i, rdx::k_float_types);
}

}  // namespace

void register_cuda_nn_norm(KernelRegistry& r) {
  rdx::add_checked(
      r, "BatchNormalization",
      [](const ir::Node& n, const ir::Graph& g) {
        if (n.attr_i("training_mode", 0) != 0) rdx::refuse(n, "training_mode=1 is not supported");
        for (size_t i = 1; i < n.outputs.size(); ++i)
          if (n.outputs[i] != ir::k_no_value) rdx::refuse(n, "training outputs are not supported");
        check_params(n, g);
      },
      run_batch_norm);
  rdx::add_checked(r, "InstanceNormalization", check_params, run_instance_norm);
  rdx::add_checked(r, "GroupNormalization", check_params, run_group_norm);
  rdx::add_checked(r, "MeanVarianceNormalization", check_float_x, run_mvn);
  rdx::register_norm_layer(r);
}

}  // namespace kiln::backend::cuda
