// Ops that keep the data and change the shape or the order of dims: Flatten,
// Reshape, Squeeze, Unsqueeze (device-to-device copies: the output is its own
// buffer), Transpose, Expand, DepthToSpace, SpaceToDepth (strided copies) and
// Tile (the modular gather, as wrap padding).
#include "backends/cuda/kernels/tensor_util.cuh"

namespace kiln::backend::cuda::tensor {

namespace {

using ir::to_sym;

void flatten(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  copy_reshaped(ctx, concrete(ctx, ir::rules::flatten(fail_of(ctx), to_sym(in.shape()), ctx.node().attr_i("axis", 1))));
}

void reshape(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  const auto target = ctx.opset() < 5 ? ctx.node().attr_ints("shape") : host_ints(ctx, 1);
  const bool allowzero = ctx.node().attr_i("allowzero", 0) != 0;
  copy_reshaped(ctx, concrete(ctx, ir::rules::reshape(fail_of(ctx), to_sym(in.shape()), target, allowzero)));
}

// Squeeze/Unsqueeze axes: an attribute before opset 13, input 1 from 13.
std::optional<std::vector<int64_t>> axes_of(const KernelContext& ctx) {
  if (ctx.opset() < 13) {
    if (!ctx.node().attr("axes")) return std::nullopt;
    return ctx.node().attr_ints("axes");
  }
  if (!ctx.has_input(1)) return std::nullopt;
  return host_ints(ctx, 1);
}

void squeeze(KernelContext& ctx) {
  const auto axes = axes_of(ctx);
  const auto out = ir::rules::squeeze(fail_of(ctx), to_sym(ctx.input(0).shape()), axes ? &*axes : nullptr);
  copy_reshaped(ctx, concrete(ctx, *out));
}

void unsqueeze(KernelContext& ctx) {
  const auto axes = axes_of(ctx);
  if (!axes) ctx.fail("needs axes");
  copy_reshaped(ctx, concrete(ctx, ir::rules::unsqueeze(fail_of(ctx), to_sym(ctx.input(0).shape()), *axes)));
}

void transpose(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  const auto perm = ir::rules::transpose_perm(fail_of(ctx), ctx.node().attr_ints("perm"), in.rank());
  const std::vector<int64_t> in_strides = strides_of(in.shape());
  Shape shape;
  std::vector<int64_t> src;
  for (int64_t p : perm) {
    shape.push_back(in.shape()[static_cast<size_t>(p)]);
    src.push_back(in_strides[static_cast<size_t>(p)]);
  }
  Tensor& out = ctx.output(0, in.dtype(), shape);
  copy_strided(ctx, out.raw(), 0, strides_of(shape), in.raw(), 0, src, shape, dtype_size(in.dtype()));
}

void expand(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  const auto target = host_ints(ctx, 1);
  for (int64_t t : target)
    if (t < 0) ctx.fail("shape " + shape_str(target) + " has a negative dim");
  const Shape shape = concrete(ctx, ir::rules::broadcast(fail_of(ctx), to_sym(in.shape()), to_sym(target)));
  Tensor& out = ctx.output(0, in.dtype(), shape);
  // The input read with stride 0 along the dims it broadcasts.
  const size_t off = shape.size() - in.shape().size();
  const std::vector<int64_t> in_strides = strides_of(in.shape());
  std::vector<int64_t> src(shape.size(), 0);
  for (size_t i = 0; i < in.shape().size(); ++i) src[off + i] = in.shape()[i] == 1 ? 0 : in_strides[i];
  copy_strided(ctx, out.raw(), 0, strides_of(shape), in.raw(), 0, src, shape, dtype_size(in.dtype()));
}

void tile(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  const auto repeats = host_ints(ctx, 1);
  const Shape shape = concrete(ctx, ir::rules::tile(fail_of(ctx), to_sym(in.shape()), repeats));
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

void depth_to_space(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  const int64_t b = ctx.node().attr_i("blocksize", 0);
  const Shape shape = concrete(ctx, ir::rules::depth_to_space(fail_of(ctx), to_sym(in.shape()), b));
  Tensor& out = ctx.output(0, in.dtype(), shape);
  const int64_t c = shape[1], h = in.shape()[2], w = in.shape()[3];
  const int64_t hw = h * w;
  // Output viewed as [N, C', H, b1, W, b2]; the input's channel is b1*b*C' + b2*C' + c
  // (DCR) or c*b*b + b1*b + b2 (CRD).
  const bool crd = ctx.node().attr_s("mode", "DCR") == "CRD";
  const int64_t s_c = crd ? b * b * hw : hw;
  const int64_t s_b1 = crd ? b * hw : b * c * hw;
  const int64_t s_b2 = crd ? hw : c * hw;
  const Shape view = {shape[0], c, h, b, w, b};
  const std::vector<int64_t> src = {c * b * b * hw, s_c, w, s_b1, 1, s_b2};
  copy_strided(ctx, out.raw(), 0, strides_of(view), in.raw(), 0, src, view, dtype_size(in.dtype()));
}

void space_to_depth(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  const int64_t b = ctx.node().attr_i("blocksize", 0);
  const Shape shape = concrete(ctx, ir::rules::space_to_depth(fail_of(ctx), to_sym(in.shape()), b));
  Tensor& out = ctx.output(0, in.dtype(), shape);
  const int64_t c = in.shape()[1], h = in.shape()[2], w = in.shape()[3];
  // Output viewed as [N, b1, b2, C, H/b, W/b]; input element (n, c, y*b + b1, x*b + b2).
  const Shape view = {shape[0], b, b, c, shape[2], shape[3]};
  const std::vector<int64_t> src = {c * h * w, w, 1, h * w, b * w, b};
  copy_strided(ctx, out.raw(), 0, strides_of(view), in.raw(), 0, src, view, dtype_size(in.dtype()));
}

void check_depth_to_space(const ir::Node& n, const ir::Graph& g) {
  check_movable(n, g);
  const std::string mode = n.attr_s("mode", "DCR");
  if (n.op_type == "DepthToSpace" && mode != "DCR" && mode != "CRD") unsupported(n, "mode '" + mode + "'");
}

}  // namespace

void register_reshape(KernelRegistry& r) {
  add_op(r, "Flatten", flatten, check_movable);
  add_op(r, "Reshape", reshape, check_movable);
  add_op(r, "Squeeze", squeeze, check_movable);
  add_op(r, "Unsqueeze", unsqueeze, check_movable);
  add_op(r, "Transpose", transpose, check_movable_ranked);
  add_op(r, "Expand", expand, check_movable_ranked);
  add_op(r, "Tile", tile, check_movable_ranked);
  add_op(r, "DepthToSpace", depth_to_space, check_depth_to_space);
  add_op(r, "SpaceToDepth", space_to_depth, check_depth_to_space);
}

}  // namespace kiln::backend::cuda::tensor
