// Schemas of the ops kiln's fusion passes create, in the domain "com.kiln".
// None comes from a model file; each is an ONNX op (or chain) plus a last
// activation (attributes in fused_attrs.h), computed in this order:
//
//   FusedConv(X, W, [B], [Z])  Y = act(Conv(X, W, B) + Z)
//       Conv's attributes. Z (optional) has Y's shape: the residual, added
//       before the activation. Y may be planned over Z (in place).
//   FusedConvDw(X, W, [B], Wdw, [Bdw])
//                              Y = dw_act(DwConv(act(Conv(X, W, B)), Wdw, Bdw))
//       A 1x1 unit-stride convolution, then a depthwise 3x3 one (group = M,
//       pads 1, strides `dw_strides`), its activation in dw_activation*: a
//       MobileNet block's expansion and depthwise stages, which oneDNN runs
//       as one primitive without writing the expanded tensor to memory.
//   FusedConvPool(X, W, [B])   Y = MaxPool(act(Conv(X, W, B)))
//       Conv's attributes, then the 2-D MaxPool's as pool_kernel_shape,
//       pool_strides and pool_pads (explicit; no dilations, ceil_mode 0, no
//       Indices): an image network's stem, whose convolution output is
//       written and read again only to be pooled 4:1 (passes/fuse_conv_pool.cpp).
//       X may be float32 with 16-bit W and B (the Cast of a 16-bit engine's
//       float32 input, absorbed): X is rounded to W's dtype as it is read,
//       and Y has W's dtype.
//   FusedConvPair(X, W, [B], X2, W2, [B2])
//                              Y = act(Conv(X, W, B) + Conv(X2, W2, B2))
//       Conv's attributes for the first convolution, and as z_strides,
//       z_pads, z_dilations, z_group, z_auto_pad, z_kernel_shape for the
//       second; both outputs have Y's shape. A ResNet block's last 1x1
//       convolution and its projection shortcut (passes/fuse_conv_pair.cpp):
//       one GEMM over both inputs' channels never writes the shortcut.
//   FusedGemm(A, B, [C])       Y = act(Gemm(A, B, C))
//       Gemm's attributes (alpha, beta, transA, transB).
//   FusedMatMul(A, B, [bias])  Y = act(MatMul(A, B) + bias)
//       bias (optional) is 1-D with one value per column of Y.
//   Gelu(X)                    ONNX-20 Gelu at any opset
//   Attention(Q, K, V)         ONNX-23 Attention at any opset (4-D Q, K, V;
//       its scale attribute; no mask, cache or causal inputs); or, with
//       kiln.views, Q, K, V and Y in place in larger tensors
//       (ir/attention_views.h)
//   SkipLayerNormalization(A, B, Scale, [Bias]) -> Y, [Sum]
//                              Sum = A + B (in A's dtype), Y = LayerNorm(Sum)
//       LayerNormalization's axis and epsilon; A and B of one shape; no
//       Mean/InvStdDev outputs. A transformer's residual add and the norm
//       after it.
//
// Shapes and dtypes are inferred by the ONNX op's own schema, so a fused node
// promises exactly the shape the unfused chain did.
#include <algorithm>
#include <optional>
#include <string>

#include "ir/attention_views.h"
#include "ir/op_schema.h"
#include "ir/ops/families.h"
#include "ir/ops/fused_attrs.h"
#include "ir/ops/nn_attrs.h"
#include "ir/ops/nn_schema.h"
#include "kiln/error.h"

namespace kiln::ir {

bool activation_from_name(const std::string& op, Activation* out) {
  static const std::pair<const char*, Activation> k_names[] = {
      {"Relu", Activation::Relu},           {"LeakyRelu", Activation::LeakyRelu}, {"Clip", Activation::Clip},
      {"HardSwish", Activation::HardSwish}, {"HardSigmoid", Activation::HardSigmoid},
      {"Sigmoid", Activation::Sigmoid},     {"Tanh", Activation::Tanh},           {"Elu", Activation::Elu},
      {"Gelu", Activation::Gelu}};
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
    case Activation::Gelu: return "Gelu";
  }
  return "";
}

