// onnx.ValueInfoProto (graph inputs, outputs, value_info) → dtype and symbolic
// shape. dim_value → a known Dim, dim_param → a named symbol, a dim with
// neither → an anonymous symbol (Dim with an empty symbol, per ir/graph.h).
#pragma once

#include <optional>
#include <string>

#include "ir/graph.h"

namespace onnx {
class ValueInfoProto;
}

namespace kiln::onnx {

struct DeclaredType {
  bool present = false;  // false: the entry carries no type at all
  DataType dtype = DataType::Undefined;
  std::optional<ir::SymShape> shape;  // nullopt: rank unknown
};

// `label` names the entry ("graph input 'x'"). Non-tensor types (sequence, map,
// optional, sparse) and string/complex dtypes → Error(Unsupported); negative
// dim_value or a shape whose known dims overflow int64 → Error(InvalidModel).
DeclaredType declared_type(const ::onnx::ValueInfoProto& info, const std::string& label);

// True when `info` declares a dense tensor type (or no type at all).
bool is_tensor_or_untyped(const ::onnx::ValueInfoProto& info);

}  // namespace kiln::onnx
