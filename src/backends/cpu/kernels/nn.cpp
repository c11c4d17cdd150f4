// The CPU nn op family: registers the sub-family kernels (see nn_kernels.h).
#include "backends/cpu/kernels/families.h"
#include "backends/cpu/kernels/nn_kernels.h"

namespace kiln::backend {

namespace nn {

int64_t kernel_axis(const KernelContext& ctx, int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= rank)
    ctx.fail("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  return axis < 0 ? axis + rank : axis;
}

}  // namespace nn

void register_cpu_nn(KernelRegistry& r) {
  register_cpu_conv(r);
  register_cpu_pool(r);
  register_cpu_matmul(r);
  register_cpu_einsum(r);
  register_cpu_norm(r);
  register_cpu_layer_norm(r);
  register_cpu_softmax(r);
  register_cpu_attention(r);
}

}  // namespace kiln::backend