FusedActivation read_activation(const Node& node, const std::string& prefix) {
  FusedActivation a;
  const std::string name = node.attr_s(prefix + "activation", "");
  if (!activation_from_name(name, &a.kind))
    throw Error(ErrorCode::InvalidModel, node.label() + ": unknown fused activation '" + name + "'");
  a.alpha = node.attr_f(prefix + "activation_alpha", 0.f);
  a.beta = node.attr_f(prefix + "activation_beta", 0.f);
  return a;
}

void write_activation(Node& node, const FusedActivation& a, const std::string& prefix) {
  Attribute s;
  s.kind = Attribute::Kind::String;
  s.s = activation_name(a.kind);
  node.attrs[prefix + "activation"] = s;
  Attribute f;
  f.kind = Attribute::Kind::Float;
  f.f = a.alpha;
  node.attrs[prefix + "activation_alpha"] = f;
  f.f = a.beta;
  node.attrs[prefix + "activation_beta"] = f;
}

namespace {

Attribute ints(std::vector<int64_t> v) {
  Attribute a;
  a.kind = Attribute::Kind::Ints;
  a.ints = std::move(v);
  return a;
}

}  // namespace

std::pair<Node, Node> conv_dw_stages(const Node& fused, const Graph& graph) {
  if (!fused.has_input(0) || !fused.has_input(1) || !fused.has_input(3) || fused.outputs.size() != 1)
    throw Error(ErrorCode::InvalidModel, fused.label() + ": FusedConvDw needs X, W, Wdw and one output");
  const Value& wdw = graph.value(fused.inputs[3]);
  if (!wdw.shape || wdw.shape->empty() || !(*wdw.shape)[0].known())
    throw Error(ErrorCode::Unsupported, fused.label() + ": the depthwise weights' shape is unknown");
  const int64_t channels = (*wdw.shape)[0].value;
  Node pw;
  pw.name = fused.name + "/1x1";
  pw.domain = "com.kiln";
  pw.op_type = "FusedConv";
  pw.inputs = {fused.inputs[0], fused.inputs[1], fused.has_input(2) ? fused.inputs[2] : k_no_value};
  pw.outputs = fused.outputs;
  write_activation(pw, read_activation(fused));
  Node dw;
  dw.name = fused.name + "/dw";
  dw.domain = "com.kiln";
  dw.op_type = "FusedConv";
  dw.inputs = {fused.outputs[0], fused.inputs[3], fused.has_input(4) ? fused.inputs[4] : k_no_value};
  dw.outputs = fused.outputs;
  dw.attrs["strides"] = ints(fused.attr_ints("dw_strides"));
  dw.attrs["pads"] = ints({1, 1, 1, 1});
  Attribute group;
  group.kind = Attribute::Kind::Int;
  group.i = channels;
  dw.attrs["group"] = group;
  write_activation(dw, read_activation(fused, "dw_"));
  return {std::move(pw), std::move(dw)};
}

std::pair<Node, Node> conv_pool_stages(const Node& fused) {
  if (!fused.has_input(0) || !fused.has_input(1) || fused.outputs.size() != 1)
    throw Error(ErrorCode::InvalidModel, fused.label() + ": FusedConvPool needs X, W and one output");
  Node conv = fused;
  conv.name = fused.name + "/conv";
  conv.op_type = "FusedConv";
  conv.inputs = {fused.inputs[0], fused.inputs[1], fused.has_input(2) ? fused.inputs[2] : k_no_value};
  for (const char* a : {"pool_kernel_shape", "pool_strides", "pool_pads"}) conv.attrs.erase(a);
  Node pool;
  pool.name = fused.name + "/pool";
  pool.op_type = "MaxPool";
  pool.inputs = fused.outputs;
  pool.outputs = fused.outputs;
  pool.attrs["kernel_shape"] = ints(fused.attr_ints("pool_kernel_shape"));
  pool.attrs["strides"] = ints(fused.attr_ints("pool_strides"));
  pool.attrs["pads"] = ints(fused.attr_ints("pool_pads"));
  return {std::move(conv), std::move(pool)};
}

