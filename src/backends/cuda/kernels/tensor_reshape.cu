// Ops that keep the data and change the shape or the order of dims: Flatten,
// Reshape, Squeeze, Unsqueeze (device-to-device copies: the output is its own
// buffer), Transpose, Expand, DepthToSpace, SpaceToDepth (strided copies) and
// Tile (the modular gather, as wrap padding).
#include "backends/cuda/kernels/tensor_util.cuh"

namespace kiln::backend::cuda::tensor {

namespace {

void tile(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  const Shape shape = params::tile_plan(ctx).out;
  Tensor& out = ctx.output(0, in.dtype(), shape);
  if (out.numel() == 0) return;
  if (out.numel() == in.numel()) {  // every repeat is 1
    KILN_CUDA(cudaMemcpyAsync(out.raw(), in.raw(), in.nbytes(), cudaMemcpyDeviceToDevice, cuda_stream(ctx).get()));
    return;
  }
  // Output position o reads the input at o mod dim: wrap padding after the input.
  const std::vector<int64_t> zeros(shape.size(), 0);
  pad_copy(ctx, out.raw(), shape, in.raw(), in.shape(), zeros, zeros, in.shape(), PadMode::Wrap, nullptr,
           dtype_size(in.dtype()));
}

void check_depth_to_space(const ir::Node& n, const ir::Graph& g) {
  check_movable(n, g);
  const std::string mode = n.attr_s("mode", "DCR");
  if (n.op_type == "DepthToSpace" && mode != "DCR" && mode != "CRD") unsupported(n, "mode '" + mode + "'");
}

}  // namespace

void register_reshape(KernelRegistry& r) {
  add_op(r, "Flatten", params::planned<params::flatten_shape, copy_reshaped>, check_movable);
  add_op(r, "Reshape", params::planned<params::reshape_shape, copy_reshaped>, check_movable);
  add_op(r, "Squeeze", params::planned<params::squeeze_shape, copy_reshaped>, check_movable);
  add_op(r, "Unsqueeze", params::planned<params::unsqueeze_shape, copy_reshaped>, check_movable);
  add_op(r, "Transpose", params::planned<params::transpose_view, copy_view>, check_movable_ranked);
  add_op(r, "Expand", params::planned<params::expand_view, copy_view>, check_movable_ranked);
  add_op(r, "Tile", tile, check_movable_ranked);
  add_op(r, "DepthToSpace", params::planned<params::depth_to_space_view, copy_view>, check_depth_to_space);
  add_op(r, "SpaceToDepth", params::planned<params::space_to_depth_view, copy_view>, check_depth_to_space);
}

}  // namespace kiln::backend::cuda::tensor
