// Elementwise schemas whose inference depends on attributes, optional inputs or
// mixed dtypes: Clip, Dropout, Cast, CastLike, Identity, Pow, PRelu, Where,
// Mod, BitShift, Gelu.
#include <string>

#include "core/dispatch.h"

#include "ir/ops/elementwise_attrs.h"
#include "ir/ops/elementwise_infer.h"
#include "kiln/error.h"

namespace kiln::ir::ew {

namespace {

void infer_clip(InferContext& ctx) {
  const DataType dt = check_dtype(ctx, 0, k_numeric);
  if (ctx.opset() < 11) {
    if (ctx.num_inputs() > 1) ctx.fail("takes min/max as attributes before opset 11, not inputs");
  } else {
    for (size_t i = 1; i < ctx.num_inputs(); ++i) {
      if (!ctx.has_input(i)) continue;
      check_dtype(ctx, i, k_numeric);
      const auto& s = ctx.input_shape(i);
      if (s && shape_known(*s) && shape_numel(to_shape(*s)) != 1)
        ctx.fail(std::string(i == 1 ? "min" : "max") + " must be a scalar, got shape " + sym_str(*s));
    }
    same_dtype(ctx, {0, 1, 2});
  }
  ctx.set_output(0, dt, ctx.input_shape(0));
}

// Inference-only Dropout: output = input. training_mode (opset >= 12) known to
// be true with a ratio that is not known to be 0 cannot be run.
void infer_dropout(InferContext& ctx) {
  const DataType dt = check_dtype(ctx, 0, k_float);
  if (ctx.opset() < 12 && ctx.num_inputs() > 1) ctx.fail("takes one input before opset 12");
  if (ctx.has_input(1)) check_dtype(ctx, 1, k_float);
  if (ctx.has_input(2)) {
    check_dtype(ctx, 2, k_bool);
    const Tensor* t = ctx.input_const(2);
    if (t && t->numel() == 1 && read_int(*t, 0) != 0) {
      const Tensor* ratio = ctx.input_const(1);
      const bool zero_ratio = ctx.has_input(1) && ratio && ratio->numel() == 1 && read_double(*ratio, 0) == 0.0;
      if (!zero_ratio && (!ctx.has_input(1) || ratio))
        throw Error(ErrorCode::Unsupported,
                    ctx.node().label() + ": training_mode=true (random dropout) is not supported");
    }
  }
  ctx.set_output(0, dt, ctx.input_shape(0));
  ctx.set_output(1, ctx.opset() < 10 ? dt : DataType::Bool, ctx.input_shape(0));
}

void check_castable(const InferContext& ctx, size_t i) {
  const DataType dt = ctx.input_dtype(i);
  if (dt != DataType::Undefined && !dtype_is_supported(dt))
    throw Error(ErrorCode::Unsupported, ctx.node().label() + ": casting from dtype " +
                                            std::string(dtype_name(dt)) + " is not supported");
}

void infer_cast(InferContext& ctx) {
  check_castable(ctx, 0);
  ctx.set_output(0, cast_target(ctx.node()), ctx.input_shape(0));
}

void infer_castlike(InferContext& ctx) {
  check_castable(ctx, 0);
  const DataType to = ctx.input_dtype(1);
  if (to != DataType::Undefined && !dtype_is_supported(to))
    throw Error(ErrorCode::Unsupported, ctx.node().label() + ": casting to dtype " +
                                            std::string(dtype_name(to)) + " is not supported");
  ctx.set_output(0, to, ctx.input_shape(0));
}

void infer_identity(InferContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  if (dt != DataType::Undefined) check_dtype(ctx, 0, k_all);
  ctx.set_output(0, dt, ctx.input_shape(0));
}

// Pow: base and exponent dtypes may differ; the output takes the base's.
void infer_pow(InferContext& ctx) {
  const DataType dt = check_dtype(ctx, 0, k_numeric);
  check_dtype(ctx, 1, k_numeric);
  ctx.set_output(0, dt, binary_shape(ctx));
}

// PRelu: slope broadcasts onto X in one direction; the output has X's shape.
void infer_prelu(InferContext& ctx) {
  check_dtype(ctx, 0, k_numeric);
  check_dtype(ctx, 1, k_numeric);
  const DataType dt = same_dtype(ctx, {0, 1});
  const auto& x = ctx.input_shape(0);
  const auto& s = ctx.input_shape(1);
  if (x && s) {
    const SymShape out = broadcast_shapes(ctx, {*x, *s});
    bool ok = out.size() == x->size();
    for (size_t i = 0; ok && i < out.size(); ++i)
      ok = !(*x)[i].known() || !out[i].known() || (*x)[i].value == out[i].value;
    if (!ok) ctx.fail("slope shape " + sym_str(*s) + " does not broadcast to X's shape " + sym_str(*x));
  }
  ctx.set_output(0, dt, x);
}

void infer_where(InferContext& ctx) {
  check_dtype(ctx, 0, k_bool);
  check_dtype(ctx, 1, k_all);
  check_dtype(ctx, 2, k_all);
  ctx.set_output(0, same_dtype(ctx, {1, 2}), broadcast_inputs(ctx, {0, 1, 2}));
}

void infer_mod(InferContext& ctx) {
  check_dtype(ctx, 0, k_numeric);
  check_dtype(ctx, 1, k_numeric);
  const DataType dt = same_dtype(ctx, {0, 1});
  if (dtype_is_float(dt) && ctx.node().attr_i("fmod", 0) == 0)
    ctx.fail("fmod must be 1 for floating-point inputs");
  ctx.set_output(0, dt, binary_shape(ctx));
}

void infer_bitshift(InferContext& ctx) {
  const std::string dir = ctx.node().attr_s("direction", "");
  if (dir != "LEFT" && dir != "RIGHT") ctx.fail("direction must be LEFT or RIGHT, got '" + dir + "'");
  check_dtype(ctx, 0, k_uint);
  check_dtype(ctx, 1, k_uint);
  ctx.set_output(0, same_dtype(ctx, {0, 1}), binary_shape(ctx));
}

void infer_gelu(InferContext& ctx) {
  const std::string approx = ctx.node().attr_s("approximate", "none");
  if (approx != "none" && approx != "tanh")
    ctx.fail("approximate must be 'none' or 'tanh', got '" + approx + "'");
  ctx.set_output(0, check_dtype(ctx, 0, k_float), ctx.input_shape(0));
}

}  // namespace

void register_elementwise_special(SchemaRegistry& r) {
  add_schema(r, "Clip", 1, 3, 1, infer_clip);
  add_schema(r, "Dropout", 1, 3, 1, infer_dropout, 1, 2);
  add_schema(r, "Cast", 1, 1, 1, infer_cast);
  add_schema(r, "CastLike", 2, 2, 15, infer_castlike);
  add_schema(r, "Identity", 1, 1, 1, infer_identity);
  add_schema(r, "Pow", 2, 2, 1, infer_pow);
  add_schema(r, "PRelu", 2, 2, 1, infer_prelu);
  add_schema(r, "Where", 3, 3, 9, infer_where);
  add_schema(r, "Mod", 2, 2, 10, infer_mod);
  add_schema(r, "BitShift", 2, 2, 11, infer_bitshift);
  add_schema(r, "Gelu", 1, 1, 20, infer_gelu);
}

}  // namespace kiln::ir::ew