std::pair<Node, Node> conv_pair_stages(const Node& fused) {
  if (!fused.has_input(0) || !fused.has_input(1) || !fused.has_input(3) || !fused.has_input(4) ||
      fused.outputs.size() != 1)
    throw Error(ErrorCode::InvalidModel, fused.label() + ": FusedConvPair needs X, W, X2, W2 and one output");
  const auto in = [&](size_t i) { return fused.has_input(i) ? fused.inputs[i] : k_no_value; };
  Node z;
  z.name = fused.name + "/z";
  z.domain = "com.kiln";
  z.op_type = "FusedConv";
  z.inputs = {in(3), in(4), in(5)};
  z.outputs = fused.outputs;
  Node main = fused;
  main.name = fused.name + "/main";
  main.op_type = "FusedConv";
  main.inputs = {in(0), in(1), in(2), fused.outputs[0]};
  for (const auto& [name, a] : fused.attrs) {
    if (name.rfind("z_", 0) == 0) {
      z.attrs[name.substr(2)] = a;
      main.attrs.erase(name);
    } else if (name == "kiln_out_layout" || name == "kiln_w_layout") {
      z.attrs[name] = a;
    }
  }
  write_activation(z, {});
  // The main stage reads its Z in Y's layout.
  const std::vector<int64_t> layouts = fused.attr_ints("kiln_in_layouts");
  if (!layouts.empty()) {
    std::vector<int64_t> l = layouts;
    l.resize(6, 0);
    main.attrs["kiln_in_layouts"] = ints({l[0], l[1], l[2], fused.attr_i("kiln_out_layout", 0)});
    z.attrs["kiln_in_layouts"] = ints({l[3], l[4], l[5]});
  }
  return {std::move(z), std::move(main)};
}

