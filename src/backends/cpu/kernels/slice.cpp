// Kernels that cut or join along axes: Slice, Concat, Split (strided copies).
#include "backends/cpu/kernels/copy_strided.h"
#include "backends/cpu/kernels/tensor_kernels.h"

namespace kiln::backend::cpu {

namespace {

using ir::to_sym;

void slice(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  const ir::Node& node = ctx.node();
  std::vector<int64_t> starts, ends, axes, steps;
  bool has_axes = false, has_steps = false;
  if (ctx.opset() < 10) {
    starts = node.attr_ints("starts");
    ends = node.attr_ints("ends");
    has_axes = node.attr("axes") != nullptr;
    if (has_axes) axes = node.attr_ints("axes");
  } else {
    starts = input_ints(ctx, 1);
    ends = input_ints(ctx, 2);
    if ((has_axes = ctx.has_input(3))) axes = input_ints(ctx, 3);
    if ((has_steps = ctx.has_input(4))) steps = input_ints(ctx, 4);
  }
  const auto sl = ir::rules::slice(fail_of(ctx), to_sym(in.shape()), starts, ends, has_axes ? &axes : nullptr,
                                   has_steps ? &steps : nullptr);
  const Shape shape = concrete(ctx, ir::rules::slice_shape(sl));
  Tensor& out = ctx.output(0, in.dtype(), shape);
  if (out.numel() == 0) return;
  const Strides in_strides = contiguous_strides(in.shape());
  Strides src(shape.size());
  int64_t offset = 0;
  for (size_t i = 0; i < shape.size(); ++i) {
    offset += sl[i].start * in_strides[i];
    src[i] = sl[i].step * in_strides[i];
  }
  const size_t es = dtype_size(in.dtype());
  copy_strided(out.raw(), contiguous_strides(shape), bytes_of(in) + offset * static_cast<int64_t>(es), src, shape, es);
}

void concat(KernelContext& ctx) {
  std::vector<ir::SymShape> shapes;
  const Tensor& first = ctx.input(0);
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (ctx.input(i).dtype() != first.dtype()) ctx.fail("inputs differ in dtype");
    shapes.push_back(to_sym(ctx.input(i).shape()));
  }
  const int64_t axis = ctx.node().attr_i("axis", 1);
  const Shape shape = concrete(ctx, ir::rules::concat(fail_of(ctx), shapes, axis));
  const size_t a = static_cast<size_t>(ir::rules::norm_axis(fail_of(ctx), axis, static_cast<int64_t>(shape.size())));
  Tensor& out = ctx.output(0, first.dtype(), shape);
  const Strides out_strides = contiguous_strides(shape);
  const int64_t es = static_cast<int64_t>(dtype_size(first.dtype()));
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
  const auto fail = fail_of(ctx);
  const size_t axis = static_cast<size_t>(ir::rules::norm_axis(fail, ctx.node().attr_i("axis", 0), in.rank()));
  std::vector<int64_t> split;
  bool has_split = false;
  if (ctx.opset() < 13) {
    if ((has_split = ctx.node().attr("split") != nullptr)) split = ctx.node().attr_ints("split");
  } else if ((has_split = ctx.has_input(1))) {
    split = input_ints(ctx, 1);
  }
  const int64_t num_outputs = ctx.opset() >= 18 ? ctx.node().attr_i("num_outputs", 0) : 0;
  if (has_split && num_outputs > 0) fail("has both split and num_outputs");
  const auto sizes = ir::rules::split_sizes(fail, ir::Dim(in.shape()[axis]), has_split ? &split : nullptr,
                                            num_outputs, ctx.num_outputs(), ctx.opset());
  const Strides in_strides = contiguous_strides(in.shape());
  const int64_t es = static_cast<int64_t>(dtype_size(in.dtype()));
  int64_t offset = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    Shape shape = in.shape();
    shape[axis] = sizes[i];
    Tensor& out = ctx.output(i, in.dtype(), shape);
    copy_strided(out.raw(), contiguous_strides(shape), bytes_of(in) + offset * in_strides[axis] * es, in_strides,
                 shape, static_cast<size_t>(es));
    offset += sizes[i];
  }
}

}  // namespace

void register_slice_kernels(KernelRegistry& r) {
  r.add_fn("Slice", slice);
  r.add_fn("Concat", concat);
  r.add_fn("Split", split);
}

}  // namespace kiln::backend::cpu
