#include "backends/cuda/kernels/cublaslt_epilogue.h"

#include "backends/cuda/kernels/common.cuh"

namespace kiln::backend::cuda {

namespace {

struct ActParams {
  ir::Activation kind = ir::Activation::None;
  float alpha = 0.f, beta = 0.f;
};

// ir::apply_activation on the device, same comparisons (NaN passes through
// the way it does on the CPU).
template <typename C>
__device__ inline C activate(const ActParams& a, C x) {
  switch (a.kind) {
    case ir::Activation::None: return x;
    case ir::Activation::Relu: return x < C(0) ? C(0) : x;
    case ir::Activation::LeakyRelu: return x < C(0) ? C(a.alpha) * x : x;
    case ir::Activation::Clip: {
      const C y = x < C(a.alpha) ? C(a.alpha) : x;
      return C(a.beta) < y ? C(a.beta) : y;
    }
    case ir::Activation::HardSwish: {
      const C t = x / C(6) + C(0.5);
      return x * (t < C(0) ? C(0) : (t > C(1) ? C(1) : t));
    }
    case ir::Activation::HardSigmoid: {
      const C t = C(a.alpha) * x + C(a.beta);
      return t < C(0) ? C(0) : (t > C(1) ? C(1) : t);
    }
    case ir::Activation::Sigmoid: {
      if (x >= C(0)) return C(1) / (C(1) + exp(-x));
      const C e = exp(x);
      return e / (C(1) + e);
    }
    case ir::Activation::Tanh: return tanh(x);
    case ir::Activation::Elu: return x < C(0) ? C(a.alpha) * expm1(x) : x;
    case ir::Activation::Gelu:
      if (a.alpha != 0.f) return C(0.5) * x * (C(1) + tanh(C(0.7978845608028654) * (x + C(0.044715) * x * x * x)));
      return C(0.5) * x * (C(1) + erf(x * C(0.7071067811865476)));
  }
  return x;
}

template <typename T>
__global__ void bias_act_kernel(T* y, const T* bias, int64_t n, int64_t inner, int64_t channels, ActParams act) {
  KILN_GRID_STRIDE(i, n) {
    Acc<T> v = load(y[i]);
    if (bias) v += load(bias[(i / inner) % channels]);
    y[i] = store<T>(activate(act, v));
  }
}

}  // namespace

void bias_activation(const KernelContext& ctx, DataType dt, void* y, const void* bias, int64_t n, int64_t inner,
                     int64_t channels, const ir::FusedActivation& act) {
  if (n <= 0 || (!bias && act.kind == ir::Activation::None)) return;
  const ActParams p{act.kind, act.alpha, act.beta};
  cudaStream_t s = cuda_stream(ctx).get();
  dispatch_float(dt, ctx, [&](auto tag) {
    using T = decltype(tag);
    bias_act_kernel<T><<<grid_for(n), k_threads, 0, s>>>(static_cast<T*>(y), static_cast<const T*>(bias), n,
                                                         std::max<int64_t>(inner, 1), std::max<int64_t>(channels, 1), p);
    KILN_CUDA_LAUNCH("bias_act_kernel");
  });
}

}  // namespace kiln::backend::cuda
