// CPU reference kernels of the tensor (shape/layout/indexing) family; one file per
// concept beside this one (see tensor_kernels.h). Output shapes come from the same
// rules as shape inference (src/ir/ops/shape_rules.h).
#include <cstring>

#include "backends/cpu/kernels/copy_strided.h"
#include "backends/cpu/kernels/families.h"
#include "backends/cpu/kernels/tensor_kernels.h"
#include "core/dispatch.h"

namespace kiln::backend {

void register_cpu_tensor(KernelRegistry& r) {
  cpu::register_reshape_kernels(r);
  cpu::register_constant_kernels(r);
  cpu::register_slice_kernels(r);
  cpu::register_pad_kernels(r);
  cpu::register_gather_kernels(r);
  cpu::register_scatter_kernels(r);
  cpu::register_scan_kernels(r);
  cpu::register_resize_kernels(r);
}

namespace cpu {

void copy_reshaped(KernelContext& ctx, const Shape& shape) {
  const Tensor& in = ctx.input(0);
  Tensor& out = ctx.output(0, in.dtype(), shape);
  if (out.numel() != in.numel())
    throw Error(ErrorCode::Internal, ctx.node().label() + ": reshape changes the element count");
  // In place (the memory plan gave the output the input's buffer): nothing to move.
  if (in.nbytes() && out.raw() != in.raw()) std::memcpy(out.raw(), in.raw(), in.nbytes());
}

void copy_view(KernelContext& ctx, const params::StridedView& v) {
  const Tensor& in = ctx.input(0);
  Tensor& out = ctx.output(0, in.dtype(), v.out);
  if (out.numel() == 0) return;
  const size_t es = dtype_size(in.dtype());
  copy_strided(out.raw(), contiguous_strides(v.dims), bytes_of(in) + v.offset * static_cast<int64_t>(es), v.src,
               v.dims, es);
}

}  // namespace cpu
}  // namespace kiln::backend
