// Optimization and specialization. optimize() is the pass pipeline: generic
// graph passes, then device placement (builder/partition.h), then each
// backend's own passes over its nodes. specialize() is the graph an engine
// runs for one set of input shapes: the pipeline again with concrete shapes
// (so Shape -> Gather -> Reshape chains fold away), then a memory plan. The
// builder does this for the build shapes; the runtime for each new input
// shape it meets.
#pragma once

#include <map>
#include <string>

#include "backends/backend.h"
#include "builder/partition.h"
#include "engine/memory_plan.h"
#include "ir/graph.h"
#include "passes/passes.h"

namespace kiln::builder {

struct Specialized {
  ir::Graph graph;
  engine::MemoryPlan plan;
};

// Folds constants and prunes, with shapes as they are (symbolic allowed);
// from level 2 fuses (only into ops `primary` can run); places nodes on
// `primary` or the host; then runs the backends' own passes (each backend
// names them per level: Backend::passes).
// `compute` Float16/BFloat16 then lowers float32 nodes `primary` can run in
// that type (passes::lower_precision) before placement.
// The result lists nodes no backend can run (the graph is then unusable).
PartitionResult optimize(ir::Graph& graph, int optimization_level, const backend::Backend& primary,
                         DataType compute = DataType::Float32, passes::LoweringResult* lowering = nullptr);

// `input_shapes` gives every graph input a concrete shape. kiln::Error when a
// node can run nowhere.
Specialized specialize(const ir::Graph& graph, const std::map<std::string, Shape>& input_shapes,
                       int optimization_level, const backend::Backend& primary);

}  // namespace kiln::builder
