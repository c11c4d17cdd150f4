// Kernels that keep the data and change the shape or the order of dims: Flatten,
// Reshape, Squeeze, Unsqueeze (byte copies), Transpose, Expand, Tile,
// DepthToSpace, SpaceToDepth (strided copies).
#include "backends/cpu/kernels/copy_strided.h"
#include "backends/cpu/kernels/tensor_kernels.h"

namespace kiln::backend::cpu {

namespace {

using ir::to_sym;

void flatten(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  copy_reshaped(ctx, concrete(ctx, ir::rules::flatten(fail_of(ctx), to_sym(in.shape()), ctx.node().attr_i("axis", 1))));
}

void reshape(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  const auto target = ctx.opset() < 5 ? ctx.node().attr_ints("shape") : input_ints(ctx, 1);
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
  return input_ints(ctx, 1);
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
  const Strides in_strides = contiguous_strides(in.shape());
  Shape shape;
  Strides src;
  for (int64_t p : perm) {
    shape.push_back(in.shape()[static_cast<size_t>(p)]);
    src.push_back(in_strides[static_cast<size_t>(p)]);
  }
  Tensor& out = ctx.output(0, in.dtype(), shape);
  copy_strided(out.raw(), contiguous_strides(shape), in.raw(), src, shape, dtype_size(in.dtype()));
}

// Copies `in` broadcast to `shape` (numpy rules; `shape` is already the result).
void broadcast_copy(Tensor& out, const Tensor& in) {
  const Shape& shape = out.shape();
  const size_t off = shape.size() - in.shape().size();
  const Strides in_strides = contiguous_strides(in.shape());
  Strides src(shape.size(), 0);
  for (size_t i = 0; i < in.shape().size(); ++i)
    src[off + i] = in.shape()[i] == 1 ? 0 : in_strides[i];
  copy_strided(out.raw(), contiguous_strides(shape), in.raw(), src, shape, dtype_size(in.dtype()));
}

void expand(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  const auto target = input_ints(ctx, 1);
  for (int64_t t : target)
    if (t < 0) ctx.fail("shape " + shape_str(target) + " has a negative dim");
  const Shape shape = concrete(ctx, ir::rules::broadcast(fail_of(ctx), to_sym(in.shape()), to_sym(target)));
  broadcast_copy(ctx.output(0, in.dtype(), shape), in);
}

void tile(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  const auto repeats = input_ints(ctx, 1);
  const Shape shape = concrete(ctx, ir::rules::tile(fail_of(ctx), to_sym(in.shape()), repeats));
  Tensor& out = ctx.output(0, in.dtype(), shape);
  // View the output as [r0, d0, r1, d1, ...]: the repeat index reads the input with stride 0.
  const Strides out_strides = contiguous_strides(shape), in_strides = contiguous_strides(in.shape());
  Shape view;
  Strides dst, src;
  for (size_t i = 0; i < shape.size(); ++i) {
    view.insert(view.end(), {repeats[i], in.shape()[i]});
    dst.insert(dst.end(), {in.shape()[i] * out_strides[i], out_strides[i]});
    src.insert(src.end(), {0, in_strides[i]});
  }
  copy_strided(out.raw(), dst, in.raw(), src, view, dtype_size(in.dtype()));
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
  const Strides src = {c * b * b * hw, s_c, w, s_b1, 1, s_b2};
  copy_strided(out.raw(), contiguous_strides(view), in.raw(), src, view, dtype_size(in.dtype()));
}

void space_to_depth(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  const int64_t b = ctx.node().attr_i("blocksize", 0);
  const Shape shape = concrete(ctx, ir::rules::space_to_depth(fail_of(ctx), to_sym(in.shape()), b));
  Tensor& out = ctx.output(0, in.dtype(), shape);
  const int64_t c = in.shape()[1], h = in.shape()[2], w = in.shape()[3];
  // Output viewed as [N, b1, b2, C, H/b, W/b]; input element (n, c, y*b + b1, x*b + b2).
  const Shape view = {shape[0], b, b, c, shape[2], shape[3]};
  const Strides src = {c * h * w, w, 1, h * w, b * w, b};
  copy_strided(out.raw(), contiguous_strides(view), in.raw(), src, view, dtype_size(in.dtype()));
}

}  // namespace

void register_reshape_kernels(KernelRegistry& r) {
  r.add_fn("Flatten", flatten);
  r.add_fn("Reshape", reshape);
  r.add_fn("Squeeze", squeeze);
  r.add_fn("Unsqueeze", unsqueeze);
  r.add_fn("Transpose", transpose);
  r.add_fn("Expand", expand);
  r.add_fn("Tile", tile);
  r.add_fn("DepthToSpace", depth_to_space);
  r.add_fn("SpaceToDepth", space_to_depth);
}

}  // namespace kiln::backend::cpu
