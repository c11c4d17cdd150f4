// CUDA kernel families; each file registers the kernels of one op family
// (as the CPU's backends/cpu/kernels/families.h). A kernel factory checks what
// it can take (dtypes, ranks, attributes) and throws kiln::Error(Unsupported)
// with the reason otherwise, without touching the GPU: the builder asks it
// whether the node can run on CUDA, and the node falls back to the CPU if not.
#pragma once

namespace kiln::backend {
class KernelRegistry;
}

namespace kiln::backend::cuda {

void register_cuda_transfer(KernelRegistry& r);     // transfer.cpp (ToDevice/ToHost)
void register_cuda_elementwise(KernelRegistry& r);  // elementwise*.cu
void register_cuda_tensor(KernelRegistry& r);       // tensor*.cu (layout, indexing, shape ops, CumSum, NonZero)
void register_cuda_reduce(KernelRegistry& r);       // reduce*.cu (Reduce*, ArgMax/Min, TopK, DynamicQuantizeLinear)
void register_cuda_nn(KernelRegistry& r);           // nn*.cu/.cpp (conv, gemm, norms, pools, softmax, attention)
void register_cuda_detection(KernelRegistry& r);    // detection.cu, resize.cu, grid_sample.cu, roi_align.cu, nms.cu

}  // namespace kiln::backend::cuda
