// CPU kernel families; each file registers the kernels of one op family
// (matching src/ir/ops/<family>.cpp).
#pragma once

namespace kiln::backend {

class KernelRegistry;

void register_cpu_elementwise(KernelRegistry& r);  // elementwise.cpp
void register_cpu_nn(KernelRegistry& r);           // nn.cpp
void register_cpu_tensor(KernelRegistry& r);       // tensor.cpp
void register_cpu_reduce(KernelRegistry& r);       // reduce.cpp
void register_cpu_quant(KernelRegistry& r);        // quant.cpp
void register_cpu_detection(KernelRegistry& r);    // detection.cpp
void register_cpu_control_flow(KernelRegistry& r);  // control_flow.cpp (If)
void register_cpu_dnnl(KernelRegistry& r);         // ../dnnl/register.cpp: oneDNN overrides, last

inline void register_all_cpu_kernels(KernelRegistry& r) {
  register_cpu_elementwise(r);
  register_cpu_nn(r);
  register_cpu_tensor(r);
  register_cpu_reduce(r);
  register_cpu_quant(r);
  register_cpu_detection(r);
  register_cpu_control_flow(r);
  register_cpu_dnnl(r);
}

}  // namespace kiln::backend
