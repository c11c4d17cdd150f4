// Ops that cut, join or pad along axes: Slice, Concat, Split (strided copies)
// and Pad (the modular gather; constant, edge, reflect and wrap modes, negative
// pads crop first and the mode then pads the cropped range, as on the CPU).
#include "backends/cuda/kernels/tensor_util.cuh"

namespace kiln::backend::cuda::tensor {

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
    starts = host_ints(ctx, 1);
    ends = host_ints(ctx, 2);
    if ((has_axes = ctx.has_input(3))) axes = host_ints(ctx, 3);
    if ((has_steps = ctx.has_input(4))) steps = host_ints(ctx, 4);
  }
  const auto sl = ir::rules::slice(fail_of(ctx), to_sym(in.shape()), starts, ends, has_axes ? &axes : nullptr,
                                   has_steps ? &steps : nullptr);
  const Shape shape = concrete(ctx, ir::rules::slice_shape(sl));
  Tensor& out = ctx.output(0, in.dtype(), shape);
  if (out.numel() == 0) return;
  // Negative steps read backwards from the start element.
  const std::vector<int64_t> in_strides = strides_of(in.shape());
  std::vector<int64_t> src(shape.size());
  int64_t offset = 0;
  for (size_t i = 0; i < shape.size(); ++i) {
    offset += sl[i].start * in_strides[i];
    src[i] = sl[i].step * in_strides[i];
  }
  copy_strided(ctx, out.raw(), 0, strides_of(shape), in.raw(), offset, src, shape, dtype_size(in.dtype()));
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
  const std::vector<int64_t> out_strides = strides_of(shape);
  const size_t es = dtype_size(first.dtype());
  // One strided copy per input into its offset view of the output.
  int64_t offset = 0;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    const Tensor& in = ctx.input(i);
    copy_strided(ctx, out.raw(), offset * out_strides[a], out_strides, in.raw(), 0, strides_of(in.shape()),
                 in.shape(), es);
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
    split = host_ints(ctx, 1);
  }
  const int64_t num_outputs = ctx.opset() >= 18 ? ctx.node().attr_i("num_outputs", 0) : 0;
  if (has_split && num_outputs > 0) fail("has both split and num_outputs");
  const auto sizes = ir::rules::split_sizes(fail, ir::Dim(in.shape()[axis]), has_split ? &split : nullptr,
                                            num_outputs, ctx.num_outputs(), ctx.opset());
  const std::vector<int64_t> in_strides = strides_of(in.shape());
  const size_t es = dtype_size(in.dtype());
  int64_t offset = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    Shape shape = in.shape();
    shape[axis] = sizes[i];
    Tensor& out = ctx.output(i, in.dtype(), shape);
    copy_strided(ctx, out.raw(), 0, strides_of(shape), in.raw(), offset * in_strides[axis], in_strides, shape, es);
    offset += sizes[i];
  }
}

PadMode pad_mode(const KernelContext& ctx) {
  const std::string m = ctx.node().attr_s("mode", "constant");
  if (m == "constant") return PadMode::Constant;
  if (m == "edge") return PadMode::Edge;
  if (m == "reflect") return PadMode::Reflect;
  if (m == "wrap") return PadMode::Wrap;
  ctx.fail("unknown mode '" + m + "'");
}

// The constant as one element of dtype dt (zero when not given).
std::vector<std::byte> constant_bytes(const KernelContext& ctx, DataType dt) {
  std::vector<std::byte> v(dtype_size(dt), std::byte{0});
  if (ctx.opset() < 11) {
    const float f = ctx.node().attr_f("value", 0.f);
    dispatch_all(dt, ctx, [&](auto tag) {
      using T = decltype(tag);
      const T t = store<T>(f);  // as the CPU's static_cast<T>(f); 16-bit floats round to nearest even
      std::memcpy(v.data(), &t, sizeof(T));
    });
  } else if (ctx.has_input(2)) {
    const Tensor& c = ctx.input(2);
    if (!c.on_host()) throw Error(ErrorCode::Internal, ctx.node().label() + ": constant_value must be in host memory");
    if (c.dtype() != dt) ctx.fail("constant_value and data differ in dtype");
    if (c.numel() >= 1) std::memcpy(v.data(), c.raw(), v.size());
  }
  return v;
}

void pad(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  const PadMode mode = pad_mode(ctx);
  const auto fail = fail_of(ctx);
  std::vector<int64_t> pads, axes;
  bool has_axes = false;
  if (ctx.opset() < 11) {
    pads = ctx.node().attr_ints("pads");
  } else {
    pads = host_ints(ctx, 1);
    if ((has_axes = ctx.has_input(3))) axes = host_ints(ctx, 3);
  }
  const auto p = ir::rules::pads(fail, in.rank(), pads, has_axes ? &axes : nullptr);
  const Shape shape = concrete(ctx, ir::rules::pad(fail, to_sym(in.shape()), p));
  Tensor& out = ctx.output(0, in.dtype(), shape);
  const std::vector<std::byte> value = constant_bytes(ctx, in.dtype());
  // Per dim: the cropped input range [lo, lo + len) and the padding before it.
  std::vector<int64_t> before(shape.size()), lo(shape.size()), len(shape.size());
  for (size_t d = 0; d < shape.size(); ++d) {
    const int64_t n = in.shape()[d];
    lo[d] = std::max<int64_t>(0, -p.begin[d]);
    len[d] = n - std::max<int64_t>(0, -p.end[d]) - lo[d];
    before[d] = std::max<int64_t>(p.begin[d], 0);
    if (mode != PadMode::Constant && len[d] <= 0 && shape[d] > 0)
      ctx.fail("cannot pad a dim of size 0 in a mode other than constant");
  }
  pad_copy(ctx, out.raw(), shape, in.raw(), in.shape(), before, lo, len, mode, value.data(), dtype_size(in.dtype()));
}

void check_pad(const ir::Node& n, const ir::Graph& g) {
  check_movable_ranked(n, g);
  const std::string m = n.attr_s("mode", "constant");
  if (m != "constant" && m != "edge" && m != "reflect" && m != "wrap") unsupported(n, "mode '" + m + "'");
}

void check_concat(const ir::Node& n, const ir::Graph& g) {
  check_movable_ranked(n, g);
}

}  // namespace

void register_slice(KernelRegistry& r) {
  add_op(r, "Slice", slice, check_movable_ranked);
  add_op(r, "Concat", concat, check_concat);
  add_op(r, "Split", split, check_movable_ranked);
  add_op(r, "Pad", pad, check_pad);
}

}  // namespace kiln::backend::cuda::tensor
