// com.kiln ToDevice / ToHost (backends/transfer.h) on CUDA: asynchronous
// copies in the run's stream. ToHost waits for its copy, because the host
// node reading the result runs as soon as this returns.
#include <cstring>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/cuda_stream.h"
#include "backends/cuda/kernels/families.h"
#include "backends/kernel.h"

namespace kiln::backend::cuda {

namespace {

void to_device(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  Tensor& out = ctx.output(0, in.dtype(), in.shape());
  if (!in.nbytes()) return;
  CudaStream& s = cuda_stream(ctx);
  KILN_CUDA(cudaMemcpyAsync(out.raw(), in.raw(), in.nbytes(), in.on_host() ? cudaMemcpyHostToDevice : cudaMemcpyDeviceToDevice, s.get()));
}

void to_host(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  Tensor& out = ctx.output(0, in.dtype(), in.shape());
  if (!in.nbytes()) return;
  if (in.on_host()) {
    std::memcpy(out.raw(), in.raw(), in.nbytes());
    return;
  }
  CudaStream& s = cuda_stream(ctx);
  KILN_CUDA(cudaMemcpyAsync(out.raw(), in.raw(), in.nbytes(), cudaMemcpyDeviceToHost, s.get()));
  KILN_CUDA(cudaStreamSynchronize(s.get()));
}

// Copies cross into host memory a graph replay could not order against the
// CPU nodes between segments: segment boundaries, never captured.
class Transfer final : public Kernel {
 public:
  explicit Transfer(KernelFn fn) : m_fn(fn) {}
  void run(KernelContext& ctx) override { m_fn(ctx); }
  bool capturable() const override { return false; }

 private:
  KernelFn m_fn;
};

}  // namespace

void register_cuda_transfer(KernelRegistry& r) {
  r.add("ToDevice", [](const ir::Node&, const ir::Graph&) { return std::make_unique<Transfer>(to_device); });
  r.add("ToHost", [](const ir::Node&, const ir::Graph&) { return std::make_unique<Transfer>(to_host); });
}

}  // namespace kiln::backend::cuda
