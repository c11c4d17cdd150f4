// The CPU nn op family: registers the sub-family kernels (see nn_kernels.h).
#include "backends/cpu/kernels/families.h"
#include "backends/cpu/kernels/nn_kernels.h"

namespace kiln::backend {

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
