// Internal to the CPU detection kernels (detection.cpp, grid_sample.cpp): the
// sub-family registration register_cpu_detection() calls.
#pragma once

namespace kiln::backend {

class KernelRegistry;

void register_cpu_grid_sample(KernelRegistry& r);  // grid_sample.cpp

}  // namespace kiln::backend
