// CPU reference kernels of the tensor (shape/layout/indexing) family; one file per
// concept beside this one (see tensor_kernels.h). Output shapes come from the same
// rules as shape inference (src/ir/ops/shape_rules.h).
#include <cstring>

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

std::vector<int64_t> input_ints(const KernelContext& ctx, size_t i) {
  const Tensor& t = ctx.input(i);
  if (dtype_is_float(t.dtype()) || t.dtype() == DataType::Bool)
    ctx.fail("input " + std::to_string(i) + " must be an integer tensor, got " + std::string(dtype_name(t.dtype())));
  return read_ints(t);
}

Shape concrete(const KernelContext& ctx, const ir::SymShape& s) {
  if (!ir::shape_known(s))
    throw Error(ErrorCode::Internal, ctx.node().label() + ": output shape " + ir::sym_str(s) + " not concrete");
  return ir::to_shape(s);
}

void copy_reshaped(KernelContext& ctx, const Shape& shape) {
  const Tensor& in = ctx.input(0);
  Tensor& out = ctx.output(0, in.dtype(), shape);
  if (out.numel() != in.numel())
    throw Error(ErrorCode::Internal, ctx.node().label() + ": reshape changes the element count");
  if (in.nbytes()) std::memcpy(out.raw(), in.raw(), in.nbytes());
}

}  // namespace cpu
}  // namespace kiln::backend
