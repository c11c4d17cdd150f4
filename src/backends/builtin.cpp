#include "backends/builtin.h"

#include "backends/cpu/cpu_backend.h"
#ifdef KILN_WITH_CUDA
#include "backends/cuda/cuda_backend.h"
#endif

namespace kiln::backend {

void register_builtin_backends(const AddBackendFn& add) {
  add("cpu", [](int index) { return make_cpu_backend(index); });
#ifdef KILN_WITH_CUDA
  add("cuda", [](int index) { return make_cuda_backend(index); });
#endif
}

}  // namespace kiln::backend
