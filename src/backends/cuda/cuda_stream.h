// A CUDA stream of one device, with what kernels submitted to it need: the
// cuDNN and cuBLASLt handles bound to it (made on first use) and scratch
// memory in its order. A run uses one stream; kernels get it through
// cuda_stream(ctx).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include <cuda_runtime_api.h>

#include "backends/backend.h"

struct cudnnContext;
struct cublasLtContext;

namespace kiln::backend::cuda {

class PoolAllocator;

class CudaStream final : public Stream {
 public:
  CudaStream(int device, PoolAllocator& pool);
  ~CudaStream() override;
  CudaStream(const CudaStream&) = delete;
  CudaStream& operator=(const CudaStream&) = delete;

  cudaStream_t get() const { return m_stream; }
  int device() const { return m_device; }
  PoolAllocator& pool() const { return m_pool; }
  void synchronize() override;
  void begin_run(DeviceSwitch how) override;  // makes the stream's device current for the run
  void end_run() override;
  std::unique_ptr<Marker> mark() override;  // a CUDA event
  double elapsed_ms(const Marker& from, const Marker& to) override;
  void wait_for(const Marker& marker) override;

  cudnnContext* cudnn();        // cudnnHandle_t, bound to this stream
  cublasLtContext* cublaslt();  // cublasLtHandle_t
  // Device scratch of at least `bytes`, valid for work submitted to this
  // stream until the next workspace() call (growth frees the old block in
  // stream order, so earlier work still finishes with it).
  void* workspace(size_t bytes);
  // Pinned host memory of at least `bytes` for small reads back (counts,
  // sizes); valid until the next pinned() call.
  void* pinned(size_t bytes);
  // Holds the work submitted after it until release_hold() (or 2 ms), so
  // that events around that work time the device alone (stream_hold.h).
  void hold();
  void release_hold();

 private:
  int m_device;
  PoolAllocator& m_pool;
  cudaStream_t m_stream = nullptr;
  cudnnContext* m_cudnn = nullptr;
  cublasLtContext* m_cublaslt = nullptr;
  void* m_workspace = nullptr;
  size_t m_workspace_bytes = 0;
  // Review fix: a CUDA graph captured on this stream keeps the workspace
  // address it was handed, so a block handed out during a capture is never
  // freed by later growth (a non-captured node with a data-dependent shape
  // asking for more): it is retired here and freed with the stream.
  bool m_workspace_captured = false;
  std::vector<void*> m_retired_workspaces;
  void* m_pinned = nullptr;
  size_t m_pinned_bytes = 0;
  uint32_t* m_hold = nullptr;  // page-locked: the hold's flag, read by the device
  uint32_t m_hold_ticket = 0;
  int m_previous_device = -1;
  std::unique_lock<std::mutex> m_switch_lock;  // held through a serialized switch
};

// The CUDA stream of a kernel's context; kiln::Error(Internal) when the node
// is not run on a CUDA stream.
CudaStream& cuda_stream(const KernelContext& ctx);

}  // namespace kiln::backend::cuda
