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

// ---- Fusions (optimization level >= 2); each returns the number of rewrites ----
// BatchNormalization folded into the weights and bias of the Conv feeding it.
int fold_batch_norm(ir::Graph& graph);
// Conv [+ Add(Z)] [+ activation] → com.kiln::FusedConv.
int fuse_conv(ir::Graph& graph);
// Gemm [+ activation] → com.kiln::FusedGemm; MatMul [+ Add(bias)] [+ activation]
// → com.kiln::FusedMatMul.
int fuse_gemm(ir::Graph& graph);

// ---- CPU (oneDNN) (optimization level >= 3, cpu backend) ----
// FusedConv 1x1 → FusedConv depthwise 3x3 → com.kiln::FusedConvDw (after fuse_conv).
int fuse_conv_dw(ir::Graph& graph);

// Marks values that flow only between layout-aware oneDNN kernels as channels
// last (see assign_layouts.cpp); returns the number of values marked.
int assign_cpu_layouts(ir::Graph& graph);

}  // namespace kiln::passes
