// register_cpu_dnnl: the reference kernels of the fused ops first (so the
// oneDNN kernels of those ops have a fallback too), then every oneDNN kernel.
#include "backends/cpu/dnnl/kernels.h"
#include "backends/cpu/kernels/fused_kernels.h"

namespace kiln::backend {

void register_cpu_dnnl(KernelRegistry& r) {
  register_cpu_fused(r);
  onednn::register_dnnl_conv(r);
  onednn::register_dnnl_conv_dw(r);
  onednn::register_dnnl_conv_transpose(r);
  onednn::register_dnnl_matmul(r);
  onednn::register_dnnl_pool(r);
  onednn::register_dnnl_batch_norm(r);
  onednn::register_dnnl_softmax(r);
  onednn::register_dnnl_binary(r);
}

}  // namespace kiln::backend
