// Kernels that keep the data and change the shape or the order of dims: Flatten,
// Reshape, Squeeze, Unsqueeze (byte copies), Transpose, Expand, Tile,
// DepthToSpace, SpaceToDepth (strided copies).
#include "backends/cpu/kernels/copy_strided.h"
#include "backends/cpu/kernels/tensor_kernels.h"

namespace kiln::backend::cpu {

namespace {

void tile(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  const params::TilePlan p = params::tile_plan(ctx);
  const Shape& shape = p.out;
  Tensor& out = ctx.output(0, in.dtype(), shape);
  // View the output as [r0, d0, r1, d1, ...]: the repeat index reads the input with stride 0.
  const Strides out_strides = contiguous_strides(shape), in_strides = contiguous_strides(in.shape());
  Shape view;
  Strides dst, src;
  for (size_t i = 0; i < shape.size(); ++i) {
    view.insert(view.end(), {p.repeats[i], in.shape()[i]});
    dst.insert(dst.end(), {in.shape()[i] * out_strides[i], out_strides[i]});
    src.insert(src.end(), {0, in_strides[i]});
  }
  copy_strided(out.raw(), dst, in.raw(), src, view, dtype_size(in.dtype()));
}

}  // namespace

void register_reshape_kernels(KernelRegistry& r) {
  r.add_fn("Flatten", params::planned<params::flatten_shape, copy_reshaped>);
  r.add_fn("Reshape", params::planned<params::reshape_shape, copy_reshaped>);
  r.add_fn("Squeeze", params::planned<params::squeeze_shape, copy_reshaped>);
  r.add_fn("Unsqueeze", params::planned<params::unsqueeze_shape, copy_reshaped>);
  r.add_fn("Transpose", params::planned<params::transpose_view, copy_view>);
  r.add_fn("Expand", params::planned<params::expand_view, copy_view>);
  r.add_fn("Tile", tile);
  r.add_fn("DepthToSpace", params::planned<params::depth_to_space_view, copy_view>);
  r.add_fn("SpaceToDepth", params::planned<params::space_to_depth_view, copy_view>);
}

}  // namespace kiln::backend::cpu
