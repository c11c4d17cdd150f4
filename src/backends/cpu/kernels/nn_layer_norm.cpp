// Normalizations over trailing axes or one axis: LayerNormalization (with
// optional Mean/InvStdDev), RMSNormalization, LpNormalization, and LRN
// (across channels).
#include <cmath>

#include "backends/cpu/kernels/nn_kernels.h"
#include "backends/nn_params.h"

namespace kiln::backend {

namespace {

using nn::AccIn;
using nn::AccOut;
using nn::product;

// Input i (scale or bias) broadcast one way to `tail` (the normalized shape),
// as a dense array of product(tail) values.
template <typename A>
std::vector<A> expand_to_tail(KernelContext& ctx, size_t i, const Shape& tail) {
  const Tensor& t = ctx.input(i);
  const Shape& s = t.shape();
  params::require_broadcast_to(ctx, i, tail);
  const AccIn<A> src(t);
  std::vector<A> out(static_cast<size_t>(product(tail)));
  const size_t lead = tail.size() - s.size();
  for (int64_t flat = 0; flat < static_cast<int64_t>(out.size()); ++flat) {
    int64_t rem = flat, off = 0, stride = 1;
    for (size_t d = tail.size(); d-- > lead;) {
      const int64_t idx = rem % tail[d];
      rem /= tail[d];
      const int64_t dim = s[d - lead];
      off += (dim == 1 ? 0 : idx) * stride;
      stride *= dim;
    }
    out[static_cast<size_t>(flat)] = src[off];
  }
  return out;
}

// LayerNormalization (rms = false) and RMSNormalization (rms = true).
template <bool Rms>
void run_layer_norm(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const params::LayerNormPlan plan = params::layer_norm_plan(ctx);
  const double eps = plan.eps;
  const Shape& tail = plan.tail;
  const Shape& stat_shape = plan.stat_shape;
  const int64_t outer = plan.outer, inner = plan.inner;
  const DataType stash = plan.stash;
  Tensor& y = ctx.output(0, x.dtype(), x.shape());
  Tensor* mean_t = !Rms && ctx.has_output(1) ? &ctx.output(1, stash, stat_shape) : nullptr;
  Tensor* inv_t = !Rms && ctx.has_output(2) ? &ctx.output(2, stash, stat_shape) : nullptr;
  nn::dispatch_acc(ctx, x.dtype(), [&](auto tag) {
    using A = decltype(tag);
    const AccIn<A> xa(x);
    const std::vector<A> scale = expand_to_tail<A>(ctx, 1, tail);
    const std::vector<A> bias = ctx.has_input(2) ? expand_to_tail<A>(ctx, 2, tail) : std::vector<A>(scale.size(), A(0));
    AccOut<A> ya(y);
    std::vector<A> means(static_cast<size_t>(outer)), invs(static_cast<size_t>(outer));
    for (int64_t o = 0; o < outer; ++o) {
      const A* src = xa.data() + o * inner;
      A* dst = ya.data() + o * inner;
      double mean = 0, sq = 0;
      if constexpr (!Rms) {
        for (int64_t i = 0; i < inner; ++i) mean += static_cast<double>(src[i]);
        mean /= static_cast<double>(inner);
      }
      for (int64_t i = 0; i < inner; ++i) {
        const double d = static_cast<double>(src[i]) - mean;
        sq += d * d;
      }
      const double inv = 1.0 / std::sqrt(sq / static_cast<double>(inner) + eps);
      for (int64_t i = 0; i < inner; ++i) {
        const auto k = static_cast<size_t>(i);
        dst[i] = static_cast<A>((static_cast<double>(src[i]) - mean) * inv) * scale[k] + bias[k];
      }
      means[static_cast<size_t>(o)] = static_cast<A>(mean);
      invs[static_cast<size_t>(o)] = static_cast<A>(inv);
    }
    ya.commit();
    // Statistics go out in stash_type (float32 unless the model says otherwise).
    for (auto [t, v] : {std::pair{mean_t, &means}, std::pair{inv_t, &invs}}) {
      if (!t) continue;
      AccOut<A> out(*t);
      std::copy(v->begin(), v->end(), out.data());
      out.commit();
    }
  });
}

void run_lp_norm(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const params::LpNormPlan plan = params::lp_norm_plan(ctx);
  const int64_t p = plan.p, outer = plan.outer, n = plan.n, inner = plan.inner;
  Tensor& y = ctx.output(0, x.dtype(), x.shape());
  nn::dispatch_acc(ctx, x.dtype(), [&](auto tag) {
    using A = decltype(tag);
    const AccIn<A> xa(x);
    AccOut<A> ya(y);
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        const A* src = xa.data() + o * n * inner + i;
        A* dst = ya.data() + o * n * inner + i;
        double norm = 0;
        for (int64_t j = 0; j < n; ++j) {
          const double v = static_cast<double>(src[j * inner]);
          norm += p == 1 ? std::fabs(v) : v * v;
        }
        if (p == 2) norm = std::sqrt(norm);
        // A zero vector stays zero (as the ONNX reference), not 0/0.
        for (int64_t j = 0; j < n; ++j)
          dst[j * inner] = norm == 0 ? A(0) : static_cast<A>(static_cast<double>(src[j * inner]) / norm);
      }
    ya.commit();
  });
}

// y = x / (bias + alpha/size * sum of squares over nearby channels)^beta.
void run_lrn(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const params::LrnPlan plan = params::lrn_plan(ctx);
  const double alpha = plan.alpha, beta = plan.beta, bias = plan.bias;
  const int64_t size = plan.size, n = x.shape()[0], c = plan.c, plane = plan.plane;
  const int64_t before = plan.before, after = plan.after;
  Tensor& y = ctx.output(0, x.dtype(), x.shape());
  nn::dispatch_acc(ctx, x.dtype(), [&](auto tag) {
    using A = decltype(tag);
    const AccIn<A> xa(x);
    AccOut<A> ya(y);
    for (int64_t b = 0; b < n; ++b)
      for (int64_t ch = 0; ch < c; ++ch)
        for (int64_t j = 0; j < plane; ++j) {
          double sq = 0;
          for (int64_t k = std::max<int64_t>(0, ch - before); k <= std::min(c - 1, ch + after); ++k) {
            const double v = static_cast<double>(xa[(b * c + k) * plane + j]);
            sq += v * v;
          }
          const int64_t at = (b * c + ch) * plane + j;
          ya.data()[at] = static_cast<A>(static_cast<double>(xa[at]) / std::pow(bias + alpha / size * sq, beta));
        }
    ya.commit();
  });
}

}  // namespace

void register_cpu_layer_norm(KernelRegistry& r) {
  r.add_fn("LayerNormalization", run_layer_norm<false>);
  r.add_fn("RMSNormalization", run_layer_norm<true>);
  r.add_fn("LpNormalization", run_lp_norm);
  r.add_fn("LRN", run_lrn);
}

}  // namespace kiln::backend
