// Device memory of one GPU from a CUDA memory pool (cudaMemPool_t), which
// serves the execution contexts' arenas and the run-time allocations alike.
// Freed blocks stay in the pool for reuse (release threshold: unlimited)
// until trim() hands them back to the driver, so steady serving allocates
// nothing from the driver and a purge really frees device memory.
#pragma once

#include <cuda_runtime_api.h>

#include "backends/backend.h"

namespace kiln::backend::cuda {

class PoolAllocator final : public Allocator {
 public:
  explicit PoolAllocator(int device);
  ~PoolAllocator() override;
  void* allocate(size_t bytes) override;
  void deallocate(void* p) override;
  void* allocate_async(size_t bytes, Stream& stream) override;
  void deallocate_async(void* p, Stream& stream) override;
  void trim() override;
  size_t reserved_bytes() const;  // held by the pool, in use or cached
  size_t used_bytes() const;      // in use

 private:
  int m_device;
  cudaMemPool_t m_pool = nullptr;
  cudaStream_t m_stream = nullptr;  // orders allocate()/deallocate(), synchronized after each
};

}  // namespace kiln::backend::cuda
