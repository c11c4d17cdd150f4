// ONNX → IR. Reads a ModelProto with libonnx's protobuf classes, resolves
// external data (confined to the model's directory, see external_data.h) and
// validates the result (validate.h). Every failure is a kiln::Error naming the
// file and, where it applies, the node or tensor. Older opset forms are not
// rewritten here: each op reads graph.opset() and handles its own versions.
//
// Semantics worth knowing:
//  - Initializers become constant Values. A graph input that has an initializer
//    of the same name is NOT a runtime input: ONNX calls it an overridable
//    default, kiln treats it as a constant (so it can be folded and planned).
//  - Constant nodes stay nodes; the constant-folding pass turns them into
//    constants.
//  - Nodes without a name get a unique generated one ("<op_type>_<index>").
//  - Nodes come back in topological order.
//  - Subgraph (GRAPH) attributes are kept as Graph attributes with a null body.
//  - Model-local functions are refused when a node calls one, ignored otherwise.
#pragma once

#include <string>

#include "ir/graph.h"

namespace kiln::onnx {

struct ImportOptions {
  // Skip loading external-data weights (weightless builds refit them later);
  // the values keep dtype and shape, with a placeholder constant whose raw() is
  // null (onnx::is_placeholder in tensor_proto.h). The reference (location,
  // offset, length) is still checked; the file is not opened.
  bool skip_external_weights = false;
  // Run validate() (schemas, arity, shape inference) after import. Off: only the
  // structural checks import needs (names resolve, no duplicates, no cycles).
  bool validate = true;
};

ir::Graph import_file(const std::string& path, const ImportOptions& options = {});
// `base_dir` resolves external data; empty refuses external data. `label`
// names the model in errors (a path, usually).
ir::Graph import_bytes(const std::string& bytes, const std::string& base_dir,
                       const std::string& label, const ImportOptions& options = {});

}  // namespace kiln::onnx
