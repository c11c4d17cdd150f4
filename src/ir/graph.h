// kiln's intermediate representation: a Graph of Nodes reading and writing
// Values. Values and nodes are addressed by index (ValueId/NodeId) so a Graph is
// a plain value type: copying it (to specialize for an input shape, say) is a
// deep copy with no pointer fix-up. Constant data lives on the Value.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "kiln/tensor.h"

namespace kiln::ir {

using ValueId = int32_t;
using NodeId = int32_t;
constexpr ValueId k_no_value = -1;  // an omitted optional input/output

// One dimension: a known size, or a symbol ("batch", or "" for anonymous).
struct Dim {
  int64_t value = -1;  // >= 0 when known
  std::string symbol;

  Dim() = default;
  Dim(int64_t v) : value(v) {}  // NOLINT: implicit from a size is the common case
  static Dim sym(std::string s) { Dim d; d.symbol = std::move(s); return d; }
  bool known() const { return value >= 0; }
  bool operator==(const Dim& o) const { return value == o.value && (known() || symbol == o.symbol); }
};
using SymShape = std::vector<Dim>;

bool shape_known(const SymShape& s);
Shape to_shape(const SymShape& s);  // requires shape_known
SymShape to_sym(const Shape& s);
std::string sym_str(const SymShape& s);  // "[batch,3,224,224]"

struct Value {
  std::string name;
  DataType dtype = DataType::Undefined;
  std::optional<SymShape> shape;  // nullopt: rank unknown
  std::optional<Tensor> constant;  // set for initializers and folded values
};

class Graph;

struct Attribute {
  enum class Kind : int32_t { Int, Float, String, Ints, Floats, Strings, Tensor, Graph };
  Kind kind = Kind::Int;
  int64_t i = 0;
  float f = 0.f;
  std::string s;
  std::vector<int64_t> ints;
  std::vector<float> floats;
  std::vector<std::string> strings;
  std::optional<kiln::Tensor> t;
  std::shared_ptr<Graph> g;  // subgraphs: If branches (run by the If kernel); Loop/Scan bodies are not run
};
std::string_view attr_kind_name(Attribute::Kind k);

struct Node {
  std::string name;
  std::string op_type;
  std::string domain;  // "" is the default ONNX domain
  std::vector<ValueId> inputs;   // k_no_value for omitted optional inputs
  std::vector<ValueId> outputs;  // k_no_value for omitted optional outputs
  std::map<std::string, Attribute> attrs;

  bool has_input(size_t i) const { return i < inputs.size() && inputs[i] != k_no_value; }
  // Attribute readers: `fallback` when absent; kiln::Error(InvalidModel) naming the
  // node when present with the wrong kind.
  int64_t attr_i(const std::string& key, int64_t fallback) const;
  float attr_f(const std::string& key, float fallback) const;
  std::string attr_s(const std::string& key, const std::string& fallback) const;
  std::vector<int64_t> attr_ints(const std::string& key, std::vector<int64_t> fallback = {}) const;
  std::vector<float> attr_floats(const std::string& key, std::vector<float> fallback = {}) const;
  const Attribute* attr(const std::string& key) const;
  std::string label() const;  // "node 'conv1' (Conv)" for messages
};

class Graph {
 public:
  std::string name;
  std::map<std::string, int64_t> opsets;  // domain → version ("" = ai.onnx)
  std::vector<Value> values;
  std::vector<Node> nodes;  // kept in topological order by import and passes
  std::vector<ValueId> inputs;   // runtime inputs only (initializers are not inputs)
  std::vector<ValueId> outputs;

  ValueId add_value(Value v);
  NodeId add_node(Node n);
  Value& value(ValueId id) { return values.at(static_cast<size_t>(id)); }
  const Value& value(ValueId id) const { return values.at(static_cast<size_t>(id)); }
  std::optional<ValueId> find_value(const std::string& name) const;
  int64_t opset(const std::string& domain = "") const;

  // producer[v] = node writing value v, or -1 (inputs, constants).
  std::vector<NodeId> producers() const;
  // Number of node inputs and graph outputs reading each value.
  std::vector<int32_t> use_counts() const;
  // Drops nodes whose outputs nobody uses and values nothing refers to;
  // renumbers ids. Keeps graph inputs even when unused (they are the API).
  void prune();
  // Sorts nodes topologically; throws kiln::Error(InvalidModel) on a cycle or on a
  // value read before any node writes it — unless `unbound_ok`, for the
  // builder's graphs, where a weightless engine's weights have no data yet.
  void topo_sort(bool unbound_ok = false);
};

}  // namespace kiln::ir
