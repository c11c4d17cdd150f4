// Shared pieces of the CPU kernels of the tensor (shape/layout/indexing) family.
// The family is split by concept; register_cpu_tensor (tensor.cpp) calls each part.
#pragma once

#include <vector>

#include "backends/kernel.h"
#include "backends/kernel_params.h"
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

// Host operands and the parameters the CUDA kernels share (backends/kernel_params.h).
using params::concrete;
using params::fail_of;
using params::host_ints;
using params::prod;

// Output 0 as a byte copy of input 0 with another shape (Reshape and friends).
void copy_reshaped(KernelContext& ctx, const Shape& shape);
// Output 0 as the strided view of input 0 a shared plan describes.
void copy_view(KernelContext& ctx, const params::StridedView& v);

// (params::planned<plan, copy_reshaped / copy_view> makes kernels of them.)

}  // namespace kiln::backend::cpu
