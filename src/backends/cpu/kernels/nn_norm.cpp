// Channel-statistics normalizations: BatchNormalization (inference form),
// InstanceNormalization and GroupNormalization. X is [N, C, spatial...].
#include <cmath>

#include "backends/cpu/kernels/nn_kernels.h"
#include "ir/ops/nn_attrs.h"
#include "kiln/error.h"

namespace kiln::backend {

namespace {

using nn::AccIn;
using nn::AccOut;
using nn::product;

void require_vector(KernelContext& ctx, size_t i, int64_t len, const char* what) {
  const Tensor& t = ctx.input(i);
  if (t.rank() != 1 || t.shape()[0] != len)
    ctx.fail(std::string(what) + " " + shape_str(t.shape()) + " must have shape [" + std::to_string(len) + "]");
}

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
  const ir::Node& node = ctx.node();
  if (node.attr_i("training_mode", 0) != 0)
    throw Error(ErrorCode::Unsupported, node.label() + ": training_mode=1 is not supported");
  const Tensor& x = ctx.input(0);
  if (x.rank() < 2) ctx.fail("X must have rank >= 2 (N, C, ...), got " + shape_str(x.shape()));
  const int64_t c = x.shape()[1];
  const char* names[] = {"", "scale", "B", "input_mean", "input_var"};
  for (size_t i = 1; i < 5; ++i) require_vector(ctx, i, c, names[i]);
  const double eps = node.attr_f("epsilon", 1e-5f);
  Tensor& y = ctx.output(0, x.dtype(), x.shape());
  const int64_t n = x.shape()[0], plane = product(x.shape(), 2);
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
  if (x.rank() < 3) ctx.fail("X must have rank >= 3 (N, C, spatial...), got " + shape_str(x.shape()));
  const int64_t c = x.shape()[1];
  require_vector(ctx, 1, c, "scale");
  require_vector(ctx, 2, c, "B");
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
  if (x.rank() < 3) ctx.fail("X must have rank >= 3 (N, C, spatial...), got " + shape_str(x.shape()));
  const int64_t c = x.shape()[1], groups = ctx.node().attr_i("num_groups", 0);
  if (groups < 1 || c % groups != 0)
    ctx.fail("channels " + std::to_string(c) + " are not divisible by num_groups " + std::to_string(groups));
  // Opset 18 had one scale/bias per group; opset 21 made them per channel.
  const bool per_group = ir::opset_before(ctx.opset(), 21);
  require_vector(ctx, 1, per_group ? groups : c, "scale");
  require_vector(ctx, 2, per_group ? groups : c, "bias");
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
