#include "builder/specialize.h"

#include <set>

#include "builder/memory_planner.h"
#include "ir/op_schema.h"
#include "kiln/error.h"
#include "passes/passes.h"

namespace kiln::builder {

PartitionResult optimize(ir::Graph& g, int optimization_level, const backend::Backend& primary,
                         DataType compute, passes::LoweringResult* lowering) {
  const backend::Backend& host = backend::host_backend();
  ir::infer_shapes(g);
  if (optimization_level >= 1) {
    passes::eliminate_identities(g);
    if (passes::fold_constants(g) > 0) g.prune();
    ir::infer_shapes(g);
    passes::transposes_as_reshapes(g);  // keeps every value's shape and dtype: nothing to infer again
  }
  if (optimization_level >= 2) {
    // Fusions need the static shapes inference just gave (e.g. Z must match),
    // and make only ops the engine's device runs: a FusedConv the device
    // lacks would fall back to the host as a whole.
    const passes::NodeFilter can_run = [&](const ir::Node& n) { return primary.supports(g, n, nullptr); };
    // The erf GELU first: a MatMul's or Conv's fusion then takes it as its
    // activation.
    int fused = passes::fold_batch_norm(g);
    fused += passes::fuse_gelu(g, can_run);
    fused += passes::fuse_conv(g, can_run);
    fused += passes::fuse_gemm(g, can_run);
    if (fused > 0) ir::infer_shapes(g);
  }
  if (compute != DataType::Float32) {
    // After fusion, so the fused ops are what is asked about and lowered.
    const passes::LoweringResult low = passes::lower_precision(
        g, compute, [&](const ir::Graph& trial, const ir::Node& n) { return primary.supports(trial, n, nullptr); },
        [&](const ir::Node& n, size_t i) { return primary.host_input(n, i); });
    if (lowering) *lowering = low;
    if (low.lowered > 0) ir::infer_shapes(g);
  }
  PartitionResult placed = partition(g, primary, host);
  if (!placed.unsupported.empty()) return placed;
  if (placed.transfers > 0) ir::infer_shapes(g);
  // Each backend's passes over its own nodes; a backend named twice (the host
  // as primary) runs once.
  std::set<const backend::Backend*> done;
  for (const backend::Backend* b : {&primary, &host}) {
    if (!done.insert(b).second) continue;
    const bool b_is_host = b->device().is_host();
    const passes::NodeFilter mine = [&](const ir::Node& n) { return runs_on_host(n, primary) == b_is_host; };
    const passes::NodeFilter runs = [&](const ir::Node& n) { return b->supports(g, n, nullptr); };
    int changed = 0;
    for (const std::string& pass : b->passes(optimization_level))
      changed += passes::run_backend_pass(pass, g, mine, runs);
    if (changed > 0) ir::infer_shapes(g);
  }
  return placed;
}

Specialized specialize(const ir::Graph& graph, const std::map<std::string, Shape>& input_shapes,
                       int optimization_level, const backend::Backend& primary) {
  Specialized s{graph, {}};
  for (ir::ValueId id : s.graph.inputs) {
    ir::Value& v = s.graph.value(id);
    auto it = input_shapes.find(v.name);
    if (it == input_shapes.end())
      throw Error(ErrorCode::Internal, "specialize: no shape for input '" + v.name + "'");
    v.shape = ir::to_sym(it->second);
  }
  const PartitionResult placed = optimize(s.graph, optimization_level, primary);
  if (!placed.unsupported.empty())
    throw Error(ErrorCode::Unsupported, "specialized graph: " + placed.unsupported.front());
  s.plan = plan_memory(s.graph, primary);
  return s;
}

}  // namespace kiln::builder
