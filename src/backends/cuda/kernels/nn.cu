// Placeholder until the family's kernels land.
#include "backends/cuda/kernels/families.h"
#include "backends/kernel.h"

namespace kiln::backend::cuda {
void register_cuda_nn(KernelRegistry&) {}
}  // namespace kiln::backend::cuda
