// The CUDA backend: one instance per GPU. Memory from a CUDA memory pool
// (cuda_memory.h), streams with their cuDNN/cuBLASLt handles (cuda_stream.h),
// kernels on cuDNN 9, cuBLASLt and kiln's own CUDA code (kernels/). Without a
// usable GPU, making one throws a kiln::Error saying why.
#pragma once

#include <memory>

#include "backends/backend.h"

namespace kiln::backend::cuda {

class PoolAllocator;

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int device);
  ~CudaBackend() override;
  std::string name() const override { return "cuda"; }
  Device device() const override { return Device{DeviceKind::CUDA, m_device}; }
  // The GPU model, the library versions, and the switches that remove kernel
  // candidates or change the graph (KILN_CONV_DIRECT, KILN_CONV_POOL,
  // KILN_CONV_PAIR, KILN_CONV_STEM, KILN_CUDNN_SPACE_TO_DEPTH, KILN_CUDNN_PAD_CHANNELS where
  // set, read when asked): an engine built under one setting names choices
  // another refuses, so engine cache keys and engine checks at load keep
  // them apart.
  std::string fingerprint() const override;
  // The fingerprint and the cuDNN speed switches (KILN_CUDNN_FUSION,
  // KILN_CUDNN_RUNTIME_FUSION, KILN_CUDNN_HEUR_B, KILN_CUDNN_KNOBS) and
  // KILN_CUDA_TIMING_HOLD.
  std::string timing_fingerprint() const override;
  Allocator& allocator() override;
  std::unique_ptr<Stream> create_stream(const StreamConfig& config = {}) override;
  void copy(void* dst, const Device& dst_device, const void* src, const Device& src_device, size_t bytes,
            Stream& stream) override;
  // The device's time alone: the work waits behind a hold until all of it is
  // submitted (stream_hold.h).
  double time_ms(Stream& stream, const std::function<void()>& work) override;
  Tensor empty_pinned(DataType dtype, const Shape& shape) override;
  const KernelRegistry& kernels() const override;
  bool supports(const ir::Graph& graph, const ir::Node& node, std::string* why) const override;
  bool host_input(const ir::Node& node, size_t i) const override;
  std::vector<std::string> passes(int optimization_level) const override;
  // KILN_CUDA_NHWC=0 keeps every activation NCHW (for comparing layouts); it
  // is part of the fingerprint, so cached engines of the two never mix.
  static bool nhwc_enabled();
  bool can_capture() const override { return true; }
  void begin_capture(Stream& stream) override;
  std::unique_ptr<Capture> end_capture(Stream& stream) override;
  void abort_capture(Stream& stream) override;

  PoolAllocator& pool() { return *m_pool; }

 private:
  int m_device;
  std::string m_fingerprint;
  std::unique_ptr<PoolAllocator> m_pool;
};

// The CUDA kernels of every family (no device needed to list them).
const KernelRegistry& cuda_kernels();
// Number of usable CUDA devices (0 when there is no GPU or no driver).
int device_count();

}  // namespace kiln::backend::cuda

namespace kiln::backend {
std::unique_ptr<Backend> make_cuda_backend(int index);
}
