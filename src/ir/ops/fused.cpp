// Schemas of the ops kiln's fusion passes create, in the domain "com.kiln".
// None comes from a model file; each is an ONNX op (or chain) plus a last
// activation (attributes in fused_attrs.h), computed in this order:
//
//   FusedConv(X, W, [B], [Z])  Y = act(Conv(X, W, B) + Z)
//       Conv's attributes. Z (optional) has Y's shape: the residual, added
//       before the activation. Y may be planned over Z (in place).
//   FusedGemm(A, B, [C])       Y = act(Gemm(A, B, C))
//       Gemm's attributes (alpha, beta, transA, transB).
//   FusedMatMul(A, B, [bias])  Y = act(MatMul(A, B) + bias)
//       bias (optional) is 1-D with one value per column of Y.
//
// Shapes and dtypes are inferred by the ONNX op's own schema, so a fused node
// promises exactly the shape the unfused chain did.
#include <string>

#include "ir/op_schema.h"
#include "ir/ops/families.h"
#include "ir/ops/fused_attrs.h"
#include "kiln/error.h"

namespace kiln::ir {

bool activation_from_name(const std::string& op, Activation* out) {
  static const std::pair<const char*, Activation> k_names[] = {
      {"Relu", Activation::Relu},           {"LeakyRelu", Activation::LeakyRelu}, {"Clip", Activation::Clip},
      {"HardSwish", Activation::HardSwish}, {"HardSigmoid", Activation::HardSigmoid},
      {"Sigmoid", Activation::Sigmoid},     {"Tanh", Activation::Tanh},           {"Elu", Activation::Elu}};
  if (op.empty()) { *out = Activation::None; return true; }
  for (const auto& [name, kind] : k_names)
    if (op == name) { *out = kind; return true; }
  return false;
}

std::string activation_name(Activation a) {
  switch (a) {
    case Activation::None: return "";
    case Activation::Relu: return "Relu";
    case Activation::LeakyRelu: return "LeakyRelu";
    case Activation::Clip: return "Clip";
    case Activation::HardSwish: return "HardSwish";
    case Activation::HardSigmoid: return "HardSigmoid";
    case Activation::Sigmoid: return "Sigmoid";
    case Activation::Tanh: return "Tanh";
    case Activation::Elu: return "Elu";
  }
  return "";
}

FusedActivation read_activation(const Node& node) {
  FusedActivation a;
  const std::string name = node.attr_s("activation", "");
  if (!activation_from_name(name, &a.kind))
    throw Error(ErrorCode::InvalidModel, node.label() + ": unknown fused activation '" + name + "'");
  a.alpha = node.attr_f("activation_alpha", 0.f);
  a.beta = node.attr_f("activation_beta", 0.f);
  return a;
}

void write_activation(Node& node, const FusedActivation& a) {
  Attribute s;
  s.kind = Attribute::Kind::String;
  s.s = activation_name(a.kind);
  node.attrs["activation"] = s;
  Attribute f;
  f.kind = Attribute::Kind::Float;
  f.f = a.alpha;
  node.attrs["activation_alpha"] = f;
  f.f = a.beta;
  node.attrs["activation_beta"] = f;
}

namespace {

// Runs the ONNX schema of `op` on a copy of the node that keeps its first
// `n_inputs` inputs (the outputs are the same values, so results land there).
void infer_as(InferContext& ctx, const std::string& op, size_t n_inputs) {
  const OpSchema* s = SchemaRegistry::global().find("", op);
  if (!s) throw Error(ErrorCode::Internal, "fused op: no schema for " + op);
  Node inner = ctx.node();
  inner.op_type = op;
  inner.domain = "";
  if (inner.inputs.size() > n_inputs) inner.inputs.resize(n_inputs);
  while (!inner.inputs.empty() && inner.inputs.back() == k_no_value) inner.inputs.pop_back();
  InferContext inner_ctx(const_cast<Graph&>(ctx.graph()), inner);
  s->infer(inner_ctx);
}

void check_arity(InferContext& ctx, size_t lo, size_t hi) {
  if (ctx.num_inputs() < lo || ctx.num_inputs() > hi)
    ctx.fail("expects " + std::to_string(lo) + ".." + std::to_string(hi) + " inputs, got " +
             std::to_string(ctx.num_inputs()));
  for (size_t i = 0; i < lo; ++i)
    if (!ctx.has_input(i)) ctx.fail("required input " + std::to_string(i) + " is missing");
  if (ctx.num_outputs() != 1) ctx.fail("expects 1 output");
  read_activation(ctx.node());  // validates the name
}

const std::optional<SymShape>& output_shape(const InferContext& ctx) {
  return ctx.graph().value(ctx.node().outputs[0]).shape;
}

void infer_fused_conv(InferContext& ctx) {
  check_arity(ctx, 2, 4);
  infer_as(ctx, "Conv", 3);
  if (!ctx.has_input(3)) return;
  if (ctx.input_dtype(3) != ctx.input_dtype(0)) ctx.fail("Z must have the dtype of X");
  const auto& z = ctx.input_shape(3);
  const auto& y = output_shape(ctx);
  if (z && y && *z != *y) ctx.fail("Z " + sym_str(*z) + " must have the output's shape " + sym_str(*y));
}

void infer_fused_gemm(InferContext& ctx) {
  check_arity(ctx, 2, 3);
  infer_as(ctx, "Gemm", 3);
}

void infer_fused_matmul(InferContext& ctx) {
  check_arity(ctx, 2, 3);
  infer_as(ctx, "MatMul", 2);
  if (!ctx.has_input(2)) return;
  if (ctx.input_dtype(2) != ctx.input_dtype(0)) ctx.fail("bias must have the dtype of A");
  const auto& b = ctx.input_shape(2);
  const auto& y = output_shape(ctx);
  if (b && (b->size() != 1 || (y && !y->empty() && (*b)[0].known() && y->back().known() &&
                               (*b)[0].value != y->back().value)))
    ctx.fail("bias " + sym_str(*b) + " must be 1-D with one value per output column");
}

void add(SchemaRegistry& r, const std::string& op, int max_inputs, InferFn fn, int inplace_input = -1) {
  OpSchema s;
  s.domain = "com.kiln";
  s.op_type = op;
  s.min_inputs = 2;
  s.max_inputs = max_inputs;
  s.inplace_input = inplace_input;
  s.infer = std::move(fn);
  r.add(std::move(s));
}

}  // namespace

void register_fused_schemas(SchemaRegistry& r) {
  add(r, "FusedConv", 4, infer_fused_conv, /*inplace_input=*/3);
  add(r, "FusedGemm", 3, infer_fused_gemm);
  add(r, "FusedMatMul", 3, infer_fused_matmul);
}

}  // namespace kiln::ir
