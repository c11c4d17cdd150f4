#include "ir/graph.h"

#include <algorithm>
#include <queue>

#include "kiln/error.h"

namespace kiln::ir {

bool shape_known(const SymShape& s) {
  return std::all_of(s.begin(), s.end(), [](const Dim& d) { return d.known(); });
}

Shape to_shape(const SymShape& s) {
  Shape out;
  out.reserve(s.size());
  for (const Dim& d : s) {
    if (!d.known()) throw Error(ErrorCode::Internal, "to_shape on symbolic shape " + sym_str(s));
    out.push_back(d.value);
  }
  return out;
}

SymShape to_sym(const Shape& s) { return SymShape(s.begin(), s.end()); }

std::string sym_str(const SymShape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += ",";
    out += s[i].known() ? std::to_string(s[i].value) : (s[i].symbol.empty() ? "?" : s[i].symbol);
  }
  return out + "]";
}

std::string_view attr_kind_name(Attribute::Kind k) {
  switch (k) {
    case Attribute::Kind::Int: return "int";
    case Attribute::Kind::Float: return "float";
    case Attribute::Kind::String: return "string";
    case Attribute::Kind::Ints: return "ints";
    case Attribute::Kind::Floats: return "floats";
    case Attribute::Kind::Strings: return "strings";
    case Attribute::Kind::Tensor: return "tensor";
    case Attribute::Kind::Graph: return "graph";
  }
  return "?";
}

const Attribute* Node::attr(const std::string& key) const {
  auto it = attrs.find(key);
  return it == attrs.end() ? nullptr : &it->second;
}

std::string Node::label() const {
  return "node '" + name + "' (" + op_type + ")";
}

namespace {
const Attribute* typed(const Node& n, const std::string& key, Attribute::Kind want) {
  const Attribute* a = n.attr(key);
  if (a && a->kind != want)
    throw Error(ErrorCode::InvalidModel, n.label() + ": attribute '" + key + "' must be " +
                                             std::string(attr_kind_name(want)) + ", got " +
                                             std::string(attr_kind_name(a->kind)));
  return a;
}
}  // namespace

int64_t Node::attr_i(const std::string& key, int64_t fallback) const {
  const Attribute* a = typed(*this, key, Attribute::Kind::Int);
  return a ? a->i : fallback;
}
float Node::attr_f(const std::string& key, float fallback) const {
  const Attribute* a = typed(*this, key, Attribute::Kind::Float);
  return a ? a->f : fallback;
}
std::string Node::attr_s(const std::string& key, const std::string& fallback) const {
  const Attribute* a = typed(*this, key, Attribute::Kind::String);
  return a ? a->s : fallback;
}
std::vector<int64_t> Node::attr_ints(const std::string& key, std::vector<int64_t> fallback) const {
  const Attribute* a = typed(*this, key, Attribute::Kind::Ints);
  return a ? a->ints : fallback;
}
std::vector<float> Node::attr_floats(const std::string& key, std::vector<float> fallback) const {
  const Attribute* a = typed(*this, key, Attribute::Kind::Floats);
  return a ? a->floats : fallback;
}

ValueId Graph::add_value(Value v) {
  values.push_back(std::move(v));
  return static_cast<ValueId>(values.size() - 1);
}

NodeId Graph::add_node(Node n) {
  nodes.push_back(std::move(n));
  return static_cast<NodeId>(nodes.size() - 1);
}

std::optional<ValueId> Graph::find_value(const std::string& n) const {
  for (size_t i = 0; i < values.size(); ++i)
    if (values[i].name == n) return static_cast<ValueId>(i);
  return std::nullopt;
}

int64_t Graph::opset(const std::string& domain) const {
  auto it = opsets.find(domain == "ai.onnx" ? "" : domain);
  return it == opsets.end() ? 0 : it->second;
}

std::vector<NodeId> Graph::producers() const {
  std::vector<NodeId> prod(values.size(), -1);
  for (size_t n = 0; n < nodes.size(); ++n)
    for (ValueId v : nodes[n].outputs)
      if (v != k_no_value) prod[static_cast<size_t>(v)] = static_cast<NodeId>(n);
  return prod;
}

std::vector<int32_t> Graph::use_counts() const {
  std::vector<int32_t> uses(values.size(), 0);
  for (const Node& n : nodes)
    for (ValueId v : n.inputs)
      if (v != k_no_value) ++uses[static_cast<size_t>(v)];
  for (ValueId v : outputs) ++uses[static_cast<size_t>(v)];
  return uses;
}

