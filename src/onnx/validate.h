// Checks an imported graph before anything runs, so a bad or unsupported model
// fails early with a message naming the file, node or tensor rather than deep in
// the builder. Each check raises a kiln::Error:
//   Unsupported:  default-domain opset outside [k_min_opset, k_max_opset]; a node
//                 in another domain; an op kiln has no schema for; an op used at
//                 an opset older than its schema's min_opset.
//   InvalidModel: a node whose domain the model does not import; input/output
//                 count outside the schema's range or a required input omitted;
//                 attributes of the wrong kind (those checkable without running
//                 inference: Constant's value, well-known names like "axis");
//                 duplicate tensor names or producers; reads of tensors nothing
//                 provides; graph outputs nothing produces; cycles; declared
//                 shapes whose size overflows; errors from shape inference
//                 (including declared dtypes/shapes that contradict it).
// It also sorts the nodes topologically and runs shape inference, filling every
// Value's dtype and shape.
#pragma once

#include <cstdint>
#include <string>

#include "ir/graph.h"

namespace kiln::onnx {

constexpr int64_t k_min_opset = 7;
constexpr int64_t k_max_opset = 28;  // the newest opset in the ONNX conformance data

// `label` (the model's file name) prefixes every message.
void validate(ir::Graph& graph, const std::string& label);

}  // namespace kiln::onnx