namespace {

// Runs the ONNX schema of `op` on `inner` (a copy of the fused node or one
// of its stages, whose values are the fused node's, so results land there).
void infer_node_as(InferContext& ctx, Node inner, const std::string& op) {
  const OpSchema* s = SchemaRegistry::global().find("", op);
  if (!s) throw Error(ErrorCode::Internal, "fused op: no schema for " + op);
  inner.op_type = op;
  inner.domain = "";
  while (!inner.inputs.empty() && inner.inputs.back() == k_no_value) inner.inputs.pop_back();
  InferContext inner_ctx(const_cast<Graph&>(ctx.graph()), inner);
  s->infer(inner_ctx);
}

// The fused node itself with `inputs` and `outputs`.
void infer_as(InferContext& ctx, const std::string& op, std::vector<ValueId> inputs, std::vector<ValueId> outputs) {
  Node inner = ctx.node();
  inner.inputs = std::move(inputs);
  inner.outputs = std::move(outputs);
  infer_node_as(ctx, std::move(inner), op);
}

// The same with the node's first `n_inputs` inputs and all its outputs.
void infer_as(InferContext& ctx, const std::string& op, size_t n_inputs) {
  const std::vector<ValueId>& in = ctx.node().inputs;
  infer_as(ctx, op, {in.begin(), in.begin() + static_cast<std::ptrdiff_t>(std::min(n_inputs, in.size()))},
           ctx.node().outputs);
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

// Stage 1 as Conv (1x1, unit stride) into Y's value, then the depthwise 3x3
// stage's spatial dims: (d + 2 - 3) / s + 1.
void infer_fused_conv_dw(InferContext& ctx) {
  if (ctx.num_inputs() < 4 || ctx.num_inputs() > 5 || !ctx.has_input(0) || !ctx.has_input(1) || !ctx.has_input(3))
    ctx.fail("expects X, W, [B], Wdw, [Bdw]");
  if (ctx.num_outputs() != 1) ctx.fail("expects 1 output");
  read_activation(ctx.node());
  read_activation(ctx.node(), "dw_");
  const std::vector<int64_t> s = ctx.node().attr_ints("dw_strides");
  if (s.size() != 2 || s[0] < 1 || s[0] != s[1]) ctx.fail("dw_strides must hold two equal strides >= 1");
  const auto& w = ctx.input_shape(1);
  if (w && (w->size() != 4 || !((*w)[2] == Dim(1)) || !((*w)[3] == Dim(1))))
    ctx.fail("W " + sym_str(*w) + " must be [M,C,1,1]");
  if (ctx.node().attr_i("group", 1) != 1 || !ctx.node().attr_ints("strides").empty() ||
      !ctx.node().attr_ints("pads").empty())
    ctx.fail("the 1x1 stage takes no group, strides or pads");
  infer_as(ctx, "Conv", 3);
  const std::optional<SymShape> y1 = output_shape(ctx);
  if (!y1) return;
  if (y1->size() != 4) ctx.fail("is 2-D only");
  const auto& wdw = ctx.input_shape(3);
  if (wdw && (wdw->size() != 4 || !((*wdw)[0] == (*y1)[1]) || !((*wdw)[1] == Dim(1)) || !((*wdw)[2] == Dim(3)) ||
              !((*wdw)[3] == Dim(3))))
    ctx.fail("Wdw " + sym_str(*wdw) + " must be [M,1,3,3] for M = " + sym_str(*y1) + "[1]");
  if (ctx.has_input(4)) {
    const auto& bdw = ctx.input_shape(4);
    if (bdw && (bdw->size() != 1 || !((*bdw)[0] == (*y1)[1])))
      ctx.fail("Bdw " + sym_str(*bdw) + " must be [M] for M = " + sym_str(*y1) + "[1]");
  }
  SymShape y = *y1;
  for (size_t i = 0; i < 2; ++i) {
    Dim& d = y[i + 2];
    if (d.known()) d = Dim((d.value + 2 - 3) / s[i] + 1);
    else if (s[i] != 1) d = Dim();
  }
  ctx.set_output(0, ctx.input_dtype(0), y);
}

// A float32 X with 16-bit W (the model's input, its Cast absorbed): Conv's
// checks and output shape without its one-dtype rule.
std::optional<SymShape> conv_shape_of_float_x(InferContext& ctx) {
  const auto& xs = ctx.input_shape(0);
  const auto& ws = ctx.input_shape(1);
  if (!xs || !ws) return std::nullopt;
  if (xs->size() != 4 || ws->size() != 4) ctx.fail("a float32 X needs 4-D X and W");
  if (ctx.node().attr_i("group", 1) != 1) ctx.fail("a float32 X needs group 1");
  unify_dim(ctx, (*xs)[1], (*ws)[1], "X channels vs W dim 1");
  if (ctx.has_input(2)) {
    require_same_dtype(ctx, 1, 2);
    require_vector(ctx, 2, (*ws)[0], "bias B, one value per output channel");
  }
  std::vector<int64_t> kernel(2, -1);
  for (size_t i = 0; i < 2; ++i)
    if ((*ws)[i + 2].known()) kernel[i] = (*ws)[i + 2].value;
  Window w = read_window(ctx.node(), 2, kernel, false);  // kernel_shape where W's dims are unknown
  SymShape y{(*xs)[0], (*ws)[0]};
  for (size_t i = 0; i < 2; ++i)
    y.push_back((*xs)[i + 2].known() && w.kernel[i] >= 0 ? Dim(window_out_dim(ctx.node(), w, i, (*xs)[i + 2].value))
                                                          : ctx.new_symbol("out" + std::to_string(i)));
  return y;
}

// The Conv stage's shape (into Y's value), then the pool's spatial dims. Y
// has W's dtype.
void infer_fused_conv_pool(InferContext& ctx) {
  check_arity(ctx, 2, 3);
  // The pool's window as MaxPool's own (ir/ops/nn_attrs.h), from its stage;
  // a fused pool also has its pads inside its kernel.
  const Node pool = conv_pool_stages(ctx.node()).second;
  Window w = read_window(pool, 2, {}, true);
  for (size_t i = 0; i < 2; ++i)
    if (w.pads[i] >= w.kernel[i] || w.pads[i + 2] >= w.kernel[i])
      ctx.fail("pool_pads must be smaller than pool_kernel_shape");
  const DataType xt = ctx.input_dtype(0), wt = ctx.input_dtype(1);
  std::optional<SymShape> y1;
  if (xt == DataType::Float32 && (wt == DataType::Float16 || wt == DataType::BFloat16)) {
    y1 = conv_shape_of_float_x(ctx);
  } else {
    infer_as(ctx, "Conv", 3);
    y1 = output_shape(ctx);
  }
  if (!y1) return ctx.set_output(0, wt, std::nullopt);
  if (y1->size() != 4) ctx.fail("is 2-D only");
  SymShape y = *y1;
  for (size_t i = 0; i < 2; ++i)
    if (y[i + 2].known()) y[i + 2] = Dim(window_out_dim(pool, w, i, y[i + 2].value));
  ctx.set_output(0, wt, y);
}

// Each stage's Conv schema (as FusedConv: Z's dtype and shape checks), the
// Z stage's first: both into Y's value, and their shapes must agree.
void infer_fused_conv_pair(InferContext& ctx) {
  if (ctx.num_inputs() < 5 || ctx.num_inputs() > 6 || !ctx.has_input(0) || !ctx.has_input(1) || !ctx.has_input(3) ||
      !ctx.has_input(4))
    ctx.fail("expects X, W, [B], X2, W2, [B2]");
  if (ctx.num_outputs() != 1) ctx.fail("expects 1 output");
  read_activation(ctx.node());
  if (ctx.input_dtype(3) != ctx.input_dtype(0)) ctx.fail("X2 must have the dtype of X");
  const auto [z, main] = conv_pair_stages(ctx.node());
  const auto conv_of = [](const Node& stage) {
    Node n = stage;
    n.attrs.erase("activation");
    n.attrs.erase("activation_alpha");
    n.attrs.erase("activation_beta");
    n.inputs.resize(3);
    return n;
  };
  infer_node_as(ctx, conv_of(z), "Conv");
  const std::optional<SymShape> zs = output_shape(ctx);
  infer_node_as(ctx, conv_of(main), "Conv");
  const auto& y = output_shape(ctx);
  if (zs && y && *zs != *y)
    ctx.fail("the two convolutions' outputs differ: " + sym_str(*y) + " and " + sym_str(*zs) + " (X2's)");
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

// com.kiln Gelu (passes/fuse_gelu.cpp): ONNX-20 Gelu for any opset.
void infer_kiln_gelu(InferContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  if (dt != DataType::Float32 && dt != DataType::Float16 && dt != DataType::BFloat16 && dt != DataType::Float64)
    ctx.fail("X must be a float tensor");
  const std::string approx = ctx.node().attr_s("approximate", "none");
  if (approx != "none" && approx != "tanh") ctx.fail("approximate must be 'none' or 'tanh', got '" + approx + "'");
  ctx.set_output(0, dt, ctx.input_shape(0));
}

// com.kiln SkipLayerNormalization (passes/fuse_skip_layer_norm.cpp):
// Y = LayerNormalization(A + B, Scale[, Bias]) with axis and epsilon, and
// optionally Sum = A + B (the residual stream the next block adds to). A and
// B have one shape and dtype; Sum is computed in that dtype, as the Add was.
void infer_skip_layer_norm(InferContext& ctx) {
  if (ctx.num_inputs() < 3 || ctx.num_inputs() > 4 || !ctx.has_input(0) || !ctx.has_input(1) || !ctx.has_input(2))
    ctx.fail("expects A, B, Scale, [Bias]");
  if (ctx.num_outputs() < 1 || ctx.num_outputs() > 2) ctx.fail("expects Y and an optional Sum");
  if (ctx.input_dtype(1) != ctx.input_dtype(0)) ctx.fail("B must have the dtype of A");
  const auto& a = ctx.input_shape(0);
  const auto& b = ctx.input_shape(1);
  if (a && b && *a != *b) ctx.fail("B " + sym_str(*b) + " must have the shape of A " + sym_str(*a));
  const std::vector<ValueId>& in = ctx.node().inputs;
  infer_as(ctx, "LayerNormalization", {in[0], in[2], ctx.has_input(3) ? in[3] : k_no_value}, {ctx.node().outputs[0]});
  if (ctx.has_output(1)) ctx.set_output(1, ctx.input_dtype(0), a);
}

// com.kiln Attention (passes/fuse_attention.cpp): the ONNX-23 Attention of
// Q, K, V at any opset.
// With kiln.views (ir/attention_views.h) the inputs are the tensors Q, K and
// V are views of, and the output has kiln.y_shape.
void infer_kiln_attention(InferContext& ctx) {
  if (ctx.num_inputs() != 3 || ctx.num_outputs() != 1) ctx.fail("expects Q, K, V and one output");
  const std::optional<AttentionViews> views = attention_views(ctx.node());
  if (!views) return infer_attention(ctx);
  require_float(ctx, 0);
  require_same_dtype(ctx, 0, 1);
  require_same_dtype(ctx, 0, 2);
  int64_t numel[3];
  for (size_t i = 0; i < 3; ++i) {
    const auto& s = ctx.input_shape(i);
    numel[i] = s && shape_known(*s) ? shape_numel(to_shape(*s)) : INT64_MAX;
  }
  check_view_extents(ctx.node(), *views, numel[0], numel[1], numel[2]);
  ctx.set_output(0, ctx.input_dtype(0), to_sym(views->y_shape));
}

void add(SchemaRegistry& r, const std::string& op, int max_inputs, InferFn fn, int inplace_input = -1,
         int min_inputs = 2, int max_outputs = 1) {
  OpSchema s;
  s.max_outputs = max_outputs;
  s.domain = "com.kiln";
  s.op_type = op;
  s.min_inputs = min_inputs;
  s.max_inputs = max_inputs;
  s.inplace_input = inplace_input;
  s.infer = std::move(fn);
  r.add(std::move(s));
}

}  // namespace

void register_fused_schemas(SchemaRegistry& r) {
  add(r, "FusedConv", 4, infer_fused_conv, /*inplace_input=*/3);
  add(r, "FusedConvDw", 5, infer_fused_conv_dw, -1, /*min_inputs=*/4);
  add(r, "FusedConvPool", 3, infer_fused_conv_pool);
  add(r, "FusedConvPair", 6, infer_fused_conv_pair, -1, /*min_inputs=*/5);
  add(r, "FusedGemm", 3, infer_fused_gemm);
  add(r, "FusedMatMul", 3, infer_fused_matmul);
  add(r, "Gelu", 1, infer_kiln_gelu, -1, /*min_inputs=*/1);
  add(r, "Attention", 3, infer_kiln_attention, -1, /*min_inputs=*/3);
  add(r, "SkipLayerNormalization", 4, infer_skip_layer_norm, -1, /*min_inputs=*/3, /*max_outputs=*/2);
}

}  // namespace kiln::ir
