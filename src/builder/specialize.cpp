#include "builder/specialize.h"

#include "builder/memory_planner.h"
#include "ir/op_schema.h"
#include "kiln/error.h"
#include "passes/passes.h"

namespace kiln::builder {

void optimize(ir::Graph& g, int optimization_level, const std::string& backend) {
  ir::infer_shapes(g);
  if (optimization_level <= 0) return;
  passes::eliminate_identities(g);
  if (passes::fold_constants(g) > 0) g.prune();
  ir::infer_shapes(g);
  if (optimization_level < 2) return;
  // Fusions need the static shapes inference just gave (e.g. Z must match).
  int fused = passes::fold_batch_norm(g);
  fused += passes::fuse_conv(g);
  fused += passes::fuse_gemm(g);
  if (optimization_level >= 3 && backend == "cpu") fused += passes::fuse_conv_dw(g);
  if (fused > 0) ir::infer_shapes(g);
  if (optimization_level >= 3 && backend == "cpu") passes::assign_cpu_layouts(g);
}

Specialized specialize(const ir::Graph& graph, const std::map<std::string, Shape>& input_shapes,
                       int optimization_level, const std::string& backend) {
  Specialized s{graph, {}};
  for (ir::ValueId id : s.graph.inputs) {
    ir::Value& v = s.graph.value(id);
    auto it = input_shapes.find(v.name);
    if (it == input_shapes.end())
      throw Error(ErrorCode::Internal, "specialize: no shape for input '" + v.name + "'");
    v.shape = ir::to_sym(it->second);
  }
  optimize(s.graph, optimization_level, backend);
  s.plan = plan_memory(s.graph);
  return s;
}

}  // namespace kiln::builder
