#include "backends/cuda/cuda_stream.h"

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <cublasLt.h>
#include <cudnn.h>

#include "backends/cuda/capture_gate.h"
#include "backends/cuda/cuda_check.h"
#include "backends/cuda/cuda_memory.h"
#include "backends/cuda/device_guard.h"
#include "backends/cuda/stream_hold.h"
#include "kiln/error.h"

namespace kiln::backend::cuda {

namespace {

// cuDNN and cuBLASLt handles outlive the streams that use them. A stream
// takes one from its device's pool and gives it back, as PyTorch pools them:
// cudnnCreate costs milliseconds on every graph-cache miss (a new context, a
// new stream), and create/destroy cycles did not give all their device memory
// back (free memory fell ~5 KiB per capture/evict cycle on the H100 with a
// handle made and destroyed per context). Pooled handles live until the
// process ends (never destroyed: at exit the CUDA context may be gone first).
template <typename H>
class HandlePool {
 public:
  H take(int device) {
    std::lock_guard<std::mutex> lock(m_mutex);
    std::vector<H>& free = m_free[device];
    if (free.empty()) return nullptr;
    H h = free.back();
    free.pop_back();
    return h;
  }
  void give(int device, H h) {
    std::lock_guard<std::mutex> lock(m_mutex);
    m_free[device].push_back(h);
  }

