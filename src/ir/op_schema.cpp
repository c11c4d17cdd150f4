#include "ir/op_schema.h"

#include <algorithm>

#include "ir/ops/families.h"
#include "kiln/error.h"

namespace kiln::ir {

namespace {
const std::optional<SymShape> k_no_shape;
}

DataType InferContext::input_dtype(size_t i) const {
  return has_input(i) ? m_graph.value(m_node.inputs[i]).dtype : DataType::Undefined;
}

const std::optional<SymShape>& InferContext::input_shape(size_t i) const {
  return has_input(i) ? m_graph.value(m_node.inputs[i]).shape : k_no_shape;
}

const Tensor* InferContext::input_const(size_t i) const {
  if (!has_input(i)) return nullptr;
  const auto& c = m_graph.value(m_node.inputs[i]).constant;
  return c ? &*c : nullptr;
}

void InferContext::set_output(size_t i, DataType dtype, std::optional<SymShape> shape) {
  if (!has_output(i)) return;
  Value& v = m_graph.value(m_node.outputs[i]);
  v.dtype = dtype;
  v.shape = std::move(shape);
}

Dim InferContext::new_symbol(const std::string& hint) {
  return Dim::sym(m_node.name + ":" + hint);
}

void InferContext::fail(const std::string& what) const {
  throw Error(ErrorCode::InvalidModel, m_node.label() + ": " + what);
}

const SchemaRegistry& SchemaRegistry::global() {
  static const SchemaRegistry registry = [] {
    SchemaRegistry r;
    register_all_schemas(r);
    return r;
  }();
  return registry;
}

void SchemaRegistry::add(OpSchema schema) { m_schemas.push_back(std::move(schema)); }

const OpSchema* SchemaRegistry::find(const std::string& domain, const std::string& op_type) const {
  const std::string d = domain == "ai.onnx" ? "" : domain;
  for (const OpSchema& s : m_schemas)
    if (s.op_type == op_type && s.domain == d) return &s;
  return nullptr;
}

std::vector<std::string> SchemaRegistry::op_types() const {
  std::vector<std::string> out;
  for (const OpSchema& s : m_schemas) out.push_back(s.op_type);
  std::sort(out.begin(), out.end());
  return out;
}

void infer_node(Graph& graph, const Node& node) {
  const OpSchema* schema = SchemaRegistry::global().find(node.domain, node.op_type);
  if (!schema)
    throw Error(ErrorCode::Unsupported, node.label() + ": op is not supported by kiln");
  InferContext ctx(graph, node);
  schema->infer(ctx);
}

void infer_shapes(Graph& graph) {
  for (const Node& node : graph.nodes) infer_node(graph, node);
}

SymShape broadcast_shapes(const InferContext& ctx, const std::vector<SymShape>& shapes) {
  size_t rank = 0;
  for (const auto& s : shapes) rank = std::max(rank, s.size());
  SymShape out(rank, Dim(1));
  for (const auto& s : shapes) {
    const size_t off = rank - s.size();
    for (size_t i = 0; i < s.size(); ++i) {
      Dim& o = out[off + i];
      const Dim& d = s[i];
      if (d.known() && d.value == 1) continue;
      if (o.known() && o.value == 1) { o = d; continue; }
      if (o.known() && d.known() && o.value != d.value)
        ctx.fail("cannot broadcast shapes: dimension " + std::to_string(o.value) + " vs " +
                 std::to_string(d.value));
      if (!o.known() && d.known()) o = d;  // a symbol meeting a size must equal it
    }
  }
  return out;
}

int64_t normalize_axis(const InferContext& ctx, int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= rank)
    ctx.fail("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  return axis < 0 ? axis + rank : axis;
}

}  // namespace kiln::ir
