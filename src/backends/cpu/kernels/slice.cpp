// Kernels that cut or join along axes: Slice, Concat, Split (strided copies).
#include "backends/cpu/kernels/copy_strided.h"
#include "backends/cpu/kernels/tensor_kernels.h"

namespace kiln::backend::cpu {

namespace {

void concat(KernelContext& ctx) {
  const params::ConcatPlan p = params::concat_plan(ctx);
  const size_t a = p.axis;
  Tensor& out = ctx.output(0, ctx.input(0).dtype(), p.out);
  const Strides out_strides = contiguous_strides(p.out);
  const int64_t es = static_cast<int64_t>(dtype_size(out.dtype()));
  int64_t offset = 0;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    const Tensor& in = ctx.input(i);
    copy_strided(bytes_of(out) + offset * out_strides[a] * es, out_strides, in.raw(), contiguous_strides(in.shape()),
                 in.shape(), static_cast<size_t>(es));
    offset += in.shape()[a];
  }
}

void split(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  const params::SplitPlan p = params::split_plan(ctx);
  const size_t axis = p.axis;
  const Strides in_strides = contiguous_strides(in.shape());
  const int64_t es = static_cast<int64_t>(dtype_size(in.dtype()));
  int64_t offset = 0;
  for (size_t i = 0; i < p.sizes.size(); ++i) {
    Shape shape = in.shape();
    shape[axis] = p.sizes[i];
    Tensor& out = ctx.output(i, in.dtype(), shape);
    copy_strided(out.raw(), contiguous_strides(shape), bytes_of(in) + offset * in_strides[axis] * es, in_strides,
                 shape, static_cast<size_t>(es));
    offset += p.sizes[i];
  }
}

}  // namespace

void register_slice_kernels(KernelRegistry& r) {
  r.add_fn("Slice", params::planned<params::slice_view, copy_view>);
  r.add_fn("Concat", concat);
  r.add_fn("Split", split);
}

}  // namespace kiln::backend::cpu
