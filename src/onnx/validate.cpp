#include "onnx/validate.h"

#include <limits>
#include <new>
#include <unordered_map>

#include "ir/op_schema.h"
#include "kiln/error.h"
#include "onnx/tensor_proto.h"

namespace kiln::onnx {

namespace {

using ir::Attribute;
using K = Attribute::Kind;

[[noreturn]] void invalid(const std::string& what) { throw Error(ErrorCode::InvalidModel, what); }
[[noreturn]] void unsupported(const std::string& what) { throw Error(ErrorCode::Unsupported, what); }

std::string tensor_label(const ir::Value& v) { return "tensor '" + v.name + "'"; }

// Attribute names whose kind is the same for every default-domain op at the
// opsets kiln accepts, so a wrong kind can be refused before inference runs.
const std::unordered_map<std::string, K>& well_known_attrs() {
  static const std::unordered_map<std::string, K> table = {
      {"axis", K::Int}, {"keepdims", K::Int}, {"group", K::Int}, {"transA", K::Int},
      {"transB", K::Int}, {"to", K::Int}, {"ceil_mode", K::Int}, {"count_include_pad", K::Int},
      {"storage_order", K::Int}, {"allowzero", K::Int}, {"noop_with_empty_axes", K::Int},
      {"select_last_index", K::Int}, {"blocksize", K::Int},
      {"axes", K::Ints}, {"kernel_shape", K::Ints}, {"strides", K::Ints}, {"dilations", K::Ints},
      {"pads", K::Ints}, {"perm", K::Ints}, {"output_padding", K::Ints}, {"output_shape", K::Ints},
      {"alpha", K::Float}, {"beta", K::Float}, {"gamma", K::Float}, {"epsilon", K::Float},
      {"momentum", K::Float}, {"lambd", K::Float},
      {"auto_pad", K::String}, {"mode", K::String}, {"coordinate_transformation_mode", K::String},
      {"nearest_mode", K::String}, {"reduction", K::String},
  };
  return table;
}

void check_attr_kind(const ir::Node& n, const std::string& key, const Attribute& a, K want) {
  if (a.kind != want)
    invalid(n.label() + ": attribute '" + key + "' must be " + std::string(ir::attr_kind_name(want)) + ", got " +
            std::string(ir::attr_kind_name(a.kind)));
}

// Constant carries its value in exactly one of several attributes.
void check_constant(const ir::Node& n) {
  static const std::unordered_map<std::string, K> forms = {
      {"value", K::Tensor}, {"value_float", K::Float}, {"value_floats", K::Floats},
      {"value_int", K::Int}, {"value_ints", K::Ints}, {"value_string", K::String},
      {"value_strings", K::Strings}};
  if (n.attrs.size() != 1) invalid(n.label() + ": Constant needs exactly one value attribute");
  const auto& [key, a] = *n.attrs.begin();
  auto it = forms.find(key);
  if (it == forms.end()) invalid(n.label() + ": Constant has unknown attribute '" + key + "'");
  check_attr_kind(n, key, a, it->second);
  if (key == "value_string" || key == "value_strings")
    unsupported(n.label() + ": string constants are not supported");
}

void check_attributes(const ir::Node& n) {
  if (n.op_type == "Constant") return check_constant(n);
  const auto& table = well_known_attrs();
  for (const auto& [key, a] : n.attrs) {
    auto it = table.find(key);
    if (it != table.end()) check_attr_kind(n, key, a, it->second);
  }
}

std::string count_range(int lo, int hi) {
  if (hi < 0 || hi >= (1 << 16)) return std::to_string(lo) + " or more";
  return lo == hi ? std::to_string(lo) : std::to_string(lo) + ".." + std::to_string(hi);
}

void check_arity(const ir::Node& n, const ir::OpSchema& s) {
  auto check = [&](const std::vector<ir::ValueId>& ids, int lo, int hi, const char* what) {
    const auto count = static_cast<int64_t>(ids.size());
    if (count < lo || (hi >= 0 && count > hi))
      invalid(n.label() + " has " + std::to_string(count) + " " + what + "s; " + n.op_type + " takes " +
              count_range(lo, hi));
    for (int i = 0; i < lo; ++i)
      if (ids[static_cast<size_t>(i)] == ir::k_no_value)
        invalid(n.label() + ": required " + what + " #" + std::to_string(i) + " is omitted");
  };
  check(n.inputs, s.min_inputs, s.max_inputs, "input");
  check(n.outputs, s.min_outputs, s.max_outputs, "output");
}

void check_opsets(const ir::Graph& g) {
  auto it = g.opsets.find("");
  if (it != g.opsets.end() && (it->second < k_min_opset || it->second > k_max_opset))
    unsupported("opset " + std::to_string(it->second) + " of the default ONNX domain is not supported (kiln supports " +
                std::to_string(k_min_opset) + ".." + std::to_string(k_max_opset) + ")");
}

void check_node(const ir::Graph& g, const ir::Node& n) {
  if (!g.opsets.count(n.domain))
    invalid(n.label() + " uses domain '" + n.domain + "', which the model does not list in opset_import");
  if (!n.domain.empty())
    unsupported(n.label() + " is in domain '" + n.domain + "'; kiln supports only the default ONNX domain");
  const ir::OpSchema* schema = ir::SchemaRegistry::global().find(n.domain, n.op_type);
  if (!schema) unsupported(n.label() + ": op '" + n.op_type + "' is not supported by kiln");
  const int64_t opset = g.opset(n.domain);
  if (opset < schema->min_opset)
    unsupported(n.label() + ": " + n.op_type + " at opset " + std::to_string(opset) +
                " is not supported (kiln supports it from opset " + std::to_string(schema->min_opset) + ")");
  check_arity(n, *schema);
  check_attributes(n);
}

// Ids in range, one producer per tensor, unique names, outputs provided.
void check_structure(const ir::Graph& g) {
  const auto n_values = static_cast<ir::ValueId>(g.values.size());
  auto in_range = [&](ir::ValueId v, const std::string& where) {
    if (v != ir::k_no_value && (v < 0 || v >= n_values))
      throw Error(ErrorCode::Internal, where + " refers to value #" + std::to_string(v) + ", out of range");
  };
  std::vector<const ir::Node*> producer(g.values.size(), nullptr);
  std::vector<bool> is_input(g.values.size(), false);
  for (ir::ValueId v : g.inputs) {
    in_range(v, "graph input list");
    if (v == ir::k_no_value) throw Error(ErrorCode::Internal, "graph input list holds an omitted value");
    is_input[static_cast<size_t>(v)] = true;
  }
  for (const ir::Node& n : g.nodes) {
    for (ir::ValueId v : n.inputs) in_range(v, n.label());
    for (ir::ValueId v : n.outputs) {
      in_range(v, n.label());
      if (v == ir::k_no_value) continue;
      const ir::Value& val = g.value(v);
      if (producer[static_cast<size_t>(v)])
        invalid(tensor_label(val) + " is written by both " + producer[static_cast<size_t>(v)]->label() + " and " +
                n.label());
      if (val.constant) invalid(tensor_label(val) + " is an initializer but " + n.label() + " also writes it");
      if (is_input[static_cast<size_t>(v)]) invalid(tensor_label(val) + " is a graph input but " + n.label() + " also writes it");
      producer[static_cast<size_t>(v)] = &n;
    }
  }
  std::unordered_map<std::string, ir::ValueId> names;
  for (size_t i = 0; i < g.values.size(); ++i) {
    const std::string& name = g.values[i].name;
    if (!name.empty() && !names.emplace(name, static_cast<ir::ValueId>(i)).second)
      invalid("two tensors are named '" + name + "'");
  }
  for (ir::ValueId v : g.outputs) {
    in_range(v, "graph output list");
    if (v == ir::k_no_value) throw Error(ErrorCode::Internal, "graph output list holds an omitted value");
    const ir::Value& val = g.value(v);
    if (!producer[static_cast<size_t>(v)] && !is_input[static_cast<size_t>(v)] && !val.constant)
      invalid("graph output '" + val.name + "' is not produced by any node, input or initializer");
  }
  for (const ir::Value& v : g.values) {
    if (!v.shape) continue;
    int64_t product = 1;
    for (const ir::Dim& d : *v.shape) {
      if (!d.known() || d.value == 0) continue;
      if (product > std::numeric_limits<int64_t>::max() / d.value)
        invalid(tensor_label(v) + ": element count of shape " + ir::sym_str(*v.shape) + " overflows");
      product *= d.value;
    }
  }
}

struct Declared {
  DataType dtype;
  std::optional<ir::SymShape> shape;
};

bool shapes_conflict(const ir::SymShape& a, const ir::SymShape& b) {
  if (a.size() != b.size()) return true;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].known() && b[i].known() && a[i].value != b[i].value) return true;
  return false;
}

