// Static memory planning: every value of known shape that a node writes, and
// every graph input and output, gets an offset in its memory's arena (values
// of host-fallback nodes in the host arena, the rest in the device arena),
// reusing space between values whose lifetimes do not overlap (greedy by size,
// as TFLite's arena planner). Inputs are alive from before the first node,
// outputs until after the last. Constants are not planned: they live in the
// engine (and, on a device, in the weights uploaded once per engine). An op's
// output may share its input's buffer (in place, see OpSchema::inplace_input)
// when nothing reads the input afterwards and the input is not a graph input.
#pragma once

#include "backends/backend.h"
#include "engine/memory_plan.h"
#include "ir/graph.h"

namespace kiln::builder {

// Requires nodes in topological order and placed (builder/partition.h) for
// `primary`. Values with unknown shapes are left out (allocated at run time).
engine::MemoryPlan plan_memory(const ir::Graph& graph, const backend::Backend& primary);

}  // namespace kiln::builder
