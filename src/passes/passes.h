// Graph-to-graph passes run by the builder, one file each. Each keeps the graph
// topologically sorted and its shapes inferred.
#pragma once

#include "ir/graph.h"

namespace kiln::passes {

// Evaluates every node whose inputs are all constants (and Shape/Size of a
// known shape) with the CPU reference kernels, turning outputs into constants.
// Returns the number of nodes folded. Nodes are then dead; call Graph::prune.
int fold_constants(ir::Graph& graph);

// Removes Identity and inference-mode Dropout by rewiring their readers.
int eliminate_identities(ir::Graph& graph);

}  // namespace kiln::passes
