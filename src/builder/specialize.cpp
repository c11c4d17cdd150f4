#include "builder/specialize.h"

#include "builder/memory_planner.h"
#include "ir/op_schema.h"
#include "kiln/error.h"
#include "passes/passes.h"

namespace kiln::builder {

void optimize(ir::Graph& g, int optimization_level) {
  ir::infer_shapes(g);
  if (optimization_level <= 0) return;
  passes::eliminate_identities(g);
  if (passes::fold_constants(g) > 0) g.prune();
  ir::infer_shapes(g);
}

Specialized specialize(const ir::Graph& graph, const std::map<std::string, Shape>& input_shapes,
                       int optimization_level) {
  Specialized s{graph, {}};
  for (ir::ValueId id : s.graph.inputs) {
    ir::Value& v = s.graph.value(id);
    auto it = input_shapes.find(v.name);
    if (it == input_shapes.end())
      throw Error(ErrorCode::Internal, "specialize: no shape for input '" + v.name + "'");
    v.shape = ir::to_sym(it->second);
  }
  optimize(s.graph, optimization_level);
  s.plan = plan_memory(s.graph);
  return s;
}

}  // namespace kiln::builder
