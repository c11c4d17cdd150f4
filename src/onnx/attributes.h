// onnx.AttributeProto → ir::Attribute.
#pragma once

#include <string>

#include "ir/graph.h"

namespace onnx {
class AttributeProto;
}

namespace kiln::onnx {

class ExternalDataResolver;

// `node_label` names the node in errors. TENSOR attributes go through
// tensor_from_proto. GRAPH attributes (If/Loop/Scan bodies) are kept as a Graph
// attribute with a null graph: kiln runs no control flow yet, so it does not
// import subgraphs (whose outer-scope references would need their own checks).
// ref_attr_name (only meaningful inside functions), TENSORS, GRAPHS, sparse
// tensor and type-proto attributes → Error(Unsupported); a declared type whose
// field is absent → Error(InvalidModel).
ir::Attribute attribute_from_proto(const ::onnx::AttributeProto& proto, const ExternalDataResolver* external,
                                   const std::string& node_label);

}  // namespace kiln::onnx
