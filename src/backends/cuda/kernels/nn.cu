// The CUDA nn family: the library-backed core (cuDNN convolutions, cuBLASLt
// matrix products, attention, einsum) registered here, and the norms,
// softmax and pools of nn_norm.cu / nn_softmax.cu / nn_pool.cu.
//
// Left to the CPU (tests/backend_ops/cuda_skip_list.txt): ConvInteger and
// MatMulInteger (int8 zero-point arithmetic; cuDNN/cuBLASLt int8 paths want
// layouts and alignment the models do not promise).
#include "backends/cuda/kernels/families.h"
#include "backends/kernel.h"

namespace kiln::backend::cuda {

// Sub-families of this file's family, one per source file.
void register_cuda_conv(KernelRegistry& r);       // cudnn_conv.cu: Conv, FusedConv, FusedConvDw, ConvTranspose
void register_cuda_matmul(KernelRegistry& r);     // cublaslt_matmul.cu: Gemm, MatMul, FusedGemm, FusedMatMul
void register_cuda_attention(KernelRegistry& r);  // attention.cu: Attention
void register_cuda_flash_attention(KernelRegistry& r);  // flash_attention.cu: Attention (flash, flash_mma)
void register_cuda_einsum(KernelRegistry& r);     // einsum.cu: Einsum
void register_cuda_nn_norm(KernelRegistry& r);    // nn_norm*.cu: BatchNorm, Instance/Group/Layer/RMS/Lp/MVN norms, LRN
void register_cuda_nn_softmax(KernelRegistry& r); // nn_softmax.cu: Softmax, LogSoftmax, Hardmax
void register_cuda_nn_pool(KernelRegistry& r);    // nn_pool.cu: MaxPool, AveragePool, Global*Pool

void register_cuda_nn(KernelRegistry& r) {
  register_cuda_nn_norm(r);
  register_cuda_nn_softmax(r);
  register_cuda_nn_pool(r);
  register_cuda_conv(r);
  register_cuda_matmul(r);
  // cuBLASLt first: the flash file's last candidate is the preferred one and
  // hands the forms it does not take to cuBLASLt's kernel.
  register_cuda_attention(r);
  register_cuda_flash_attention(r);
  register_cuda_einsum(r);
}

}  // namespace kiln::backend::cuda
