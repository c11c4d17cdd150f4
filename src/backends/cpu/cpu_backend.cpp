#include "backends/cpu/cpu_backend.h"

#include <cstdlib>
#include <cstring>
#include <optional>

#include "backends/cpu/cpu_threads.h"
#include "backends/cpu/dnnl/context.h"
#include "backends/cpu/kernels/families.h"
#include "core/env.h"
#include "kiln/error.h"

namespace kiln::backend {

namespace {

class HostAllocator final : public Allocator {
 public:
  void* allocate(size_t bytes) override {
    void* p = std::aligned_alloc(256, ((bytes + 255) / 256) * 256 + 256);
    if (!p) throw Error(ErrorCode::OutOfMemory, "host allocation of " + std::to_string(bytes) + " bytes failed");
    return p;
  }
  void deallocate(void* p) override { std::free(p); }
};

// Kernels run when submitted; the stream only carries the thread count, set
// for the duration of a run on the thread making it (OpenMP's count is per
// calling thread, so streams of different counts can run side by side).
class InlineStream final : public Stream {
 public:
  explicit InlineStream(int threads) : m_threads(threads) {}
  void synchronize() override {}
  void begin_run(DeviceSwitch) override { m_scope.emplace(m_threads); }
  void end_run() override { m_scope.reset(); }

 private:
  int m_threads;
  std::optional<CpuThreadScope> m_scope;
};

std::string cpu_isa() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return "x86_64-avx512";
  if (__builtin_cpu_supports("avx2")) return "x86_64-avx2";
  return "x86_64";
#elif defined(__aarch64__)
  return "aarch64";
#else
  return "generic";
#endif
}

}  // namespace

CpuBackend::CpuBackend() { register_all_cpu_kernels(m_kernels); }

std::string CpuBackend::fingerprint() const { return "cpu " + cpu_isa() + " " + onednn::onednn_version(); }

std::string CpuBackend::timing_fingerprint() const { return fingerprint() + env_switches({"KILN_DNNL_CONV_ANY"}); }

Allocator& CpuBackend::allocator() {
  static HostAllocator alloc;
  return alloc;
}

std::unique_ptr<Stream> CpuBackend::create_stream(const StreamConfig& config) {
  return std::make_unique<InlineStream>(config.cpu_threads);
}

void CpuBackend::copy(void* dst, const Device& dst_device, const void* src, const Device& src_device, size_t bytes,
                      Stream&) {
  if (!dst_device.is_host() || !src_device.is_host())
    throw Error(ErrorCode::Internal, "the cpu backend cannot copy from " + src_device.str() + " to " + dst_device.str());
  if (bytes) std::memcpy(dst, src, bytes);
}

std::vector<std::string> CpuBackend::passes(int optimization_level) const {
  // oneDNN's fused 1x1 + depthwise kernel, then channels-last chains between
  // layout-aware kernels (passes/passes.h).
  if (optimization_level < 3) return {};
  return {"fuse_conv_dw", "assign_cpu_layouts"};
}

Backend& cpu_backend() { return host_backend(); }

std::unique_ptr<Backend> make_cpu_backend(int index) {
  if (index != 0) throw Error(ErrorCode::InvalidArgument, "device 'cpu:" + std::to_string(index) + "': there is one cpu device");
  return std::make_unique<CpuBackend>();
}

}  // namespace kiln::backend
