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
// Tanh, Elu, Gelu (ONNX or com.kiln). `opset` is the graph's ai.onnx opset
// (Clip changed at 11).
bool match_activation(const ir::Graph& g, const ir::Node& n, int64_t opset, ir::FusedActivation* out);

// When the one node reading `cur` (and not dead) is an activation a fused op
// can absorb: appends it to `absorbed`, moves `cur` to its output and returns
// it. Else returns no activation and changes nothing.
ir::FusedActivation absorb_activation(const ir::Graph& g, const Readers& readers, const std::vector<bool>& dead,
                                      int64_t opset, ir::ValueId& cur, std::vector<ir::NodeId>& absorbed);

// Copies the placement attributes (kiln.device, kiln.fallback: see
// builder/partition.h) of `from` onto a node made from it.
void keep_placement(const ir::Node& from, ir::Node& to);

// A Transpose node's permutation for an input of `rank` dims (the default
// reverses them): ir::rules::transpose_perm, whose checks inference has run.
std::vector<int64_t> transpose_perm(const ir::Node& transpose, size_t rank);

// A new constant value holding `t`, named `name`.
ir::ValueId add_constant(ir::Graph& g, const std::string& name, Tensor t);
// A new int64 constant holding `shape` (a Reshape's second input), named `name`.
ir::ValueId add_shape_constant(ir::Graph& g, const std::string& name, const Shape& shape);

// Whether v is a float32 value of fully known shape.
bool is_static_f32(const ir::Graph& g, ir::ValueId v);

// Whether n is in the default ONNX domain or com.kiln.
bool onnx_or_kiln(const ir::Node& n);

// Whether n is the default-domain ONNX op `op`.
bool is_onnx(const ir::Node& n, const char* op);
// Whether every value of the ints attribute `name` is v (true when absent).
bool ints_all(const ir::Node& n, const char* name, int64_t v);
// An ints attribute holding v.
ir::Attribute ints_attr(std::vector<int64_t> v);

// Removes the nodes marked in `dead` (keeps the order of the others).
void erase_nodes(ir::Graph& g, const std::vector<bool>& dead);

// Declares the com.kiln domain on the graph (the fused ops' opset).
void use_kiln_domain(ir::Graph& g);

// Replaces node `first` and the chain `absorbed` after it (non-empty, in
// order) by `fused`, which takes the place of the last absorbed node, where
// all its inputs are computed. The replaced nodes are marked in `dead`.
void replace_chain(ir::Graph& g, std::vector<bool>& dead, size_t first, const std::vector<ir::NodeId>& absorbed,
                   ir::Node fused);

// After a fusion pass made `fused` (> 0) replacements: declares com.kiln,
// erases the dead nodes and prunes.
void finish_fusions(ir::Graph& g, const std::vector<bool>& dead, int fused);

}  // namespace kiln::passes
