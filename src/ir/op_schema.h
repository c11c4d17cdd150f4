// Op schemas: what kiln knows about each ONNX op independent of any backend —
// arity, the opsets it is defined for, and shape/dtype inference. One file per op
// family under src/ir/ops/ registers its schemas; ops/families.h lists the families.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace kiln::ir {

// What shape inference sees of one node. Works on symbolic shapes at build time
// and on concrete shapes (plus input constants) when a graph is specialized.
class InferContext {
 public:
  InferContext(Graph& graph, const Node& node) : m_graph(graph), m_node(node) {}

  const Node& node() const { return m_node; }
  const Graph& graph() const { return m_graph; }
  int64_t opset() const { return m_graph.opset(m_node.domain); }
  size_t num_inputs() const { return m_node.inputs.size(); }
  size_t num_outputs() const { return m_node.outputs.size(); }
  bool has_input(size_t i) const { return m_node.has_input(i); }
  bool has_output(size_t i) const { return i < m_node.outputs.size() && m_node.outputs[i] != k_no_value; }

  DataType input_dtype(size_t i) const;
  // nullopt when the rank is unknown (or the input is omitted).
  const std::optional<SymShape>& input_shape(size_t i) const;
  // The input's constant data, when known at this point (initializer or folded).
  const Tensor* input_const(size_t i) const;

  void set_output(size_t i, DataType dtype, std::optional<SymShape> shape);
  // A fresh symbol for a data-dependent dim (NonZero's count, say).
  Dim new_symbol(const std::string& hint);

  // kiln::Error(InvalidModel) naming the node.
  [[noreturn]] void fail(const std::string& what) const;

 private:
  Graph& m_graph;
  const Node& m_node;
};

using InferFn = std::function<void(InferContext&)>;

struct OpSchema {
  std::string domain;  // "" = ai.onnx
  std::string op_type;
  int min_inputs = 1, max_inputs = 1;
  int min_outputs = 1, max_outputs = 1;
  int64_t min_opset = 1;  // oldest opset version of this op kiln accepts
  InferFn infer;
  // Output 0 may be written over this input (index; -1: never) when nothing
  // reads the input afterwards and both take the same bytes: the memory
  // planner then gives them one buffer, and every kernel of the op must be
  // correct when they alias (FusedConv's residual Z: added in place, no copy).
  int inplace_input = -1;
};

class SchemaRegistry {
 public:
  static const SchemaRegistry& global();
  void add(OpSchema schema);
  const OpSchema* find(const std::string& domain, const std::string& op_type) const;
  std::vector<std::string> op_types() const;

 private:
  std::vector<OpSchema> m_schemas;
};

// Runs shape inference over the whole graph (nodes must be in topological
// order), filling Value::dtype/shape. Errors name the node.
void infer_shapes(Graph& graph);
void infer_node(Graph& graph, const Node& node);

// ---- Helpers shared by the op families ----
// Numpy-style multidirectional broadcast of symbolic shapes; fails on mismatch.
SymShape broadcast_shapes(const InferContext& ctx, const std::vector<SymShape>& shapes);
// Normalizes a possibly negative axis against rank; fails if out of range.
int64_t normalize_axis(const InferContext& ctx, int64_t axis, int64_t rank);

}  // namespace kiln::ir
