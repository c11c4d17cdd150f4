#include "passes/fusion_util.h"

#include <algorithm>
#include <limits>

#include "ir/ops/shape_rules.h"

namespace kiln::passes {

Readers::Readers(const ir::Graph& g) : nodes(g.values.size()), is_output(g.values.size(), false) {
  for (size_t i = 0; i < g.nodes.size(); ++i)
    for (ir::ValueId v : g.nodes[i].inputs)
      if (v != ir::k_no_value) nodes[static_cast<size_t>(v)].push_back(static_cast<ir::NodeId>(i));
  for (ir::ValueId v : g.outputs) is_output[static_cast<size_t>(v)] = true;
}

ir::NodeId Readers::sole(ir::ValueId v) const {
  const auto& r = nodes[static_cast<size_t>(v)];
  return r.size() == 1 && !is_output[static_cast<size_t>(v)] ? r[0] : -1;
}

ir::FusedActivation absorb_activation(const ir::Graph& g, const Readers& readers, const std::vector<bool>& dead,
                                      int64_t opset, ir::ValueId& cur, std::vector<ir::NodeId>& absorbed) {
  ir::FusedActivation act;
  const ir::NodeId r = readers.sole(cur);
  if (r < 0 || dead[static_cast<size_t>(r)] || !match_activation(g, g.nodes[static_cast<size_t>(r)], opset, &act))
    return {};
  absorbed.push_back(r);
  cur = g.nodes[static_cast<size_t>(r)].outputs[0];
  return act;
}

std::vector<int64_t> transpose_perm(const ir::Node& transpose, size_t rank) {
  return ir::rules::transpose_perm(ir::rules::Fail(transpose, ErrorCode::InvalidModel), transpose.attr_ints("perm"),
                                   static_cast<int64_t>(rank));
}

ir::ValueId add_constant(ir::Graph& g, const std::string& name, Tensor t) {
  ir::Value v;
  v.name = name;
  v.dtype = t.dtype();
  v.shape = ir::to_sym(t.shape());
  v.constant = std::move(t);
  return g.add_value(std::move(v));
}

ir::ValueId add_shape_constant(ir::Graph& g, const std::string& name, const Shape& shape) {
  Tensor t = Tensor::empty(DataType::Int64, {static_cast<int64_t>(shape.size())});
  std::copy(shape.begin(), shape.end(), t.data<int64_t>());
  return add_constant(g, name, std::move(t));
}

void keep_placement(const ir::Node& from, ir::Node& to) {
  for (const char* key : {"kiln.device", "kiln.fallback"})
    if (const ir::Attribute* a = from.attr(key)) to.attrs[key] = *a;
}

bool onnx_or_kiln(const ir::Node& n) { return n.domain.empty() || n.domain == "ai.onnx" || n.domain == "com.kiln"; }

bool is_static_f32(const ir::Graph& g, ir::ValueId v) {
  const ir::Value& val = g.value(v);
  return val.dtype == DataType::Float32 && val.shape && ir::shape_known(*val.shape);
}

namespace {

// A constant float32 scalar (or one-element tensor) input, or the fallback when omitted.
bool const_scalar(const ir::Graph& g, const ir::Node& n, size_t i, float fallback, float* out) {
  if (!n.has_input(i)) { *out = fallback; return true; }
  const auto& c = g.value(n.inputs[i]).constant;
  if (!c || c->dtype() != DataType::Float32 || c->numel() != 1) return false;
  *out = c->data<float>()[0];
  return true;
}

}  // namespace

bool match_activation(const ir::Graph& g, const ir::Node& n, int64_t opset, ir::FusedActivation* out) {
  // com.kiln Gelu (passes/fuse_gelu.cpp: the erf form of older exports) too.
  const bool kiln_gelu = n.domain == "com.kiln" && n.op_type == "Gelu";
  if (!n.domain.empty() && n.domain != "ai.onnx" && !kiln_gelu) return false;
  if (n.inputs.empty() || n.inputs[0] == ir::k_no_value || n.outputs.size() != 1) return false;
  if (g.value(n.inputs[0]).dtype != DataType::Float32) return false;
  ir::FusedActivation a;
  if (!ir::activation_from_name(n.op_type, &a.kind) || a.kind == ir::Activation::None) return false;
  constexpr float k_inf = std::numeric_limits<float>::infinity();
  switch (a.kind) {
    case ir::Activation::LeakyRelu: a.alpha = n.attr_f("alpha", 0.01f); break;
    case ir::Activation::Elu: a.alpha = n.attr_f("alpha", 1.f); break;
    case ir::Activation::Gelu: {
      const std::string approx = n.attr_s("approximate", "none");
      if (approx != "none" && approx != "tanh") return false;
      a.alpha = approx == "tanh" ? 1.f : 0.f;
      if (n.inputs.size() != 1) return false;
      break;
    }
    case ir::Activation::HardSigmoid:
      a.alpha = n.attr_f("alpha", 0.2f);
      a.beta = n.attr_f("beta", 0.5f);
      break;
    case ir::Activation::Clip:
      if (opset > 0 && opset < 11) {
        a.alpha = n.attr("min") ? n.attr_f("min", 0.f) : -k_inf;
        a.beta = n.attr("max") ? n.attr_f("max", 0.f) : k_inf;
      } else if (!const_scalar(g, n, 1, -k_inf, &a.alpha) || !const_scalar(g, n, 2, k_inf, &a.beta)) {
        return false;
      }
      break;
    default:
      if (n.inputs.size() != 1) return false;
      break;
  }
  *out = a;
  return true;
}

void erase_nodes(ir::Graph& g, const std::vector<bool>& dead) {
  std::vector<ir::Node> kept;
  kept.reserve(g.nodes.size());
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (!dead[i]) kept.push_back(std::move(g.nodes[i]));
  g.nodes = std::move(kept);
}

void use_kiln_domain(ir::Graph& g) { g.opsets["com.kiln"] = 1; }

bool ints_all(const ir::Node& n, const char* name, int64_t v) {
  for (int64_t x : n.attr_ints(name))
    if (x != v) return false;
  return true;
}

ir::Attribute ints_attr(std::vector<int64_t> v) {
  ir::Attribute a;
  a.kind = ir::Attribute::Kind::Ints;
  a.ints = std::move(v);
  return a;
}

bool is_onnx(const ir::Node& n, const char* op) {
  return n.op_type == op && (n.domain.empty() || n.domain == "ai.onnx");
}

void replace_chain(ir::Graph& g, std::vector<bool>& dead, size_t first, const std::vector<ir::NodeId>& absorbed,
                   ir::Node fused) {
  dead[first] = true;
  for (ir::NodeId a : absorbed) dead[static_cast<size_t>(a)] = true;
  const size_t last = static_cast<size_t>(absorbed.back());
  dead[last] = false;
  g.nodes[last] = std::move(fused);
}

void finish_fusions(ir::Graph& g, const std::vector<bool>& dead, int fused) {
  if (fused == 0) return;
  use_kiln_domain(g);
  erase_nodes(g, dead);
  g.prune();
}

}  // namespace kiln::passes
