#include "onnx/import.h"

#include <algorithm>
#include <optional>

#include <new>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include <onnx/onnx_pb.h>

#include "kiln/error.h"
#include "onnx/attributes.h"
#include "onnx/external_data.h"
#include "onnx/proto_io.h"
#include "onnx/tensor_proto.h"
#include "onnx/validate.h"
#include "onnx/value_info.h"

namespace kiln::onnx {

namespace {

[[noreturn]] void invalid(const std::string& what) { throw Error(ErrorCode::InvalidModel, what); }

std::string norm_domain(const std::string& d) { return d == "ai.onnx" ? "" : d; }

// Builds an ir::Graph from a parsed model. Errors carry no file name; the caller
// adds it.
class Importer {
 public:
  Importer(const ::onnx::ModelProto& model, const ExternalDataResolver& external, const ImportOptions& options)
      : m_model(model), m_graph_proto(model.graph()), m_external(external), m_options(options) {}

  // A subgraph (If branch): names it does not define resolve in `outer` and
  // become captured values, which the caller turns into explicit inputs.
  Importer(const ::onnx::ModelProto& model, const ::onnx::GraphProto& graph, const ExternalDataResolver& external,
           const ImportOptions& options, Importer* outer)
      : m_model(model), m_graph_proto(graph), m_external(external), m_options(options), m_outer(outer) {}

  // Imports a branch body; its captured outer names are in captures(), in
  // order of first use. Nodes are sorted once the caller has set the inputs.
  ir::Graph run_subgraph() {
    m_graph.opsets = m_outer->m_graph.opsets;
    m_graph.name = m_graph_proto.name();
    if (m_graph_proto.input_size() > 0)
      throw Error(ErrorCode::Unsupported, "subgraph '" + m_graph_proto.name() +
                                              "' has inputs (a Loop or Scan body); kiln runs only If branches");
    add_initializers();
    name_nodes();
    declare_node_outputs();
    add_nodes();
    apply_value_info();
    add_outputs();
    return std::move(m_graph);
  }
  const std::vector<std::string>& captures() const { return m_captures; }

  ir::Graph run() {
    read_opsets();
    m_graph.name = m_graph_proto.name();
    if (m_graph_proto.sparse_initializer_size() > 0)
      throw Error(ErrorCode::Unsupported, "sparse initializer '" + m_graph_proto.sparse_initializer(0).values().name() +
                                              "' is not supported");
    add_initializers();
    add_inputs();
    name_nodes();
    check_functions();
    declare_node_outputs();
    add_nodes();
    apply_value_info();
    add_outputs();
    m_graph.topo_sort();
    return std::move(m_graph);
  }

 private:
  void read_opsets() {
    if (m_model.ir_version() <= 0) invalid("model has no ir_version");
    for (const auto& op : m_model.opset_import()) {
      const std::string d = norm_domain(op.domain());
      if (op.version() <= 0)
        invalid("opset_import of domain '" + d + "' has version " + std::to_string(op.version()));
      auto [it, fresh] = m_graph.opsets.emplace(d, op.version());
      if (!fresh && it->second != op.version())
        invalid("opset_import lists domain '" + d + "' twice, with versions " + std::to_string(it->second) +
                " and " + std::to_string(op.version()));
    }
    if (m_graph.opsets.empty()) {
      // Before IR version 3 there was no opset_import and opset 1 was implied.
      if (m_model.ir_version() >= 3) invalid("model declares no opset_import");
      m_graph.opsets[""] = 1;
    }
  }

  // A name visible here: defined in this graph, or captured from an outer one.
  std::optional<ir::ValueId> lookup(const std::string& name) {
    if (auto it = m_ids.find(name); it != m_ids.end()) return it->second;
    if (!m_outer) return std::nullopt;
    auto outer_id = m_outer->lookup(name);
    if (!outer_id) return std::nullopt;
    const ir::Value& ov = m_outer->m_graph.value(*outer_id);
    const ir::ValueId id = new_value(name, "captured outer value '" + name + "'");
    m_graph.value(id).dtype = ov.dtype;
    m_graph.value(id).shape = ov.shape;
    m_captures.push_back(name);
    return id;
  }

  // Imports the branches of an If node and makes what they capture explicit:
  // both branches get the same inputs (the union of their captures) and the
  // node reads those outer values after its condition.
  void import_branches(ir::Node& n, const ::onnx::NodeProto& p, const std::string& label) {
    std::vector<std::pair<std::string, ir::Graph>> branches;
    std::vector<std::string> names;
    for (const auto& a : p.attribute()) {
      if (a.type() != ::onnx::AttributeProto::GRAPH) continue;
      Importer sub(m_model, a.g(), m_external, m_options, this);
      ir::Graph g;
      try {
        g = sub.run_subgraph();
      } catch (const Error& e) {
        throw e.with_context(label + " attribute '" + a.name() + "'");
      }
      for (const auto& c : sub.captures())
        if (std::find(names.begin(), names.end(), c) == names.end()) names.push_back(c);
      branches.emplace_back(a.name(), std::move(g));
    }
    for (auto& [attr_name, g] : branches) {
      for (const std::string& name : names) {
        auto id = g.find_value(name);
        if (!id) {
          ir::Value v = m_graph.value(*lookup(name));
          v.constant.reset();
          id = g.add_value(v);
        }
        g.inputs.push_back(*id);
      }
      g.topo_sort();
      n.attrs[attr_name].g = std::make_shared<ir::Graph>(std::move(g));
    }
    for (const std::string& name : names) n.inputs.push_back(*lookup(name));
  }

