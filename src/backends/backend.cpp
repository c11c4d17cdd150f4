#include "backends/backend.h"

#include "kiln/error.h"

namespace kiln::backend {

bool Backend::supports(const ir::Graph&, const ir::Node& node, std::string* why) const {
  if (!node.domain.empty() && node.domain != "ai.onnx" && node.domain != "com.kiln") {
    if (why) *why = "domain '" + node.domain + "' has no kernels on " + name();
    return false;
  }
  if (!kernels().find(node.op_type)) {
    if (why) *why = "no " + name() + " kernel for " + node.op_type;
    return false;
  }
  return true;
}

void Backend::begin_capture(Stream&) {
  throw Error(ErrorCode::Unsupported, name() + " backend cannot capture runs");
}

std::unique_ptr<Capture> Backend::end_capture(Stream&) {
  throw Error(ErrorCode::Unsupported, name() + " backend cannot capture runs");
}

Backend& backend_by_name(const std::string& name) {
  if (name == "cpu") return cpu_backend();
  throw Error(ErrorCode::Unsupported, "backend '" + name + "' is not built into this kiln");
}

}  // namespace kiln::backend
