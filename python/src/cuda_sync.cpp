// The CUDA side of the producer hand-off. A DLPack producer is given a stream
// of ours to order its pending writes before (the protocol's `stream`
// argument); kiln's own streams are non-blocking, so the call then waits for
// that stream on the host before kiln reads the memory. Built without CUDA,
// there are no device inputs and these are no-ops.
#include <mutex>
#include <string>
#include <vector>

#include "common.h"
#include "kiln/error.h"

#if defined(KILN_WITH_CUDA)
#include <cuda_runtime_api.h>
#endif

namespace kiln::python {

#if defined(KILN_WITH_CUDA)

namespace {
void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw Error(ErrorCode::Cuda, std::string(what) + ": " + cudaGetErrorString(e));
}
}  // namespace

uintptr_t consumer_stream(int device) {
  static std::mutex mutex;
  static std::vector<cudaStream_t> streams;  // per device, made once, kept for the process
  std::lock_guard<std::mutex> lock(mutex);
  if (device < 0) return 0;
  if (static_cast<size_t>(device) >= streams.size()) streams.resize(device + 1, nullptr);
  if (!streams[device]) {
    int previous = 0;
    check(cudaGetDevice(&previous), "cudaGetDevice");
    check(cudaSetDevice(device), "cudaSetDevice");
    cudaStream_t s = nullptr;
    const cudaError_t e = cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);
    cudaSetDevice(previous);
    check(e, "cudaStreamCreateWithFlags");
    streams[device] = s;
  }
  return reinterpret_cast<uintptr_t>(streams[device]);
}

// 1 and 2 are the legacy and per-thread default streams' handles, as CUDA
// defines them, so any value a producer names is a handle here.
void synchronize_stream(uintptr_t stream) {
  check(cudaStreamSynchronize(reinterpret_cast<cudaStream_t>(stream)), "cudaStreamSynchronize");
}

#else

uintptr_t consumer_stream(int) { return 0; }
void synchronize_stream(uintptr_t) {}

#endif

}  // namespace kiln::python
