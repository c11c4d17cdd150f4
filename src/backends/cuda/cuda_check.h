// Every CUDA, cuDNN and cuBLASLt call is checked; a failure becomes a
// kiln::Error naming the call and the device (the executor adds the node):
// ErrorCode::OutOfMemory for allocation failures, ErrorCode::Cuda otherwise.
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

namespace kiln::backend::cuda {

[[noreturn]] void throw_cuda(cudaError_t e, const char* call);
[[noreturn]] void throw_cudnn(int status, const char* call);
[[noreturn]] void throw_cublas(int status, const char* call);

// The current device as "cuda:N", for messages.
const char* current_device_name();

}  // namespace kiln::backend::cuda

#define KILN_CUDA(call)                                                      \
  do {                                                                       \
    const cudaError_t kiln_e_ = (call);                                      \
    if (kiln_e_ != cudaSuccess) ::kiln::backend::cuda::throw_cuda(kiln_e_, #call); \
  } while (0)

// After a kernel launch: launch-configuration errors surface here.
#define KILN_CUDA_LAUNCH(name) KILN_CUDA(cudaGetLastError())

#define KILN_CUDNN(call)                                                              \
  do {                                                                                \
    const int kiln_s_ = static_cast<int>(call);                                       \
    if (kiln_s_ != 0) ::kiln::backend::cuda::throw_cudnn(kiln_s_, #call);             \
  } while (0)

#define KILN_CUBLAS(call)                                                             \
  do {                                                                                \
    const int kiln_s_ = static_cast<int>(call);                                       \
    if (kiln_s_ != 0) ::kiln::backend::cuda::throw_cublas(kiln_s_, #call);            \
  } while (0)
