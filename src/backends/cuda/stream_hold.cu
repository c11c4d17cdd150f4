#include "backends/cuda/stream_hold.h"

#include "backends/cuda/cuda_check.h"

namespace kiln::backend::cuda {

namespace {

__device__ uint64_t global_ns() {
  uint64_t t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

__global__ void stream_hold_kernel(const volatile uint32_t* flag, uint32_t ticket, uint64_t timeout_ns) {
  const uint64_t start = global_ns();
  // Signed difference: tickets wrap around after 2^32 holds.
  while (static_cast<int32_t>(*flag - ticket) < 0 && global_ns() - start < timeout_ns) __nanosleep(256);
}

}  // namespace

void launch_stream_hold(cudaStream_t stream, const volatile uint32_t* flag, uint32_t ticket, uint64_t timeout_ns) {
  stream_hold_kernel<<<1, 1, 0, stream>>>(flag, ticket, timeout_ns);
  KILN_CUDA_LAUNCH("stream_hold_kernel");
}

}  // namespace kiln::backend::cuda