void Graph::prune() {
  // Mark live nodes backwards from the outputs.
  std::vector<NodeId> prod = producers();
  std::vector<bool> live_node(nodes.size(), false), live_value(values.size(), false);
  std::vector<ValueId> stack(outputs.begin(), outputs.end());
  for (ValueId v : inputs) live_value[static_cast<size_t>(v)] = true;
  while (!stack.empty()) {
    ValueId v = stack.back();
    stack.pop_back();
    if (v == k_no_value) continue;
    NodeId n = prod[static_cast<size_t>(v)];
    live_value[static_cast<size_t>(v)] = true;
    // A constant needs no producer: folded nodes die here.
    if (n < 0 || live_node[static_cast<size_t>(n)] || values[static_cast<size_t>(v)].constant) continue;
    live_node[static_cast<size_t>(n)] = true;
    for (ValueId in : nodes[static_cast<size_t>(n)].inputs) stack.push_back(in);
  }
  // Outputs of live nodes stay (a node writes all its outputs).
  for (size_t n = 0; n < nodes.size(); ++n)
    if (live_node[n])
      for (ValueId v : nodes[n].outputs)
        if (v != k_no_value) live_value[static_cast<size_t>(v)] = true;

  std::vector<ValueId> remap(values.size(), k_no_value);
  std::vector<Value> kept_values;
  for (size_t i = 0; i < values.size(); ++i) {
    if (!live_value[i]) continue;
    remap[i] = static_cast<ValueId>(kept_values.size());
    kept_values.push_back(std::move(values[i]));
  }
  auto re = [&](ValueId v) { return v == k_no_value ? k_no_value : remap[static_cast<size_t>(v)]; };
  std::vector<Node> kept_nodes;
  for (size_t n = 0; n < nodes.size(); ++n) {
    if (!live_node[n]) continue;
    Node node = std::move(nodes[n]);
    for (ValueId& v : node.inputs) v = re(v);
    for (ValueId& v : node.outputs) v = re(v);
    kept_nodes.push_back(std::move(node));
  }
  for (ValueId& v : inputs) v = re(v);
  for (ValueId& v : outputs) v = re(v);
  values = std::move(kept_values);
  nodes = std::move(kept_nodes);
}

void Graph::topo_sort(bool unbound_ok) {
  std::vector<NodeId> prod = producers();
  const size_t n_nodes = nodes.size();
  std::vector<int32_t> pending(n_nodes, 0);
  std::vector<std::vector<NodeId>> readers(n_nodes);
  for (size_t n = 0; n < n_nodes; ++n) {
    for (ValueId v : nodes[n].inputs) {
      if (v == k_no_value) continue;
      NodeId p = prod[static_cast<size_t>(v)];
      if (p < 0) {
        const Value& val = values[static_cast<size_t>(v)];
        bool is_input = std::find(inputs.begin(), inputs.end(), v) != inputs.end();
        if (!is_input && !val.constant && !unbound_ok)
          throw Error(ErrorCode::InvalidModel, nodes[n].label() + " reads tensor '" + val.name +
                                                   "' that no node, input or initializer provides");
        continue;
      }
      ++pending[n];
      readers[static_cast<size_t>(p)].push_back(static_cast<NodeId>(n));
    }
  }
  // Kahn's algorithm; a min-queue keeps the original order among ready nodes.
  std::priority_queue<NodeId, std::vector<NodeId>, std::greater<>> ready;
  for (size_t n = 0; n < n_nodes; ++n)
    if (pending[n] == 0) ready.push(static_cast<NodeId>(n));
  std::vector<NodeId> order;
  while (!ready.empty()) {
    NodeId n = ready.top();
    ready.pop();
    order.push_back(n);
    for (NodeId r : readers[static_cast<size_t>(n)])
      if (--pending[static_cast<size_t>(r)] == 0) ready.push(r);
  }
  if (order.size() != n_nodes) {
    for (size_t n = 0; n < n_nodes; ++n)
      if (pending[n] > 0)
        throw Error(ErrorCode::InvalidModel, "graph has a cycle through " + nodes[n].label());
  }
  std::vector<Node> sorted;
  sorted.reserve(n_nodes);
  for (NodeId n : order) sorted.push_back(std::move(nodes[static_cast<size_t>(n)]));
  nodes = std::move(sorted);
}

}  // namespace kiln::ir
