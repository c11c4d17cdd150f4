// Ops that cut, join or pad along axes: Slice, Concat, Split (strided copies)
// and Pad (the modular gather; constant, edge, reflect and wrap modes, negative
// pads crop first and the mode then pads the cropped range, as on the CPU).
#include "backends/cuda/kernels/tensor_util.cuh"

namespace kiln::backend::cuda::tensor {

namespace {

void concat(KernelContext& ctx) {
  const params::ConcatPlan p = params::concat_plan(ctx);
  const size_t a = p.axis;
  const Tensor& first = ctx.input(0);
  Tensor& out = ctx.output(0, first.dtype(), p.out);
  const std::vector<int64_t> out_strides = strides_of(p.out);
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
  const params::SplitPlan p = params::split_plan(ctx);
  const size_t axis = p.axis;
  const std::vector<int64_t> in_strides = strides_of(in.shape());
  const size_t es = dtype_size(in.dtype());
  int64_t offset = 0;
  for (size_t i = 0; i < p.sizes.size(); ++i) {
    Shape shape = in.shape();
    shape[axis] = p.sizes[i];
    Tensor& out = ctx.output(i, in.dtype(), shape);
    copy_strided(ctx, out.raw(), 0, strides_of(shape), in.raw(), offset * in_strides[axis], in_strides, shape, es);
    offset += p.sizes[i];
  }
}

// The constant as one element of dtype dt (zero when not given); pad_plan
// checked its dtype.
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
    if (c.numel() >= 1) std::memcpy(v.data(), c.raw(), v.size());
  }
  return v;
}

void pad(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  const params::PadPlan p = params::pad_plan(ctx);
  Tensor& out = ctx.output(0, in.dtype(), p.out);
  const std::vector<std::byte> value = constant_bytes(ctx, in.dtype());
  pad_copy(ctx, out.raw(), p.out, in.raw(), in.shape(), p.before, p.lo, p.len, p.mode, value.data(),
           dtype_size(in.dtype()));
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
  add_op(r, "Slice", params::planned<params::slice_view, copy_view>, check_movable_ranked);
  add_op(r, "Concat", concat, check_concat);
  add_op(r, "Split", split, check_movable_ranked);
  add_op(r, "Pad", pad, check_pad);
}

}  // namespace kiln::backend::cuda::tensor
