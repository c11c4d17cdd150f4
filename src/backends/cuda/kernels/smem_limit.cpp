#include "backends/cuda/kernels/smem_limit.h"

#include <cuda_runtime_api.h>

#include <map>
#include <mutex>
#include <utility>

#include "backends/cuda/cuda_check.h"

namespace kiln::backend::cuda {

void allow_smem(const void* kernel, size_t bytes) {
  static std::mutex mu;
  static std::map<std::pair<const void*, int>, size_t> set;
  int device = 0;
  KILN_CUDA(cudaGetDevice(&device));
  const std::lock_guard<std::mutex> lock(mu);
  size_t& have = set[{kernel, device}];
  if (bytes <= have) return;
  KILN_CUDA(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)));
  have = bytes;
}

}  // namespace kiln::backend::cuda
