// The nn op family: registration of its sub-families, the shared checks, and
// the softmax-like ops (Softmax, LogSoftmax, Hardmax).
#include "ir/op_schema.h"
#include "ir/ops/families.h"
#include "ir/ops/nn_attrs.h"
#include "ir/ops/nn_schema.h"
#include "kiln/error.h"

namespace kiln::ir {

void add_nn_schema(SchemaRegistry& r, OpSchema s) {
  InferFn inner = std::move(s.infer);
  const auto min_in = static_cast<size_t>(s.min_inputs), max_in = static_cast<size_t>(s.max_inputs);
  const auto min_out = static_cast<size_t>(s.min_outputs), max_out = static_cast<size_t>(s.max_outputs);
  const int64_t min_opset = s.min_opset;
  const std::string op = s.op_type;
  s.infer = [=](InferContext& ctx) {
    if (opset_before(ctx.opset(), min_opset))
      throw Error(ErrorCode::Unsupported, ctx.node().label() + ": opset " + std::to_string(ctx.opset()) +
                                              " form of " + op + " is not supported (kiln needs >= " +
                                              std::to_string(min_opset) + ")");
    const auto range = [](size_t lo, size_t hi) {
      return lo == hi ? std::to_string(lo) : std::to_string(lo) + ".." + std::to_string(hi);
    };
    if (ctx.num_inputs() < min_in || ctx.num_inputs() > max_in)
      ctx.fail("expects " + range(min_in, max_in) + " inputs, got " + std::to_string(ctx.num_inputs()));
    for (size_t i = 0; i < min_in; ++i)
      if (!ctx.has_input(i)) ctx.fail("required input " + std::to_string(i) + " is missing");
    if (ctx.num_outputs() < min_out || ctx.num_outputs() > max_out)
      ctx.fail("expects " + range(min_out, max_out) + " outputs, got " + std::to_string(ctx.num_outputs()));
    inner(ctx);
  };
  r.add(std::move(s));
}

std::string input_label(const InferContext& ctx, size_t i) {
  std::string s = "input " + std::to_string(i);
  if (ctx.has_input(i)) s += " ('" + ctx.graph().value(ctx.node().inputs[i]).name + "')";
  return s;
}

void require_float(const InferContext& ctx, size_t i) {
  const DataType dt = ctx.input_dtype(i);
  if (dt != DataType::Undefined && !dtype_is_float(dt))
    ctx.fail(input_label(ctx, i) + " must be a float type, got " + std::string(dtype_name(dt)));
}

void require_same_dtype(const InferContext& ctx, size_t i, size_t j) {
  const DataType a = ctx.input_dtype(i), b = ctx.input_dtype(j);
  if (a != DataType::Undefined && b != DataType::Undefined && a != b)
    ctx.fail(input_label(ctx, j) + " has dtype " + std::string(dtype_name(b)) + " but " +
             input_label(ctx, i) + " has " + std::string(dtype_name(a)));
}

void require_rank(const InferContext& ctx, size_t i, int64_t lo, int64_t hi) {
  const auto& s = ctx.input_shape(i);
  if (!s) return;
  const auto r = static_cast<int64_t>(s->size());
  if (r < lo || (hi >= 0 && r > hi)) {
    std::string want = hi == lo ? std::to_string(lo)
                       : hi < 0 ? ">= " + std::to_string(lo)
                                : std::to_string(lo) + ".." + std::to_string(hi);
    ctx.fail(input_label(ctx, i) + " must have rank " + want + ", got shape " + sym_str(*s));
  }
}

void require_vector(const InferContext& ctx, size_t i, const Dim& want, const std::string& what) {
  const auto& s = ctx.input_shape(i);
  if (!s) return;
  if (s->size() != 1 || (want.known() && (*s)[0].known() && (*s)[0].value != want.value))
    ctx.fail(input_label(ctx, i) + " (" + what + ") must have shape [" +
             (want.known() ? std::to_string(want.value) : std::string("C")) + "], got " + sym_str(*s));
}

Dim unify_dim(const InferContext& ctx, const Dim& a, const Dim& b, const std::string& what) {
  if (a.known() && b.known() && a.value != b.value)
    ctx.fail(what + ": " + std::to_string(a.value) + " vs " + std::to_string(b.value));
  if (a.known()) return a;
  if (b.known()) return b;
  return a.symbol.empty() ? b : a;
}

namespace {

// Softmax/LogSoftmax/Hardmax: same shape and dtype; the axis must be valid
// (opset < 13 default 1 and the input is coerced to 2-D there; >= 13 default -1).
void infer_softmax_like(InferContext& ctx) {
  require_float(ctx, 0);
  const auto& s = ctx.input_shape(0);
  if (s) {
    const auto rank = static_cast<int64_t>(s->size());
    const int64_t axis = ctx.node().attr_i("axis", opset_before(ctx.opset(), 13) ? 1 : -1);
    if (rank == 0) ctx.fail("input must have rank >= 1");
    normalize_axis(ctx, axis, rank);
  }
  ctx.set_output(0, ctx.input_dtype(0), s);
}

void add_softmax_like(SchemaRegistry& r, const char* op) {
  OpSchema s;
  s.op_type = op;
  s.infer = infer_softmax_like;
  add_nn_schema(r, std::move(s));
}

}  // namespace

void register_nn_schemas(SchemaRegistry& r) {
  register_conv_schemas(r);
  register_pool_schemas(r);
  register_norm_schemas(r);
  register_matmul_schemas(r);
  register_attention_schemas(r);
  add_softmax_like(r, "Softmax");
  add_softmax_like(r, "LogSoftmax");
  add_softmax_like(r, "Hardmax");
}

}  // namespace kiln::ir
