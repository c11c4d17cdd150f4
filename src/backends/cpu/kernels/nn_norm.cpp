// Channel-statistics normalizations: BatchNormalization (inference form),
// InstanceNormalization and GroupNormalization. X is [N, C, spatial...].
#include <cmath>

#include "backends/cpu/kernels/nn_kernels.h"
#include "backends/nn_params.h"

namespace kiln::backend {

namespace {

using nn::AccIn;
using nn::AccOut;
using nn::product;

// Mean and population variance of n values, accumulated in double.
struct Moments { double mean = 0, var = 0; };

template <typename A>
Moments moments(const A* x, int64_t n) {
  Moments m;
  if (n == 0) return m;
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i]);
  m.mean = sum / static_cast<double>(n);
  double sq = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(x[i]) - m.mean;
    sq += d * d;
  }
  m.var = sq / static_cast<double>(n);
  return m;
}

void run_batch_norm(KernelContext& ctx) {
  const params::BatchNormParams p = params::batch_norm_params(ctx);
  const Tensor& x = ctx.input(0);
  const int64_t c = p.c, n = x.shape()[0], plane = p.plane;
  const double eps = p.eps;
  Tensor& y = ctx.output(0, x.dtype(), x.shape());
  nn::dispatch_acc(ctx, x.dtype(), [&](auto tag) {
    using A = decltype(tag);
    const AccIn<A> xa(x), scale(ctx.input(1)), bias(ctx.input(2)), mean(ctx.input(3)), var(ctx.input(4));
    AccOut<A> ya(y);
    for (int64_t ch = 0; ch < c; ++ch) {
      const A inv = static_cast<A>(1.0 / std::sqrt(static_cast<double>(var[ch]) + eps));
      const A mul = scale[ch] * inv, mu = mean[ch], add = bias[ch];
      for (int64_t i = 0; i < n; ++i) {
        const A* src = xa.data() + (i * c + ch) * plane;
        A* dst = ya.data() + (i * c + ch) * plane;
        for (int64_t j = 0; j < plane; ++j) dst[j] = (src[j] - mu) * mul + add;
      }
    }
    ya.commit();
  });
}

// Normalizes `groups` groups of each image, each `group_channels` channels of
// `plane` values; scale/bias index is per channel or (per_group) per group.
template <typename A>
void group_normalize(const A* x, A* y, int64_t n, int64_t groups, int64_t group_channels, int64_t plane,
                     const A* scale, const A* bias, bool per_group, double eps) {
  const int64_t span = group_channels * plane;
  for (int64_t i = 0; i < n * groups; ++i) {
    const int64_t g = i % groups;
    const A* src = x + i * span;
    A* dst = y + i * span;
    const Moments m = moments(src, span);
    const double inv = 1.0 / std::sqrt(m.var + eps);
    for (int64_t ch = 0; ch < group_channels; ++ch) {
      const int64_t k = per_group ? g : g * group_channels + ch;
      const A mul = static_cast<A>(inv) * scale[k], add = bias[k], mu = static_cast<A>(m.mean);
      for (int64_t j = 0; j < plane; ++j) dst[ch * plane + j] = (src[ch * plane + j] - mu) * mul + add;
    }
  }
}

void run_instance_norm(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const int64_t c = params::instance_norm_channels(ctx);
  Tensor& y = ctx.output(0, x.dtype(), x.shape());
  const double eps = ctx.node().attr_f("epsilon", 1e-5f);
  nn::dispatch_acc(ctx, x.dtype(), [&](auto tag) {
    using A = decltype(tag);
    const AccIn<A> xa(x), scale(ctx.input(1)), bias(ctx.input(2));
    AccOut<A> ya(y);
    group_normalize<A>(xa.data(), ya.data(), x.shape()[0], c, 1, product(x.shape(), 2), scale.data(), bias.data(),
                       false, eps);
    ya.commit();
  });
}

void run_group_norm(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const params::GroupNormParams gp = params::group_norm_params(ctx);
  const int64_t c = x.shape()[1], groups = gp.groups;
  const bool per_group = gp.per_group;
  Tensor& y = ctx.output(0, x.dtype(), x.shape());
  const double eps = ctx.node().attr_f("epsilon", 1e-5f);
  nn::dispatch_acc(ctx, x.dtype(), [&](auto tag) {
    using A = decltype(tag);
    const AccIn<A> xa(x), scale(ctx.input(1)), bias(ctx.input(2));
    AccOut<A> ya(y);
    group_normalize<A>(xa.data(), ya.data(), x.shape()[0], groups, c / groups, product(x.shape(), 2), scale.data(),
                       bias.data(), per_group, eps);
    ya.commit();
  });
}

}  // namespace

void register_cpu_norm(KernelRegistry& r) {
  r.add_fn("BatchNormalization", run_batch_norm);
  r.add_fn("InstanceNormalization", run_instance_norm);
  r.add_fn("GroupNormalization", run_group_norm);
}

}  // namespace kiln::backend
