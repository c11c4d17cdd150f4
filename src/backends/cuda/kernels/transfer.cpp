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

}  // namespace

void register_cuda_transfer(KernelRegistry& r) {
  r.add_fn("ToDevice", to_device);
  r.add_fn("ToHost", to_host);
}

}  // namespace kiln::backend::cuda
