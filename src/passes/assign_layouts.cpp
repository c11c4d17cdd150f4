// Activation layouts for the CPU (oneDNN) kernels. Values that flow only
// between layout-aware kernels — Conv/FusedConv/FusedConvDw, the pools and the binary
// arithmetic ops (Add/Sub/Mul/Div, any operand) — stay in a
// channels-last layout instead of being reordered to and from NCHW around
// every convolution. A channels-last tensor has the same shape and byte size
// as the NCHW one, so the IR shapes and the memory plan do not change; only
// the producer and the readers, which agree through the attributes below,
// interpret the bytes differently:
//   kiln_out_layout  (int)   layout of output 0
//   kiln_in_layouts  (ints)  layout of each input
// with 0 = plain row-major and 1 = channels last (NHWC for 4-D). Graph inputs,
// outputs and constants are always plain, and a value with any reader that is
// not layout-aware stays plain: whatever else reads the graph sees NCHW.
#include <algorithm>

#include "passes/fusion_util.h"
#include "passes/passes.h"

namespace kiln::passes {

namespace {

bool has_indices_output(const ir::Node& n) { return n.outputs.size() > 1 && n.outputs[1] != ir::k_no_value; }

bool is_binary(const ir::Node& n) {
  return (n.domain.empty() || n.domain == "ai.onnx") && n.inputs.size() == 2 && !n.attr("broadcast") &&
         (n.op_type == "Add" || n.op_type == "Sub" || n.op_type == "Mul" || n.op_type == "Div");
}

// Whether `n` computes output 0 in any layout.
bool writes_layouts(const ir::Node& n) {
  if (!onnx_or_kiln(n)) return false;
  return is_binary(n) || n.op_type == "Conv" || n.op_type == "FusedConv" || n.op_type == "FusedConvDw" ||
         n.op_type == "AveragePool" ||
         (n.op_type == "MaxPool" && !has_indices_output(n));
}

// Whether `n` reads input `i` in any layout.
bool reads_layouts(const ir::Node& n, size_t i) {
  if (!onnx_or_kiln(n)) return false;
  if (is_binary(n)) return true;
  if (n.op_type == "Conv" || n.op_type == "FusedConvDw") return i == 0;
  if (n.op_type == "FusedConv") return i == 0 || i == 3;
  if (n.op_type == "MaxPool") return i == 0 && !has_indices_output(n);
  return i == 0 && (n.op_type == "AveragePool" || n.op_type == "GlobalAveragePool" || n.op_type == "GlobalMaxPool");
}

}  // namespace

int assign_cpu_layouts(ir::Graph& g, const NodeFilter& mine) {
  for (ir::Node& n : g.nodes) {
    if (mine && !mine(n)) continue;
    n.attrs.erase("kiln_out_layout");
    n.attrs.erase("kiln_in_layouts");
  }
  const Readers readers(g);
  const std::vector<ir::NodeId> producer = g.producers();
  std::vector<bool> is_input(g.values.size(), false);
  for (ir::ValueId v : g.inputs) is_input[static_cast<size_t>(v)] = true;
  int marked = 0;
  for (size_t v = 0; v < g.values.size(); ++v) {
    const ir::Value& val = g.values[v];
    const ir::NodeId p = producer[v];
    if (p < 0 || is_input[v] || readers.is_output[v] || val.constant || readers.nodes[v].empty()) continue;
    if (!is_static_f32(g, static_cast<ir::ValueId>(v)) || val.shape->size() != 4) continue;
    ir::Node& prod = g.nodes[static_cast<size_t>(p)];
    if (!writes_layouts(prod) || prod.outputs[0] != static_cast<ir::ValueId>(v) || (mine && !mine(prod))) continue;
    bool all_aware = true;
    for (ir::NodeId r : readers.nodes[v]) {
      const ir::Node& rn = g.nodes[static_cast<size_t>(r)];
      all_aware &= !mine || mine(rn);
      for (size_t i = 0; i < rn.inputs.size(); ++i)
        if (rn.inputs[i] == static_cast<ir::ValueId>(v)) all_aware &= reads_layouts(rn, i);
    }
    if (!all_aware) continue;
    ir::Attribute out;
    out.kind = ir::Attribute::Kind::Int;
    out.i = 1;
    prod.attrs["kiln_out_layout"] = out;
    for (ir::NodeId r : readers.nodes[v]) {
      ir::Node& rn = g.nodes[static_cast<size_t>(r)];
      ir::Attribute& in = rn.attrs["kiln_in_layouts"];
      in.kind = ir::Attribute::Kind::Ints;
      in.ints.resize(rn.inputs.size(), 0);
      for (size_t i = 0; i < rn.inputs.size(); ++i)
        if (rn.inputs[i] == static_cast<ir::ValueId>(v)) in.ints[i] = 1;
    }
    ++marked;
  }
  return marked;
}

}  // namespace kiln::passes
