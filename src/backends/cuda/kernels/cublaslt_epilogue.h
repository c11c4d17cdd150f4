// The epilogue the conv and matmul kernels share when the library cannot
// fuse it: a bias broadcast along one axis plus a com.kiln fused activation
// (ir::FusedActivation), in place, in the arithmetic of ir::apply_activation.
#pragma once

#include <cstdint>

#include "backends/kernel.h"
#include "ir/ops/fused_attrs.h"

namespace kiln::backend::cuda {

// y[i] = act(y[i] + bias[(i / inner) % channels]) for i < n, in the run's
// stream; `bias` may be null (then only the activation). Float dtypes (f32,
// f16, bf16, f64); nothing is launched when there is nothing to do.
void bias_activation(const KernelContext& ctx, DataType dt, void* y, const void* bias, int64_t n, int64_t inner,
                     int64_t channels, const ir::FusedActivation& act);

}  // namespace kiln::backend::cuda
