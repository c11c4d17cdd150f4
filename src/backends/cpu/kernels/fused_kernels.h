// Reference CPU kernels of the com.kiln fused ops (src/ir/ops/fused.cpp): the
// ONNX reference kernel of the op, then the residual/bias and the activation,
// so fused and unfused graphs can be checked against each other and folded.
#pragma once

namespace kiln::backend {

class KernelRegistry;

// Must run after the nn family registered its reference Conv/Gemm/MatMul and
// before any optimized kernel overrides them: it captures those factories.
void register_cpu_fused(KernelRegistry& r);

}  // namespace kiln::backend
