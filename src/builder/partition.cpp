#include "builder/partition.h"

#include <map>

#include "backends/transfer.h"
#include "kiln/error.h"

namespace kiln::builder {

namespace {

bool is_kiln_transfer(const ir::Node& n) { return backend::is_transfer(n); }

// Inputs whose data a kernel never reads (only their shape): no copy needed.
bool metadata_only(const ir::Node& n, size_t i) {
  return (n.domain.empty() || n.domain == "ai.onnx") && i == 0 && (n.op_type == "Shape" || n.op_type == "Size");
}

// Removes the transfers and placements of an earlier partition() run.
void undo(ir::Graph& g) {
  std::vector<ir::ValueId> replace(g.values.size());
  for (size_t v = 0; v < replace.size(); ++v) replace[v] = static_cast<ir::ValueId>(v);
  bool any = false;
  for (const ir::Node& n : g.nodes) {
    if (!is_kiln_transfer(n)) continue;
    replace[static_cast<size_t>(n.outputs[0])] = n.inputs[0];
    any = true;
  }
  for (ir::Node& n : g.nodes) {
    n.attrs.erase(k_device_attr);
    n.attrs.erase(k_fallback_attr);
  }
  if (!any) return;
  const auto root = [&](ir::ValueId v) {
    while (v != ir::k_no_value && replace[static_cast<size_t>(v)] != v) v = replace[static_cast<size_t>(v)];
    return v;
  };
  for (ir::Node& n : g.nodes)
    for (ir::ValueId& v : n.inputs) v = root(v);
  for (ir::ValueId& out : g.outputs) {
    const ir::ValueId r = root(out);
    if (r != out) g.value(r).name = g.value(out).name;  // the output's name is the API
    out = r;
  }
  std::vector<ir::Node> kept;
  for (ir::Node& n : g.nodes)
    if (!is_kiln_transfer(n)) kept.push_back(std::move(n));
  g.nodes = std::move(kept);
  g.prune();
}

// Small enough to compute on the host and copy if need be: shape arithmetic.
bool small_value(const ir::Value& v) {
  if (!v.shape) return false;
  if (ir::shape_known(*v.shape)) return shape_numel(ir::to_shape(*v.shape)) <= 1024;
  return v.shape->size() <= 1 && (v.dtype == DataType::Int64 || v.dtype == DataType::Int32);
}

}  // namespace

bool runs_on_host(const ir::Node& n, const backend::Backend& primary) {
  if (primary.device().is_host()) return true;
  const ir::Attribute* a = n.attr(k_device_attr);
  return a && a->kind == ir::Attribute::Kind::String && a->s == "cpu";
}

backend::Backend& backend_of(const ir::Node& n, backend::Backend& primary) {
  if (primary.device().is_host()) return primary;
  return runs_on_host(n, primary) ? backend::host_backend() : primary;
}

std::vector<bool> host_values(const ir::Graph& g, const backend::Backend& primary) {
  std::vector<bool> host(g.values.size(), primary.device().is_host());
  if (primary.device().is_host()) return host;
  for (const ir::Node& n : g.nodes) {
    const bool h = runs_on_host(n, primary) || backend::writes_host_always(n);
    for (ir::ValueId v : n.outputs)
      if (v != ir::k_no_value) host[static_cast<size_t>(v)] = h;
  }
  return host;
}

PartitionResult partition(ir::Graph& g, const backend::Backend& primary, const backend::Backend& host) {
  PartitionResult r;
  undo(g);
  std::vector<bool> on_host(g.nodes.size(), false);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const ir::Node& n = g.nodes[i];
    std::string why;
    if (primary.supports(g, n, &why)) continue;
    std::string host_why;
    if (primary.device().is_host() || !host.supports(g, n, &host_why)) {
      r.unsupported.push_back(n.label() + ": " + (primary.device().is_host() ? why : host_why));
      continue;
    }
    on_host[i] = true;
    ir::Attribute a;
    a.kind = ir::Attribute::Kind::String;
    a.s = why;
    g.nodes[i].attrs[k_fallback_attr] = a;
    ++r.fallbacks;
  }
  if (primary.device().is_host() || !r.unsupported.empty()) return r;

