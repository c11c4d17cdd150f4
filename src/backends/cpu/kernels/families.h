// CPU kernel families; each file registers the kernels of one op family
// (matching src/ir/ops/<family>.cpp).
#pragma once

namespace kiln::backend {

class KernelRegistry;

void register_cpu_elementwise(KernelRegistry& r);  // elementwise.cpp
void register_cpu_nn(KernelRegistry& r);           // nn.cpp
void register_cpu_tensor(KernelRegistry& r);       // tensor.cpp

inline void register_all_cpu_kernels(KernelRegistry& r) {
  register_cpu_elementwise(r);
  register_cpu_nn(r);
  register_cpu_tensor(r);
}

}  // namespace kiln::backend