 private:
  std::mutex m_mutex;
  std::map<int, std::vector<H>> m_free;
};

HandlePool<cudnnHandle_t>& cudnn_pool() {
  static auto* pool = new HandlePool<cudnnHandle_t>();  // never destroyed: see HandlePool
  return *pool;
}
HandlePool<cublasLtHandle_t>& cublaslt_pool() {
  static auto* pool = new HandlePool<cublasLtHandle_t>();
  return *pool;
}

struct EventMarker final : Marker {
  cudaEvent_t event = nullptr;
  ~EventMarker() override {
    if (event) cudaEventDestroy(event);
  }
};

}  // namespace

CudaStream::CudaStream(int device, PoolAllocator& pool) : m_device(device), m_pool(pool) {
  DeviceGuard guard(device);
  KILN_CUDA(cudaStreamCreateWithFlags(&m_stream, cudaStreamNonBlocking));
}

CudaStream::~CudaStream() {
  // Review fix: restore the thread's current device afterwards (a context
  // evicted on a thread bound to another GPU left that thread on this one,
  // and its next run with DeviceSwitch::Never failed).
  {  // the guard restores the device before the last error is cleared
    DeviceGuard guard(m_device, std::nothrow);
    if (m_stream) cudaStreamSynchronize(m_stream);
    if (m_workspace) cudaFreeAsync(m_workspace, m_stream);
    for (void* p : m_retired_workspaces) cudaFreeAsync(p, m_stream);
    if (m_stream) cudaStreamSynchronize(m_stream);
    {
      CaptureGate::Exclusive gate;  // freeing synchronizes the device (capture_gate.h)
      if (m_pinned) cudaFreeHost(m_pinned);
      if (m_hold) cudaFreeHost(m_hold);
      if (m_cudnn) {
        cudnnSetStream(m_cudnn, nullptr);  // not left pointing at a destroyed stream
        cudnn_pool().give(m_device, m_cudnn);
      }
      if (m_cublaslt) cublaslt_pool().give(m_device, m_cublaslt);
      if (m_stream) cudaStreamDestroy(m_stream);
    }
  }
  cudaGetLastError();  // leave no error of teardown behind for the thread's next call
}

void CudaStream::synchronize() {
  DeviceGuard guard(m_device);
  KILN_CUDA(cudaStreamSynchronize(m_stream));
}

void CudaStream::begin_run(DeviceSwitch how) {
  int current = 0;
  KILN_CUDA(cudaGetDevice(&current));
  m_previous_device = current;
  if (current == m_device) return;
  if (how == DeviceSwitch::Never)
    throw Error(ErrorCode::InvalidArgument,
                "this thread's current CUDA device is cuda:" + std::to_string(current) + " and the session runs on cuda:" +
                    std::to_string(m_device) + ": make cuda:" + std::to_string(m_device) +
                    " current on this thread (cudaSetDevice) or turn on multi-device safe mode "
                    "(kiln::set_multi_device_safe_mode)");
  if (how == DeviceSwitch::Serialized) {
    static std::mutex switches;  // one switched run at a time, process-wide
    m_switch_lock = std::unique_lock<std::mutex>(switches);
  }
  // Review fix: a failed switch throws out of RunScope's constructor, so
  // end_run() never runs: release the process-wide switch lock here, or
  // every later switched run (this thread's next one included) deadlocks.
  const cudaError_t e = cudaSetDevice(m_device);
  if (e != cudaSuccess) {
    m_previous_device = -1;
    if (m_switch_lock.owns_lock()) m_switch_lock.unlock();
    throw_cuda(e, "cudaSetDevice(m_device)");
  }
}

void CudaStream::end_run() {
  if (m_previous_device >= 0 && m_previous_device != m_device) cudaSetDevice(m_previous_device);
  m_previous_device = -1;
  if (m_switch_lock.owns_lock()) m_switch_lock.unlock();
}

std::unique_ptr<Marker> CudaStream::mark() {
  DeviceGuard guard(m_device);
  auto m = std::make_unique<EventMarker>();
  KILN_CUDA(cudaEventCreate(&m->event));
  KILN_CUDA(cudaEventRecord(m->event, m_stream));
  return m;
}

double CudaStream::elapsed_ms(const Marker& from, const Marker& to) {
  const auto* a = dynamic_cast<const EventMarker*>(&from);
  const auto* b = dynamic_cast<const EventMarker*>(&to);
  if (!a || !b) throw Error(ErrorCode::Internal, "markers of another stream");
  float ms = 0;
  KILN_CUDA(cudaEventElapsedTime(&ms, a->event, b->event));
  return ms;
}

void CudaStream::wait_for(const Marker& marker) {
  const auto* m = dynamic_cast<const EventMarker*>(&marker);
  if (!m) throw Error(ErrorCode::Internal, "waiting for a marker of another kind of stream");
  DeviceGuard guard(m_device);
  KILN_CUDA(cudaStreamWaitEvent(m_stream, m->event, 0));
}

cudnnContext* CudaStream::cudnn() {
  if (!m_cudnn) {
    DeviceGuard guard(m_device);
    cudnnHandle_t h = cudnn_pool().take(m_device);
    if (!h) {
      CaptureGate::Exclusive gate;
      KILN_CUDNN(cudnnCreate(&h));
    }
    m_cudnn = h;  // owned (given back) from here, also if the next call throws
    KILN_CUDNN(cudnnSetStream(m_cudnn, m_stream));
  }
  return m_cudnn;
}

cublasLtContext* CudaStream::cublaslt() {
  if (!m_cublaslt) {
    cublasLtHandle_t h = cublaslt_pool().take(m_device);
    if (!h) {
      DeviceGuard guard(m_device);
      CaptureGate::Exclusive gate;
      KILN_CUBLAS(cublasLtCreate(&h));
    }
    m_cublaslt = h;
  }
  return m_cublaslt;
}

void* CudaStream::workspace(size_t bytes) {
  // Review fix: graphs captured on this stream bake the workspace address in
  // (see m_workspace_captured). Growth while capturing would record a free
  // of memory the graph did not allocate and an allocation it never frees:
  // refuse it, so the capture fails cleanly and the context runs uncaptured.
  bool capturing = false;
  if (CaptureGate::this_thread_captures()) {  // only a thread inside begin/end_capture can be capturing
    cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
    KILN_CUDA(cudaStreamIsCapturing(m_stream, &capture));
    capturing = capture != cudaStreamCaptureStatusNone;
  }
  if (bytes <= m_workspace_bytes && m_workspace) {
    if (capturing) m_workspace_captured = true;
    return m_workspace;
  }
  if (capturing)
    throw Error(ErrorCode::Cuda, "cuda:" + std::to_string(m_device) + ": the stream's workspace would grow to " +
                                     std::to_string(bytes) + " bytes during a CUDA graph capture");
  DeviceGuard guard(m_device);
  // Grow geometrically so a run of growing requests reallocates rarely.
  const size_t want = std::max(bytes, m_workspace_bytes * 2);
  if (m_workspace && m_workspace_captured) m_retired_workspaces.push_back(m_workspace);  // a graph still reads it
  else if (m_workspace) m_pool.deallocate_async(m_workspace, *this);
  m_workspace_captured = false;
  m_workspace = nullptr;
  m_workspace_bytes = 0;
  m_workspace = m_pool.allocate_async(want, *this);
  m_workspace_bytes = want;
  return m_workspace;
}

void* CudaStream::pinned(size_t bytes) {
  if (bytes <= m_pinned_bytes && m_pinned) return m_pinned;
  DeviceGuard guard(m_device);
  // Earlier reads into the old buffer have completed: callers synchronize
  // before reading pinned memory.
  CaptureGate::Exclusive gate;
  if (m_pinned) KILN_CUDA(cudaFreeHost(m_pinned));
  m_pinned = nullptr;
  m_pinned_bytes = 0;
  const size_t want = std::max<size_t>(bytes, 4096);
  KILN_CUDA(cudaMallocHost(&m_pinned, want));
  m_pinned_bytes = want;
  return m_pinned;
}

void CudaStream::hold() {
  DeviceGuard guard(m_device);
  if (!m_hold) {
    CaptureGate::Exclusive gate;
    void* p = nullptr;
    KILN_CUDA(cudaHostAlloc(&p, sizeof(uint32_t), cudaHostAllocPortable));
    m_hold = static_cast<uint32_t*>(p);
    __atomic_store_n(m_hold, m_hold_ticket, __ATOMIC_RELEASE);
  }
  // Page-locked memory is mapped on every device, at the host's address
  // (unified addressing, always on in 64-bit processes): no
  // cudaHostGetDevicePointer, which fails where cudaDeviceMapHost was not set.
  launch_stream_hold(m_stream, m_hold, ++m_hold_ticket, 2'000'000);
}

void CudaStream::release_hold() {
  if (m_hold) __atomic_store_n(m_hold, m_hold_ticket, __ATOMIC_RELEASE);
}

CudaStream& cuda_stream(const KernelContext& ctx) {
  auto* s = dynamic_cast<CudaStream*>(ctx.stream());
  if (!s) throw Error(ErrorCode::Internal, ctx.node().label() + ": not running on a CUDA stream");
  return *s;
}

}  // namespace kiln::backend::cuda
