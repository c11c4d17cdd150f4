// Graph-to-graph passes run by the builder, one file each. Each keeps the graph
// topologically sorted and its shapes inferred.
#pragma once

#include <functional>
#include <string>

#include "ir/graph.h"

namespace kiln::passes {

// Which nodes a pass may touch or make: fusions ask it about the node they
// would create (a fused op the target backend cannot run is not made);
// backend passes ask it whether a node is that backend's. Empty: every node.
using NodeFilter = std::function<bool(const ir::Node&)>;

// Evaluates every node whose inputs are all constants (and Shape/Size of a
// known shape) with the CPU reference kernels, turning outputs into constants.
// Returns the number of nodes folded. Nodes are then dead; call Graph::prune.
int fold_constants(ir::Graph& graph);

// Removes Identity and inference-mode Dropout by rewiring their readers.
int eliminate_identities(ir::Graph& graph);

// Transposes that move only dims of size 1 (known shapes) → Reshape, which
// copies nothing.
int transposes_as_reshapes(ir::Graph& graph);

// ---- Fusions (optimization level >= 2); each returns the number of rewrites ----
// BatchNormalization folded into the weights and bias of the Conv feeding it.
int fold_batch_norm(ir::Graph& graph);
// Conv [+ Add(Z)] [+ activation] → com.kiln::FusedConv.
int fuse_conv(ir::Graph& graph, const NodeFilter& can_run = {});
// Gemm [+ activation] → com.kiln::FusedGemm; MatMul [+ Add(bias)] [+ activation]
// → com.kiln::FusedMatMul.
int fuse_gemm(ir::Graph& graph, const NodeFilter& can_run = {});

// Div/Mul -> Erf -> Add(1) -> Mul(x) -> Mul(0.5) (the erf GELU of exports
// before opset 20) → com.kiln::Gelu.
int fuse_gelu(ir::Graph& graph, const NodeFilter& can_run = {});

// ---- Reduced precision (lower_precision.cpp) ----
// Whether the target backend runs a node of `graph` (a trial copy with the
// float32 values retyped); and whether it reads a node's input i on the host.
using LowerableFilter = std::function<bool(const ir::Graph& graph, const ir::Node& node)>;
using HostInputFilter = std::function<bool(const ir::Node& node, size_t i)>;
struct LoweringResult {
  int lowered = 0;    // nodes now computing in the target type
  int kept = 0;       // nodes with float32 values left in float32
  int casts = 0;      // Casts inserted at the boundaries
  int constants = 0;  // constants converted
};
// Moves float32 compute to `target` (Float16 or BFloat16) where `supports`
// allows; graph inputs and outputs keep their dtypes.
LoweringResult lower_precision(ir::Graph& graph, DataType target, const LowerableFilter& supports,
                               const HostInputFilter& host_input = {});

// ---- Backend passes: a backend names them (Backend::passes), the builder runs
// them over that backend's nodes after placement ----
// CPU (oneDNN): FusedConv 1x1 → FusedConv depthwise 3x3 → com.kiln::FusedConvDw.
int fuse_conv_dw(ir::Graph& graph, const NodeFilter& mine = {});

// CPU (oneDNN): marks values that flow only between layout-aware oneDNN
// kernels as channels last (see assign_layouts.cpp); returns the number of
// values marked.
int assign_cpu_layouts(ir::Graph& graph, const NodeFilter& mine = {});

// CUDA: NHWC between convolutions where whole components of values joined by
// pointwise and pooling nodes can be (see assign_cuda_layouts.cpp); weights of
// convolutions reading NHWC are permuted to K,R,S,C. Returns values marked.
int assign_cuda_layouts(ir::Graph& graph, const NodeFilter& mine = {});

// CUDA: Add -> LayerNormalization (a transformer's residual and the norm
// after it) → com.kiln::SkipLayerNormalization, the sum kept as its second
// output when anything else reads it (see fuse_skip_layer_norm.cpp).
int fuse_skip_layer_norm(ir::Graph& graph, const NodeFilter& mine = {});

// CUDA: MatMul(Softmax(MatMul(q*c, Transpose(k)*c)), v), the attention of
// exported transformers → com.kiln::Attention (see fuse_attention.cpp).
int fuse_attention(ir::Graph& graph, const NodeFilter& mine = {});

// CUDA: a vision transformer's patch embedding (a Conv whose kernel is its
// stride, reshaped and transposed into tokens) → one FusedMatMul of the
// image's patches (conv_patches_as_matmul.cpp).
int conv_patches_as_matmul(ir::Graph& graph, const NodeFilter& mine = {});

// CUDA: Conv/FusedConv (no Z) → MaxPool → com.kiln::FusedConvPool, where
// `runs` accepts the fused node (see fuse_conv_pool.cpp).
int fuse_conv_pool(ir::Graph& graph, const NodeFilter& mine = {}, const NodeFilter& runs = {});

// CUDA: FusedConv(X, W, B, Z = 1x1 Conv(X2, W2, B2)) → com.kiln::FusedConvPair,
// where `runs` accepts the fused node (see fuse_conv_pair.cpp).
int fuse_conv_pair(ir::Graph& graph, const NodeFilter& mine = {}, const NodeFilter& runs = {});

// Runs a backend pass by name; kiln::Error(Internal) for an unknown name.
// `runs`: whether the backend has a kernel for a node a fusion would make.
int run_backend_pass(const std::string& name, ir::Graph& graph, const NodeFilter& mine, const NodeFilter& runs = {});

}  // namespace kiln::passes
