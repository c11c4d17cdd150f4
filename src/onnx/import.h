// ONNX → IR. Reads a ModelProto with libonnx's protobuf classes, resolves
// external data (confined to the model's directory), normalizes older opset
// forms to the newest one kiln implements, and validates the result. Every
// failure is a kiln::Error naming the file and, where it applies, the node or
// tensor.
#pragma once

#include <string>

#include "ir/graph.h"

namespace kiln::onnx {

struct ImportOptions {
  // Skip loading external-data weights (weightless builds refit them later);
  // the values keep dtype and shape, with no constant data.
  bool skip_external_weights = false;
};

ir::Graph import_file(const std::string& path, const ImportOptions& options = {});
// `base_dir` resolves external data; empty refuses external data.
ir::Graph import_bytes(const std::string& bytes, const std::string& base_dir,
                       const std::string& label, const ImportOptions& options = {});

}  // namespace kiln::onnx