// Runs shape inference node by node and checks what the model declared for each
// node output (value_info, graph outputs) against what inference derived.
void infer_and_check(ir::Graph& g) {
  // Skipped external weights have no data; inference must see them as unknown
  // rather than read through a null pointer. They are put back afterwards.
  std::vector<std::pair<ir::ValueId, Tensor>> hidden;
  for (size_t i = 0; i < g.values.size(); ++i) {
    auto& c = g.values[i].constant;
    if (c && is_placeholder(*c)) {
      hidden.emplace_back(static_cast<ir::ValueId>(i), std::move(*c));
      c.reset();
    }
  }
  struct Restore {
    ir::Graph& g;
    std::vector<std::pair<ir::ValueId, Tensor>>& hidden;
    ~Restore() { for (auto& [id, t] : hidden) g.value(id).constant = std::move(t); }
  } restore{g, hidden};

  std::vector<Declared> declared;
  declared.reserve(g.values.size());
  for (const ir::Value& v : g.values) declared.push_back({v.dtype, v.shape});
  for (const ir::Node& n : g.nodes) {
    try {
      ir::infer_node(g, n);
    } catch (const Error&) {
      throw;
    } catch (const std::bad_alloc&) {
      throw Error(ErrorCode::OutOfMemory, n.label() + ": out of memory in shape inference");
    } catch (const std::exception& e) {
      throw Error(ErrorCode::Internal, n.label() + ": shape inference failed: " + e.what());
    }
    for (ir::ValueId id : n.outputs) {
      if (id == ir::k_no_value) continue;
      const ir::Value& v = g.value(id);
      const Declared& d = declared[static_cast<size_t>(id)];
      if (d.dtype != DataType::Undefined && v.dtype != DataType::Undefined && d.dtype != v.dtype)
        invalid(tensor_label(v) + " is declared " + std::string(dtype_name(d.dtype)) + " but " + n.label() +
                " produces " + std::string(dtype_name(v.dtype)));
      if (d.shape && v.shape && shapes_conflict(*d.shape, *v.shape))
        invalid(tensor_label(v) + " is declared with shape " + ir::sym_str(*d.shape) + " but " + n.label() +
                " produces shape " + ir::sym_str(*v.shape));
    }
  }
}

}  // namespace

void validate(ir::Graph& graph, const std::string& label) {
  try {
    check_opsets(graph);
    check_structure(graph);
    graph.topo_sort();  // dangling reads and cycles
    for (const ir::Node& n : graph.nodes) check_node(graph, n);
    infer_and_check(graph);
  } catch (const Error& e) {
    throw e.with_context(label);
  }
}

}  // namespace kiln::onnx
