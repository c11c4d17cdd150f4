// Attribute readers of the elementwise family shared by the schemas and the
// kernels of every backend.
#pragma once

#include "ir/graph.h"

namespace kiln::ir {

// Cast's `to`: an int (opset >= 6) or a type name such as "FLOAT" (opset 1-5).
// InvalidModel when missing or unknown; Unsupported for types kiln cannot hold
// (string, complex, float8, int4, ...).
DataType cast_target(const Node& node);

}  // namespace kiln::ir
