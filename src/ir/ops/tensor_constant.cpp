// Schemas of the ops that make tensors from attributes or from shapes:
// Constant, ConstantOfShape, Shape, Size, Range, EyeLike, NonZero.
#include "core/dispatch.h"
#include "ir/ops/tensor_common.h"

namespace kiln::ir::tensor_ops {

namespace {

void infer_constant(InferContext& ctx) {
  const Tensor v = rules::constant_value(fail_of(ctx));
  ctx.set_output(0, v.dtype(), to_sym(v.shape()));
}

void infer_constant_of_shape(InferContext& ctx) {
  const DataType dt = rules::fill_value(fail_of(ctx)).dtype();
  if (const auto shape = const_ints(ctx, 0)) {
    for (int64_t d : *shape)
      if (d < 0) fail_of(ctx)("shape " + shape_str(*shape) + " has a negative dim");
    return ctx.set_output(0, dt, to_sym(*shape));
  }
  const auto len = input_len(ctx, 0);
  ctx.set_output(0, dt, len ? std::optional(fresh_shape(ctx, static_cast<size_t>(*len))) : std::nullopt);
}

void infer_shape(InferContext& ctx) {
  const auto& in = ctx.input_shape(0);
  if (!in) return ctx.set_output(0, DataType::Int64, fresh_shape(ctx, 1));
  int64_t start = 0;
  std::optional<int64_t> end;
  if (ctx.opset() >= 15) {
    start = ctx.node().attr_i("start", 0);
    if (ctx.node().attr("end")) end = ctx.node().attr_i("end", 0);
  }
  const auto [b, e] = rules::shape_range(static_cast<int64_t>(in->size()), start, end);
  ctx.set_output(0, DataType::Int64, SymShape{Dim(e - b)});
}

void infer_size(InferContext& ctx) { ctx.set_output(0, DataType::Int64, SymShape{}); }

void infer_range(InferContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  for (size_t i = 0; i < 3; ++i) {
    const auto& s = ctx.input_shape(i);
    // A 1-element 1-D tensor is accepted as the reference runtimes do; an
    // unknown size is left for the kernel to check.
    if (s && !s->empty() && !(s->size() == 1 && (!(*s)[0].known() || (*s)[0].value == 1)))
      fail_of(ctx)("input " + std::to_string(i) + " must be a scalar, got " + sym_str(*s));
  }
  const Tensor *start = ctx.input_const(0), *limit = ctx.input_const(1), *delta = ctx.input_const(2);
  if (!start || !limit || !delta) return ctx.set_output(0, dt, fresh_shape(ctx, 1));
  const int64_t n = dtype_is_float(dt)
                        ? rules::range_count(fail_of(ctx), read_double(*start, 0), read_double(*limit, 0),
                                             read_double(*delta, 0))
                        : rules::range_count_int(fail_of(ctx), read_int(*start, 0), read_int(*limit, 0),
                                                 read_int(*delta, 0));
  ctx.set_output(0, dt, SymShape{Dim(n)});
}

void infer_eye_like(InferContext& ctx) {
  const auto& in = ctx.input_shape(0);
  DataType dt = ctx.input_dtype(0);
  if (ctx.node().attr("dtype")) dt = static_cast<DataType>(ctx.node().attr_i("dtype", 0));
  if (!dtype_is_supported(dt))
    throw Error(ErrorCode::Unsupported, ctx.node().label() + ": dtype " + std::string(dtype_name(dt)) +
                                            " is not supported");
  if (in && in->size() != 2) fail_of(ctx)("input must be 2-D, got " + sym_str(*in));
  ctx.set_output(0, dt, in ? *in : fresh_shape(ctx, 2));
}

void infer_non_zero(InferContext& ctx) {
  const auto& in = ctx.input_shape(0);
  const Dim rank = in ? Dim(static_cast<int64_t>(in->size())) : ctx.new_symbol("rank");
  Dim count = ctx.new_symbol("nonzero");
  if (const Tensor* t = ctx.input_const(0)) {
    int64_t n = 0;
    for (int64_t i = 0; i < t->numel(); ++i) n += read_double(*t, i) != 0;
    count = Dim(n);
  }
  ctx.set_output(0, DataType::Int64, SymShape{rank, count});
}

}  // namespace

void register_constant_schemas(SchemaRegistry& r) {
  r.add(make_schema("Constant", 0, 0, 1, 1, 1, infer_constant));
  r.add(make_schema("ConstantOfShape", 1, 1, 1, 1, 9, infer_constant_of_shape));
  r.add(make_schema("Shape", 1, 1, 1, 1, 1, infer_shape));
  r.add(make_schema("Size", 1, 1, 1, 1, 1, infer_size));
  r.add(make_schema("Range", 3, 3, 1, 1, 11, infer_range));
  r.add(make_schema("EyeLike", 1, 1, 1, 1, 9, infer_eye_like));
  r.add(make_schema("NonZero", 1, 1, 1, 1, 9, infer_non_zero));
}

}  // namespace kiln::ir::tensor_ops
