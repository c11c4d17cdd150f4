// Pattern helpers the fusion passes share: single-reader checks, activation
// matching (ONNX node → ir::FusedActivation) and node removal.
#pragma once

#include <vector>

#include "ir/graph.h"
#include "ir/ops/fused_attrs.h"

namespace kiln::passes {

// Readers of each value: node indices (in order), plus whether a graph output.
struct Readers {
  std::vector<std::vector<ir::NodeId>> nodes;
  std::vector<bool> is_output;
  explicit Readers(const ir::Graph& g);
  // The one node reading v, when v has exactly one reader and is no graph output.
  ir::NodeId sole(ir::ValueId v) const;
};

// True when `n` is an activation a fused op can absorb, for a float32 input:
// Relu, LeakyRelu, Clip (constant bounds), HardSwish, HardSigmoid, Sigmoid,
// Tanh, Elu. `opset` is the graph's ai.onnx opset (Clip changed at 11).
bool match_activation(const ir::Graph& g, const ir::Node& n, int64_t opset, ir::FusedActivation* out);

// Whether v is a float32 value of fully known shape.
bool is_static_f32(const ir::Graph& g, ir::ValueId v);

// Removes the nodes marked in `dead` (keeps the order of the others).
void erase_nodes(ir::Graph& g, const std::vector<bool>& dead);

// Declares the com.kiln domain on the graph (the fused ops' opset).
void use_kiln_domain(ir::Graph& g);

}  // namespace kiln::passes
