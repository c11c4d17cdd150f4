// Shared pieces of the CPU kernels of the tensor (shape/layout/indexing) family.
// The family is split by concept; register_cpu_tensor (tensor.cpp) calls each part.
#pragma once

#include <vector>

#include "backends/kernel.h"
#include "ir/ops/shape_rules.h"

namespace kiln::backend::cpu {

void register_reshape_kernels(KernelRegistry& r);   // reshape_like.cpp: Flatten, Reshape, Transpose, ...
void register_constant_kernels(KernelRegistry& r);  // constant.cpp: Constant, Shape, Range, NonZero, ...
void register_slice_kernels(KernelRegistry& r);     // slice.cpp: Slice, Concat, Split
void register_pad_kernels(KernelRegistry& r);       // pad.cpp: Pad
void register_gather_kernels(KernelRegistry& r);    // gather.cpp: Gather, GatherElements, GatherND, OneHot, Compress
void register_scatter_kernels(KernelRegistry& r);   // scatter.cpp: ScatterND, ScatterElements, Scatter
void register_scan_kernels(KernelRegistry& r);      // scan.cpp: CumSum, Trilu, ReverseSequence
void register_resize_kernels(KernelRegistry& r);    // resize.cpp: Resize, Upsample

inline ir::rules::Fail fail_of(const KernelContext& ctx) { return {ctx.node(), ErrorCode::InvalidArgument}; }

// A shape-like input (int32/int64 values) as int64s.
std::vector<int64_t> input_ints(const KernelContext& ctx, size_t i);
// The concrete shape a rule computed from concrete inputs.
Shape concrete(const KernelContext& ctx, const ir::SymShape& s);
// Output 0 as a byte copy of input 0 with another shape (Reshape and friends).
void copy_reshaped(KernelContext& ctx, const Shape& shape);

}  // namespace kiln::backend::cpu
