// The CPU backend: host memory, synchronous "streams" (each with a thread
// count for the oneDNN kernels), reference kernels in plain C++ (oneDNN-backed
// kernels override them where registered later).
#pragma once

#include <memory>

#include "backends/backend.h"

namespace kiln::backend {

class CpuBackend final : public Backend {
 public:
  CpuBackend();
  std::string name() const override { return "cpu"; }
  Device device() const override { return Device{DeviceKind::CPU, 0}; }
  std::string fingerprint() const override;
  std::string timing_fingerprint() const override;
  Allocator& allocator() override;
  std::unique_ptr<Stream> create_stream(const StreamConfig& config = {}) override;
  void copy(void* dst, const Device& dst_device, const void* src, const Device& src_device, size_t bytes,
            Stream& stream) override;
  const KernelRegistry& kernels() const override { return m_kernels; }
  std::vector<std::string> passes(int optimization_level) const override;

 private:
  KernelRegistry m_kernels;
};

// The process's CPU backend (the registry's "cpu").
Backend& cpu_backend();
std::unique_ptr<Backend> make_cpu_backend(int index);

}  // namespace kiln::backend
