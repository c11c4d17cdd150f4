#include "onnx/value_info.h"

#include <limits>

#include <onnx/onnx_pb.h>

#include "kiln/error.h"
#include "onnx/tensor_proto.h"

namespace kiln::onnx {

bool is_tensor_or_untyped(const ::onnx::ValueInfoProto& info) {
  return !info.has_type() || info.type().value_case() == ::onnx::TypeProto::kTensorType ||
         info.type().value_case() == ::onnx::TypeProto::VALUE_NOT_SET;
}

DeclaredType declared_type(const ::onnx::ValueInfoProto& info, const std::string& label) {
  DeclaredType out;
  if (!info.has_type() || info.type().value_case() == ::onnx::TypeProto::VALUE_NOT_SET) return out;
  if (info.type().value_case() != ::onnx::TypeProto::kTensorType)
    throw Error(ErrorCode::Unsupported, label + ": only dense tensor types are supported "
                                                "(not sequences, maps, optionals or sparse tensors)");
  const auto& tt = info.type().tensor_type();
  out.present = true;
  out.dtype = static_cast<DataType>(tt.elem_type());
  if (out.dtype != DataType::Undefined && !dtype_is_supported(out.dtype))
    throw Error(ErrorCode::Unsupported, label + ": element type " + onnx_dtype_name(tt.elem_type()) + " is not supported");
  if (!tt.has_shape()) return out;
  ir::SymShape shape;
  int64_t known_product = 1;
  for (const auto& d : tt.shape().dim()) {
    if (d.value_case() == ::onnx::TensorShapeProto::Dimension::kDimValue) {
      const int64_t v = d.dim_value();
      if (v < 0) throw Error(ErrorCode::InvalidModel, label + ": negative dimension " + std::to_string(v));
      if (v != 0 && known_product > std::numeric_limits<int64_t>::max() / v)
        throw Error(ErrorCode::InvalidModel, label + ": element count of the declared shape overflows");
      known_product *= v;
      shape.emplace_back(v);
    } else if (d.value_case() == ::onnx::TensorShapeProto::Dimension::kDimParam) {
      shape.push_back(ir::Dim::sym(d.dim_param()));
    } else {
      shape.emplace_back();  // anonymous
    }
  }
  out.shape = std::move(shape);
  return out;
}

}  // namespace kiln::onnx
