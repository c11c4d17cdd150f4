// The CPU backend: host memory, synchronous "streams", reference kernels in
// plain C++ (oneDNN-backed kernels override them where registered later).
#pragma once

#include "backends/backend.h"

namespace kiln::backend {

class CpuBackend final : public Backend {
 public:
  CpuBackend();
  std::string name() const override { return "cpu"; }
  Device device() const override { return Device{DeviceKind::CPU, 0}; }
  std::string fingerprint() const override;
  Allocator& allocator() override;
  std::unique_ptr<Stream> create_stream() override;
  void copy(void* dst, const void* src, size_t bytes, CopyKind kind, Stream& stream) override;
  const KernelRegistry& kernels() const override { return m_kernels; }

 private:
  KernelRegistry m_kernels;
};

}  // namespace kiln::backend
