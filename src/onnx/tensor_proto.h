// onnx.TensorProto → kiln::Tensor, for initializers, TENSOR attributes and the
// input_K.pb / output_K.pb files of the ONNX conformance data.
#pragma once

#include <string>

#include "kiln/tensor.h"

namespace onnx {
class TensorProto;
}

namespace kiln::onnx {

class ExternalDataResolver;

// Decodes every storage form ONNX uses: raw_data (little-endian) and the typed
// fields (float_data; int32_data holding int8/int16/uint8/uint16/bool and the
// bit patterns of float16/bfloat16; int64_data; double_data; uint64_data for
// uint32/uint64), or external data through `external` (null refuses it).
// Checks before allocating: negative dims, element-count or byte-size overflow,
// data longer or shorter than the shape implies, data in a field that does not
// match the dtype → Error(InvalidModel); string, complex, float8/int4 and unknown
// dtypes, or segmented tensors → Error(Unsupported). `label` names the tensor in
// errors ("initializer 'W'").
// With `load_external` false, external tensors come back as placeholders: dtype
// and shape set, raw() == nullptr (see is_placeholder) — for weightless imports.
Tensor tensor_from_proto(const ::onnx::TensorProto& proto, const ExternalDataResolver* external,
                         const std::string& label, bool load_external = true);

// True for a tensor whose data was deliberately not loaded (a skipped external
// weight): it has elements but no storage. Passes must not read it.
inline bool is_placeholder(const Tensor& t) {
  return t.defined() && t.raw() == nullptr && t.numel() > 0;
}

// The ONNX name of a TensorProto.DataType value, including those kiln::DataType
// does not list ("float8e4m3fn", "int4"), or "data type N" — for messages.
std::string onnx_dtype_name(int32_t onnx_dtype);

// Reads a serialized TensorProto file (a conformance input_K.pb, say). External
// data resolves against the file's directory. `name`, when given, receives the
// TensorProto's name. Errors name the file.
Tensor load_tensor_pb(const std::string& path, std::string* name = nullptr);

}  // namespace kiln::onnx
