// Static memory planning: every intermediate value of known shape gets an
// offset in one arena, reusing space between values whose lifetimes do not
// overlap (greedy by size, as TFLite's arena planner). Graph inputs, outputs
// and constants are not planned: users own inputs and outputs, constants live
// in the engine. An op's output may share its input's buffer (in place, see
// OpSchema::inplace_input) when nothing reads the input afterwards.
#pragma once

#include "engine/memory_plan.h"
#include "ir/graph.h"

namespace kiln::builder {

// Requires nodes in topological order. Values with unknown shapes are left out
// (allocated at run time).
engine::MemoryPlan plan_memory(const ir::Graph& graph);

}  // namespace kiln::builder
