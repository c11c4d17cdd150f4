// Softmax, LogSoftmax and Hardmax. Opset < 13 coerces the input to 2-D at
// `axis` (default 1) and works on each flattened row; opset >= 13 works along
// `axis` alone (default -1).
#include <cmath>

#include "backends/cpu/kernels/nn_kernels.h"
#include "backends/nn_params.h"

namespace kiln::backend {

namespace {

using nn::AccIn;
using nn::AccOut;
using nn::product;

enum class Kind { Softmax, LogSoftmax, Hardmax };

// Applies the op to `n` values spaced `stride` apart.
template <typename A>
void apply(Kind kind, const A* x, A* y, int64_t n, int64_t stride) {
  A mx = x[0];
  int64_t arg = 0;
  for (int64_t i = 1; i < n; ++i)
    if (x[i * stride] > mx) { mx = x[i * stride]; arg = i; }
  if (kind == Kind::Hardmax) {
    for (int64_t i = 0; i < n; ++i) y[i * stride] = i == arg ? A(1) : A(0);
    return;
  }
  A sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(x[i * stride] - mx);
  if (kind == Kind::LogSoftmax) {
    const A log_sum = std::log(sum);
    for (int64_t i = 0; i < n; ++i) y[i * stride] = x[i * stride] - mx - log_sum;
  } else {
    for (int64_t i = 0; i < n; ++i) y[i * stride] = std::exp(x[i * stride] - mx) / sum;
  }
}

template <Kind K>
void run_softmax(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const params::SoftmaxPlan p = params::softmax_plan(ctx);
  const int64_t outer = p.outer, n = p.n, inner = p.inner;
  Tensor& y = ctx.output(0, x.dtype(), x.shape());
  if (x.numel() == 0) return;
  nn::dispatch_acc(ctx, x.dtype(), [&](auto tag) {
    using A = decltype(tag);
    const AccIn<A> xa(x);
    AccOut<A> ya(y);
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i)
        apply<A>(K, xa.data() + o * n * inner + i, ya.data() + o * n * inner + i, n, inner);
    ya.commit();
  });
}

}  // namespace

void register_cpu_softmax(KernelRegistry& r) {
  r.add_fn("Softmax", run_softmax<Kind::Softmax>);
  r.add_fn("LogSoftmax", run_softmax<Kind::LogSoftmax>);
  r.add_fn("Hardmax", run_softmax<Kind::Hardmax>);
}

}  // namespace kiln::backend
