// oneDNN-backed CPU kernels. register_cpu_dnnl() runs last in
// register_all_cpu_kernels (kernels/families.h), so each kernel registered here
// overrides the reference kernel of its op and keeps it as its fallback.
#pragma once

namespace kiln::backend {

class KernelRegistry;

// Registers the com.kiln fused reference kernels, then every oneDNN kernel.
void register_cpu_dnnl(KernelRegistry& r);

namespace onednn {
void register_dnnl_conv(KernelRegistry& r);        // conv.cpp: Conv, FusedConv
void register_dnnl_conv_dw(KernelRegistry& r);     // conv_dw.cpp: FusedConvDw
void register_dnnl_conv_transpose(KernelRegistry& r);  // conv_transpose.cpp: ConvTranspose
void register_dnnl_matmul(KernelRegistry& r);      // matmul.cpp: Gemm, MatMul, FusedGemm, FusedMatMul
void register_dnnl_pool(KernelRegistry& r);        // pool.cpp: MaxPool, AveragePool, GlobalAveragePool
void register_dnnl_batch_norm(KernelRegistry& r);  // batch_norm.cpp
void register_dnnl_softmax(KernelRegistry& r);     // softmax.cpp: Softmax, LogSoftmax
void register_dnnl_binary(KernelRegistry& r);      // binary.cpp: Add, Sub, Mul, Div
}  // namespace onednn

}  // namespace kiln::backend