  ir::ValueId new_value(const std::string& name, const std::string& what) {
    auto [it, fresh] = m_ids.emplace(name, static_cast<ir::ValueId>(m_graph.values.size()));
    if (!fresh) invalid("duplicate tensor name '" + name + "': " + what + " reuses the name of " + m_origin[name]);
    m_origin[name] = what;
    ir::Value v;
    v.name = name;
    return m_graph.add_value(std::move(v));
  }

  void add_initializers() {
    for (int i = 0; i < m_graph_proto.initializer_size(); ++i) {
      const auto& t = m_graph_proto.initializer(i);
      if (t.name().empty()) invalid("initializer #" + std::to_string(i) + " has no name");
      const std::string what = "initializer '" + t.name() + "'";
      const ir::ValueId id = new_value(t.name(), what);
      Tensor data = tensor_from_proto(t, &m_external, what, !m_options.skip_external_weights);
      ir::Value& v = m_graph.value(id);
      v.dtype = data.dtype();
      v.shape = ir::to_sym(data.shape());
      v.constant = std::move(data);
    }
  }

  void add_inputs() {
    std::unordered_set<std::string> seen;
    for (const auto& in : m_graph_proto.input()) {
      const std::string what = "graph input '" + in.name() + "'";
      if (in.name().empty()) invalid("a graph input has no name");
      if (!seen.insert(in.name()).second) invalid(what + " is listed twice");
      const DeclaredType decl = declared_type(in, what);
      auto it = m_ids.find(in.name());
      if (it != m_ids.end()) {  // has an initializer: a constant, not a runtime input
        check_matches_initializer(decl, m_graph.value(it->second), what);
        continue;
      }
      if (!decl.present || decl.dtype == DataType::Undefined) invalid(what + " has no element type");
      ir::Value& v = m_graph.value(new_value(in.name(), what));
      v.dtype = decl.dtype;
      v.shape = decl.shape;
      m_graph.inputs.push_back(m_ids.at(in.name()));
    }
  }

  static void check_matches_initializer(const DeclaredType& decl, const ir::Value& v, const std::string& what) {
    if (!decl.present) return;
    if (decl.dtype != DataType::Undefined && decl.dtype != v.dtype)
      invalid(what + " is declared " + std::string(dtype_name(decl.dtype)) + " but its initializer is " +
              std::string(dtype_name(v.dtype)));
    if (!decl.shape || !v.shape) return;
    bool ok = decl.shape->size() == v.shape->size();
    for (size_t i = 0; ok && i < decl.shape->size(); ++i)
      ok = !(*decl.shape)[i].known() || (*decl.shape)[i].value == (*v.shape)[i].value;
    if (!ok)
      invalid(what + " is declared with shape " + ir::sym_str(*decl.shape) + " but its initializer has shape " +
              ir::sym_str(*v.shape));
  }

  // Every node gets a distinct-from-generated name so errors can point at it.
  void name_nodes() {
    std::unordered_set<std::string> taken;
    for (const auto& n : m_graph_proto.node()) taken.insert(n.name());
    for (int i = 0; i < m_graph_proto.node_size(); ++i) {
      const auto& n = m_graph_proto.node(i);
      std::string name = n.name();
      if (name.empty()) {
        name = (n.op_type().empty() ? "node" : n.op_type()) + "_" + std::to_string(i);
        for (int k = 1; taken.count(name); ++k) name = n.op_type() + "_" + std::to_string(i) + "_" + std::to_string(k);
        taken.insert(name);
      }
      m_node_names.push_back(std::move(name));
    }
  }

  std::string node_label(int i) const {
    return "node '" + m_node_names[static_cast<size_t>(i)] + "' (" + m_graph_proto.node(i).op_type() + ")";
  }

  void check_functions() {
    std::set<std::pair<std::string, std::string>> functions;
    for (const auto& f : m_model.functions()) functions.emplace(norm_domain(f.domain()), f.name());
    if (functions.empty()) return;
    for (int i = 0; i < m_graph_proto.node_size(); ++i) {
      const auto& n = m_graph_proto.node(i);
      if (functions.count({norm_domain(n.domain()), n.op_type()}))
        throw Error(ErrorCode::Unsupported, node_label(i) + " calls model-local function '" + n.op_type() +
                                                "' (domain '" + n.domain() + "'); model functions are not supported");
    }
  }

  void declare_node_outputs() {
    for (int i = 0; i < m_graph_proto.node_size(); ++i)
      for (const auto& out : m_graph_proto.node(i).output())
        if (!out.empty()) new_value(out, "output of " + node_label(i));
  }

