#include "backends/cpu/cpu_backend.h"

#include <cstdlib>
#include <cstring>

#include "backends/cpu/dnnl/context.h"
#include "backends/cpu/kernels/families.h"
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

class InlineStream final : public Stream {
 public:
  void synchronize() override {}
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

Allocator& CpuBackend::allocator() {
  static HostAllocator alloc;
  return alloc;
}

std::unique_ptr<Stream> CpuBackend::create_stream() { return std::make_unique<InlineStream>(); }

void CpuBackend::copy(void* dst, const void* src, size_t bytes, CopyKind, Stream&) {
  if (bytes) std::memcpy(dst, src, bytes);
}

Backend& cpu_backend() {
  static CpuBackend backend;
  return backend;
}

}  // namespace kiln::backend
