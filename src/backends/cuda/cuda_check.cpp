#include "backends/cuda/cuda_check.h"

#include <string>

#include <cublasLt.h>
#include <cudnn.h>

#include "kiln/error.h"

namespace kiln::backend::cuda {

const char* current_device_name() {
  static thread_local char buf[24];
  int d = -1;
  if (cudaGetDevice(&d) != cudaSuccess) return "cuda:?";
  std::snprintf(buf, sizeof buf, "cuda:%d", d);
  return buf;
}

void throw_cuda(cudaError_t e, const char* call) {
  cudaGetLastError();  // clear a non-sticky error so the next call starts clean
  const ErrorCode code = e == cudaErrorMemoryAllocation ? ErrorCode::OutOfMemory : ErrorCode::Cuda;
  throw Error(code, std::string(current_device_name()) + ": " + call + " failed: " + cudaGetErrorName(e) + " (" +
                        cudaGetErrorString(e) + ")");
}

void throw_cudnn(int status, const char* call) {
  const auto s = static_cast<cudnnStatus_t>(status);
  char detail[512] = {};
  cudnnGetLastErrorString(detail, sizeof detail);
  // Review fix: cuDNN 9 reports sub-codes (3001.. NOT_SUPPORTED_SHAPE etc.,
  // 4004 INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED); classify by category, and
  // device allocation failures as out of memory too.
  const ErrorCode code = s == CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED ||
                                 s == CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED
                             ? ErrorCode::OutOfMemory
                         : CUDNN_STATUS_CATEGORY(status) == CUDNN_STATUS_NOT_SUPPORTED ? ErrorCode::Unsupported
                                                                                        : ErrorCode::Cuda;
  throw Error(code, std::string(current_device_name()) + ": " + call + " failed: " + cudnnGetErrorString(s) +
                        (detail[0] ? std::string(" (") + detail + ")" : std::string()));
}

void throw_cublas(int status, const char* call) {
  const auto s = static_cast<cublasStatus_t>(status);
  const ErrorCode code = s == CUBLAS_STATUS_ALLOC_FAILED ? ErrorCode::OutOfMemory
                         : s == CUBLAS_STATUS_NOT_SUPPORTED ? ErrorCode::Unsupported
                                                            : ErrorCode::Cuda;
  const char* name = "unknown status";
  switch (s) {
    case CUBLAS_STATUS_NOT_INITIALIZED: name = "CUBLAS_STATUS_NOT_INITIALIZED"; break;
    case CUBLAS_STATUS_ALLOC_FAILED: name = "CUBLAS_STATUS_ALLOC_FAILED"; break;
    case CUBLAS_STATUS_INVALID_VALUE: name = "CUBLAS_STATUS_INVALID_VALUE"; break;
    case CUBLAS_STATUS_ARCH_MISMATCH: name = "CUBLAS_STATUS_ARCH_MISMATCH"; break;
    case CUBLAS_STATUS_MAPPING_ERROR: name = "CUBLAS_STATUS_MAPPING_ERROR"; break;
    case CUBLAS_STATUS_EXECUTION_FAILED: name = "CUBLAS_STATUS_EXECUTION_FAILED"; break;
    case CUBLAS_STATUS_INTERNAL_ERROR: name = "CUBLAS_STATUS_INTERNAL_ERROR"; break;
    case CUBLAS_STATUS_NOT_SUPPORTED: name = "CUBLAS_STATUS_NOT_SUPPORTED"; break;
    case CUBLAS_STATUS_LICENSE_ERROR: name = "CUBLAS_STATUS_LICENSE_ERROR"; break;
    default: break;
  }
  throw Error(code, std::string(current_device_name()) + ": " + call + " failed: " + name);
}

}  // namespace kiln::backend::cuda
