// Specialization: the graph an engine runs for one set of input shapes. Shape
// inference with the concrete shapes, then constant folding (so Shape → Gather →
// Reshape chains disappear), then a memory plan. The builder does this for the
// build shapes; the runtime does it for each new input shape it meets.
#pragma once

#include <map>
#include <string>

#include "engine/memory_plan.h"
#include "ir/graph.h"

namespace kiln::builder {

struct Specialized {
  ir::Graph graph;
  engine::MemoryPlan plan;
};

// Folds constants and prunes, with shapes as they are (symbolic allowed);
// from level 2 fuses, from level 3 picks the layouts of `backend`'s kernels.
void optimize(ir::Graph& graph, int optimization_level, const std::string& backend = "cpu");

// `input_shapes` gives every graph input a concrete shape.
Specialized specialize(const ir::Graph& graph, const std::map<std::string, Shape>& input_shapes,
                       int optimization_level, const std::string& backend = "cpu");

}  // namespace kiln::builder
