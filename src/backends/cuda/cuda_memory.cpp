#include "backends/cuda/cuda_memory.h"

#include "backends/cuda/capture_gate.h"

#include <cstdint>
#include <string>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/cuda_stream.h"
#include "backends/cuda/device_guard.h"
#include "core/log.h"
#include "kiln/error.h"

namespace kiln::backend::cuda {

namespace {
std::string size_str(size_t bytes) { return std::to_string((bytes + (1 << 20) - 1) >> 20) + " MiB"; }

[[noreturn]] void out_of_memory(int device, size_t bytes) {
  cudaGetLastError();
  size_t free_b = 0, total_b = 0;
  cudaMemGetInfo(&free_b, &total_b);
  throw Error(ErrorCode::OutOfMemory, "cuda:" + std::to_string(device) + ": out of device memory allocating " +
                                          size_str(bytes) + " (" + size_str(free_b) + " free of " + size_str(total_b) + ")");
}
}  // namespace

PoolAllocator::PoolAllocator(int device) : m_device(device) {
  DeviceGuard guard(device);
  cudaMemPoolProps props = {};
  props.allocType = cudaMemAllocationTypePinned;
  props.handleTypes = cudaMemHandleTypeNone;
  props.location.type = cudaMemLocationTypeDevice;
  props.location.id = device;
  KILN_CUDA(cudaMemPoolCreate(&m_pool, &props));
  uint64_t keep_all = UINT64_MAX;
  KILN_CUDA(cudaMemPoolSetAttribute(m_pool, cudaMemPoolAttrReleaseThreshold, &keep_all));
  KILN_CUDA(cudaStreamCreateWithFlags(&m_stream, cudaStreamNonBlocking));
}

PoolAllocator::~PoolAllocator() {
  // Review fix: restore the thread's device afterwards.
  DeviceGuard guard(m_device, std::nothrow);
  if (m_stream) cudaStreamDestroy(m_stream);
  if (m_pool) cudaMemPoolDestroy(m_pool);
}

void* PoolAllocator::allocate(size_t bytes) {
  DeviceGuard guard(m_device);
  void* p = nullptr;
  const cudaError_t e = cudaMallocFromPoolAsync(&p, bytes ? bytes : 1, m_pool, m_stream);
  if (e == cudaErrorMemoryAllocation) out_of_memory(m_device, bytes);
  KILN_CUDA(e);
  KILN_CUDA(cudaStreamSynchronize(m_stream));
  return p;
}

void PoolAllocator::deallocate(void* p) {
  if (!p) return;
  try {
    DeviceGuard guard(m_device);
    KILN_CUDA(cudaFreeAsync(p, m_stream));
  } catch (const std::exception& e) {
    log_warning(std::string("freeing device memory: ") + e.what());
  }
}

void* PoolAllocator::allocate_async(size_t bytes, Stream& stream) {
  auto* s = dynamic_cast<CudaStream*>(&stream);
  if (!s) return allocate(bytes);
  DeviceGuard guard(m_device);
  void* p = nullptr;
  const cudaError_t e = cudaMallocFromPoolAsync(&p, bytes ? bytes : 1, m_pool, s->get());
  if (e == cudaErrorMemoryAllocation) out_of_memory(m_device, bytes);
  KILN_CUDA(e);
  return p;
}

void PoolAllocator::deallocate_async(void* p, Stream& stream) {
  auto* s = dynamic_cast<CudaStream*>(&stream);
  if (!s) return deallocate(p);
  if (!p) return;
  try {
    DeviceGuard guard(m_device);
    KILN_CUDA(cudaFreeAsync(p, s->get()));
  } catch (const std::exception& e) {
    log_warning(std::string("freeing device memory: ") + e.what());
  }
}

void PoolAllocator::trim() {
  DeviceGuard guard(m_device);
  KILN_CUDA(cudaStreamSynchronize(m_stream));
  CaptureGate::Exclusive gate;  // releasing memory may synchronize the device (capture_gate.h)
  KILN_CUDA(cudaMemPoolTrimTo(m_pool, 0));
}

size_t PoolAllocator::reserved_bytes() const {
  uint64_t v = 0;
  KILN_CUDA(cudaMemPoolGetAttribute(m_pool, cudaMemPoolAttrReservedMemCurrent, &v));
  return static_cast<size_t>(v);
}

size_t PoolAllocator::used_bytes() const {
  uint64_t v = 0;
  KILN_CUDA(cudaMemPoolGetAttribute(m_pool, cudaMemPoolAttrUsedMemCurrent, &v));
  return static_cast<size_t>(v);
}

}  // namespace kiln::backend::cuda