  void add_nodes() {
    for (int i = 0; i < m_graph_proto.node_size(); ++i) {
      const auto& p = m_graph_proto.node(i);
      const std::string label = node_label(i);
      if (p.op_type().empty()) invalid(label + " has no op_type");
      ir::Node n;
      n.name = m_node_names[static_cast<size_t>(i)];
      n.op_type = p.op_type();
      n.domain = norm_domain(p.domain());
      for (const auto& in : p.input()) {
        if (in.empty()) { n.inputs.push_back(ir::k_no_value); continue; }
        auto id = lookup(in);
        if (!id) invalid(label + " reads tensor '" + in + "' that no node, input or initializer provides");
        n.inputs.push_back(*id);
      }
      for (const auto& out : p.output()) n.outputs.push_back(out.empty() ? ir::k_no_value : m_ids.at(out));
      // Trailing omitted optionals say nothing; dropping them keeps arity checks simple.
      while (!n.inputs.empty() && n.inputs.back() == ir::k_no_value) n.inputs.pop_back();
      while (!n.outputs.empty() && n.outputs.back() == ir::k_no_value) n.outputs.pop_back();
      for (const auto& a : p.attribute()) {
        if (a.name().empty()) invalid(label + " has an attribute with no name");
        ir::Attribute attr = attribute_from_proto(a, &m_external, label);
        if (!n.attrs.emplace(a.name(), std::move(attr)).second)
          invalid(label + " has attribute '" + a.name() + "' twice");
      }
      if (n.op_type == "If" && n.domain.empty()) import_branches(n, p, label);
      m_graph.add_node(std::move(n));
    }
  }

  // Declared types of intermediate tensors; shape inference checks them later.
  void apply_declared(const ::onnx::ValueInfoProto& info, ir::ValueId id, const std::string& what) {
    const DeclaredType decl = declared_type(info, what);
    ir::Value& v = m_graph.value(id);
    if (!decl.present || v.constant || is_graph_input(id)) return;
    v.dtype = decl.dtype;
    v.shape = decl.shape;
  }

  bool is_graph_input(ir::ValueId id) const {
    for (ir::ValueId in : m_graph.inputs)
      if (in == id) return true;
    return false;
  }

  void apply_value_info() {
    for (const auto& info : m_graph_proto.value_info()) {
      auto it = m_ids.find(info.name());
      // Entries for unknown names or of non-tensor types describe nothing kiln uses.
      if (it == m_ids.end() || !is_tensor_or_untyped(info)) continue;
      apply_declared(info, it->second, "value_info '" + info.name() + "'");
    }
  }

  void add_outputs() {
    std::unordered_set<std::string> seen;
    for (const auto& out : m_graph_proto.output()) {
      const std::string what = "graph output '" + out.name() + "'";
      if (out.name().empty()) invalid("a graph output has no name");
      if (!seen.insert(out.name()).second) invalid(what + " is listed twice");
      auto id = lookup(out.name());
      if (!id) invalid(what + " is not produced by any node, input or initializer");
      apply_declared(out, *id, what);
      m_graph.outputs.push_back(*id);
    }
    if (m_graph.outputs.empty()) invalid("graph has no outputs");
  }

  const ::onnx::ModelProto& m_model;
  const ::onnx::GraphProto& m_graph_proto;
  const ExternalDataResolver& m_external;
  const ImportOptions& m_options;
  ir::Graph m_graph;
  std::unordered_map<std::string, ir::ValueId> m_ids;
  std::unordered_map<std::string, std::string> m_origin;  // name → what declared it, for messages
  std::vector<std::string> m_node_names;
  Importer* m_outer = nullptr;
  std::vector<std::string> m_captures;
};

std::string dir_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

ir::Graph import_bytes(const std::string& bytes, const std::string& base_dir, const std::string& label,
                       const ImportOptions& options) {
  if (bytes.empty()) throw Error(ErrorCode::InvalidModel, label + ": model is empty");
  if (bytes.size() > k_max_proto_bytes)
    throw Error(ErrorCode::InvalidModel, label + ": model protobuf is larger than 2 GiB");
  ::onnx::ModelProto model;
  if (!parse_proto(bytes, model))
    throw Error(ErrorCode::InvalidModel, label + ": not a valid ONNX model (protobuf parse failed: truncated or corrupt)");
  if (!model.has_graph())
    throw Error(ErrorCode::InvalidModel, label + ": not an ONNX model (no graph)");
  const ExternalDataResolver external(base_dir);
  ir::Graph graph;
  try {
    graph = Importer(model, external, options).run();
  } catch (const Error& e) {
    throw e.with_context(label);
  } catch (const std::bad_alloc&) {
    throw Error(ErrorCode::OutOfMemory, label + ": out of memory while importing");
  }
  if (options.validate) validate(graph, label);
  return graph;
}

ir::Graph import_file(const std::string& path, const ImportOptions& options) {
  const std::string bytes = read_file_bytes(path, k_max_proto_bytes, "model");
  if (bytes.empty()) throw Error(ErrorCode::InvalidModel, "model file '" + path + "' is empty");
  return import_bytes(bytes, dir_of(path), path, options);
}

}  // namespace kiln::onnx
