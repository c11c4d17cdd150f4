// The dynamic shared memory a kernel function may use beyond the default
// 48 KiB, set once per (function, device), process-wide: the attribute
// belongs to the function, which nodes of other geometries share, so it is
// only ever raised. Call before launching, and before any capture.
#pragma once

#include <cstddef>

namespace kiln::backend::cuda {

void allow_smem(const void* kernel, size_t bytes);

}  // namespace kiln::backend::cuda
