// Internal to the CPU quant kernels (quant*.cpp): the sub-family registration
// register_cpu_quant() calls.
#pragma once

namespace kiln::backend {

class KernelRegistry;

void register_cpu_quant_dynamic(KernelRegistry& r);  // quant_dynamic.cpp: DynamicQuantizeLinear, MVN

}  // namespace kiln::backend