  // Shape computations: every data input constant, metadata-only or itself a
  // shape computation's result, and a small result.
  std::vector<bool> shape_value(g.values.size(), false);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const ir::Node& n = g.nodes[i];
    if (n.attr("then_branch") || n.attr("else_branch")) continue;
    bool inputs_ok = true;
    for (size_t k = 0; k < n.inputs.size() && inputs_ok; ++k) {
      const ir::ValueId v = n.inputs[k];
      if (v == ir::k_no_value || g.value(v).constant || metadata_only(n, k)) continue;
      inputs_ok = shape_value[static_cast<size_t>(v)];
    }
    bool outputs_small = true;
    for (ir::ValueId v : n.outputs)
      if (v != ir::k_no_value) outputs_small &= small_value(g.value(v));
    if (!inputs_ok || !outputs_small || !host.supports(g, n, nullptr)) continue;
    for (ir::ValueId v : n.outputs)
      if (v != ir::k_no_value) shape_value[static_cast<size_t>(v)] = true;
    if (!on_host[i]) {
      on_host[i] = true;
      ++r.host_shape_nodes;
    }
  }

  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (!on_host[i]) continue;
    ir::Attribute a;
    a.kind = ir::Attribute::Kind::String;
    a.s = "cpu";
    g.nodes[i].attrs[k_device_attr] = a;
  }

  // Which memory each value is in, then a copy for each read from the other.
  std::vector<bool> value_host(g.values.size(), false);
  for (size_t i = 0; i < g.nodes.size(); ++i)
    for (ir::ValueId v : g.nodes[i].outputs)
      if (v != ir::k_no_value) value_host[static_cast<size_t>(v)] = on_host[i];

  std::map<std::pair<ir::ValueId, bool>, ir::ValueId> copies;  // (value, to host) -> copy
  std::vector<ir::Node> added;
  const auto copy_of = [&](ir::ValueId v, bool to_host) {
    auto it = copies.find({v, to_host});
    if (it != copies.end()) return it->second;
    ir::Value cv = g.value(v);
    cv.name = g.value(v).name + (to_host ? "/host" : "/device");
    const ir::ValueId out = g.add_value(cv);
    ir::Node t;
    t.name = (to_host ? "to_host/" : "to_device/") + g.value(v).name;
    t.domain = "com.kiln";
    t.op_type = to_host ? backend::k_to_host : backend::k_to_device;
    t.inputs = {v};
    t.outputs = {out};
    added.push_back(std::move(t));
    copies[{v, to_host}] = out;
    ++r.transfers;
    return out;
  };
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    for (size_t k = 0; k < g.nodes[i].inputs.size(); ++k) {
      const ir::ValueId v = g.nodes[i].inputs[k];
      if (v == ir::k_no_value || g.value(v).constant || metadata_only(g.nodes[i], k)) continue;
      const bool want_host = on_host[i] || primary.host_input(g.nodes[i], k);
      if (want_host != value_host[static_cast<size_t>(v)]) {
        const ir::ValueId c = copy_of(v, want_host);
        g.nodes[i].inputs[k] = c;
      }
    }
  }
  // Graph outputs live on the device: a host-made output gets a copy that
  // takes over its name.
  for (ir::ValueId& out : g.outputs) {
    if (g.value(out).constant || !value_host[static_cast<size_t>(out)]) continue;
    const std::string name = g.value(out).name;
    const ir::ValueId c = copy_of(out, false);
    g.value(out).name = name + "/host";
    g.value(c).name = name;
    out = c;
  }
  if (!added.empty()) {
    for (ir::Node& n : added) g.add_node(std::move(n));
    g.topo_sort(/*unbound_ok=*/true);  // weightless engines' weights are still unbound here
  }
  return r;
}

}  // namespace kiln::builder
