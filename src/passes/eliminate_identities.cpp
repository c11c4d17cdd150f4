#include <algorithm>

#include "passes/passes.h"

namespace kiln::passes {

int eliminate_identities(ir::Graph& g) {
  int removed = 0;
  for (ir::Node& n : g.nodes) {
    const bool identity = n.op_type == "Identity" ||
                          (n.op_type == "Dropout" && (n.outputs.size() < 2 || n.outputs[1] == ir::k_no_value) &&
                           !n.has_input(2));
    if (!identity || n.inputs.empty() || n.inputs[0] == ir::k_no_value) continue;
    const ir::ValueId from = n.outputs[0], to = n.inputs[0];
    // A graph output keeps its name, and a graph input cannot also be an output
    // slot of ours, so rewire only values that are internal.
    if (std::find(g.outputs.begin(), g.outputs.end(), from) != g.outputs.end()) continue;
    for (ir::Node& reader : g.nodes)
      for (ir::ValueId& v : reader.inputs)
        if (v == from) v = to;
    ++removed;
  }
  if (removed) g.prune();
  return removed;
}

}  // namespace kiln::passes
