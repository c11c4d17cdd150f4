#include "onnx/tensor_proto.h"

#include <bit>
#include <cstring>
#include <limits>

#include <onnx/onnx_pb.h>

#include "kiln/error.h"
#include "onnx/external_data.h"
#include "onnx/proto_io.h"

namespace kiln::onnx {

static_assert(std::endian::native == std::endian::little,
              "raw_data is little-endian; a big-endian host would need byte swaps");

std::string onnx_dtype_name(int32_t dt) {
  switch (dt) {
    case 17: return "float8e4m3fn";
    case 18: return "float8e4m3fnuz";
    case 19: return "float8e5m2";
    case 20: return "float8e5m2fnuz";
    case 21: return "uint4";
    case 22: return "int4";
    case 23: return "float4e2m1";
    case 24: return "float8e8m0";
    case 25: return "uint2";
    case 26: return "int2";
    default: break;
  }
  const auto name = dtype_name(static_cast<DataType>(dt));
  return name == "undefined" ? "data type " + std::to_string(dt) : std::string(name);
}

namespace {

// Which typed field ONNX stores each dtype in.
enum class Field { Float, Int32, Int64, Double, UInt64 };
Field field_for(DataType dt) {
  switch (dt) {
    case DataType::Float32: return Field::Float;
    case DataType::Int64: return Field::Int64;
    case DataType::Float64: return Field::Double;
    case DataType::UInt32: case DataType::UInt64: return Field::UInt64;
    default: return Field::Int32;  // int8/16, uint8/16, bool, float16, bfloat16
  }
}
const char* field_name(Field f) {
  switch (f) {
    case Field::Float: return "float_data";
    case Field::Int32: return "int32_data";
    case Field::Int64: return "int64_data";
    case Field::Double: return "double_data";
    case Field::UInt64: return "uint64_data";
  }
  return "?";
}
int64_t field_size(const ::onnx::TensorProto& p, Field f) {
  switch (f) {
    case Field::Float: return p.float_data_size();
    case Field::Int32: return p.int32_data_size();
    case Field::Int64: return p.int64_data_size();
    case Field::Double: return p.double_data_size();
    case Field::UInt64: return p.uint64_data_size();
  }
  return 0;
}

[[noreturn]] void invalid(const std::string& label, const std::string& what) {
  throw Error(ErrorCode::InvalidModel, label + ": " + what);
}

template <typename To, typename From>
void convert(const From& src, void* dst) {
  To* out = static_cast<To*>(dst);
  for (int i = 0; i < src.size(); ++i) out[i] = static_cast<To>(src.Get(i));
}

void copy_typed(const ::onnx::TensorProto& p, DataType dt, void* dst) {
  switch (dt) {
    case DataType::Float32: convert<float>(p.float_data(), dst); break;
    case DataType::Float64: convert<double>(p.double_data(), dst); break;
    case DataType::Int64: convert<int64_t>(p.int64_data(), dst); break;
    case DataType::UInt64: convert<uint64_t>(p.uint64_data(), dst); break;
    case DataType::UInt32: convert<uint32_t>(p.uint64_data(), dst); break;
    case DataType::Int32: convert<int32_t>(p.int32_data(), dst); break;
    case DataType::Int16: convert<int16_t>(p.int32_data(), dst); break;
    case DataType::Int8: convert<int8_t>(p.int32_data(), dst); break;
    case DataType::UInt8: convert<uint8_t>(p.int32_data(), dst); break;
    // float16/bfloat16 values sit in the low 16 bits as raw bit patterns.
    case DataType::UInt16: case DataType::Float16: case DataType::BFloat16:
      convert<uint16_t>(p.int32_data(), dst);
      break;
    case DataType::Bool: {
      auto* out = static_cast<uint8_t*>(dst);
      for (int i = 0; i < p.int32_data_size(); ++i) out[i] = p.int32_data(i) != 0;
      break;
    }
    default: throw Error(ErrorCode::Internal, "copy_typed: unhandled dtype");
  }
}

}  // namespace

Tensor tensor_from_proto(const ::onnx::TensorProto& p, const ExternalDataResolver* external,
                         const std::string& label, bool load_external) {
  const int32_t raw_dt = p.data_type();
  if (raw_dt == 0) invalid(label, "tensor has no data type");
  const auto dt = static_cast<DataType>(raw_dt);
  if (dt == DataType::String)
    throw Error(ErrorCode::Unsupported, label + ": string tensors are not supported");
  if (!dtype_is_supported(dt))
    throw Error(ErrorCode::Unsupported, label + ": dtype " + onnx_dtype_name(raw_dt) + " is not supported");
  if (p.has_segment())
    throw Error(ErrorCode::Unsupported, label + ": segmented tensors are not supported");

  Shape shape(p.dims().begin(), p.dims().end());
  const uint64_t elem = dtype_size(dt);
  uint64_t numel = 1;
  for (int64_t d : shape) {
    if (d < 0) invalid(label, "negative dimension in shape " + shape_str(shape));
    if (d != 0 && numel > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / static_cast<uint64_t>(d))
      invalid(label, "element count of shape " + shape_str(shape) + " overflows");
    numel *= static_cast<uint64_t>(d);
  }
  if (numel > std::numeric_limits<uint64_t>::max() / elem ||
      numel * elem > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    invalid(label, "byte size of shape " + shape_str(shape) + " overflows");
  const uint64_t nbytes = numel * elem;

  const Field want = field_for(dt);
  for (Field f : {Field::Float, Field::Int32, Field::Int64, Field::Double, Field::UInt64})
    if (f != want && field_size(p, f) > 0)
      invalid(label, std::string("holds values in ") + field_name(f) + ", which does not match dtype " +
                         std::string(dtype_name(dt)));
  if (p.string_data_size() > 0) invalid(label, "holds string_data but has dtype " + std::string(dtype_name(dt)));
  const bool has_typed = field_size(p, want) > 0;

  if (p.data_location() == ::onnx::TensorProto::EXTERNAL) {
    if (p.has_raw_data() || has_typed) invalid(label, "has both external data and inline data");
    if (!external)
      throw Error(ErrorCode::InvalidArgument, label + ": uses external data, but no model directory is known");
    const ExternalRef ref = external->parse(p, nbytes, label);
    if (!load_external) return Tensor::wrap(nullptr, dt, std::move(shape));
    Tensor t = Tensor::empty(dt, std::move(shape));
    external->read(ref, t.raw(), label);
    return t;
  }

  if (p.has_raw_data()) {
    if (has_typed) invalid(label, std::string("has both raw_data and ") + field_name(want));
    if (p.raw_data().size() != nbytes)
      invalid(label, "raw_data holds " + std::to_string(p.raw_data().size()) + " bytes but shape " +
                         shape_str(shape) + " of " + std::string(dtype_name(dt)) + " needs " +
                         std::to_string(nbytes));
    Tensor t = Tensor::empty(dt, std::move(shape));
    if (nbytes) std::memcpy(t.raw(), p.raw_data().data(), nbytes);
    return t;
  }

  const auto count = static_cast<uint64_t>(field_size(p, want));
  if (count != numel)
    invalid(label, "shape " + shape_str(shape) + " needs " + std::to_string(numel) + " values but " +
                       field_name(want) + " holds " + std::to_string(count));
  Tensor t = Tensor::empty(dt, std::move(shape));
  if (numel) copy_typed(p, dt, t.raw());
  return t;
}

Tensor load_tensor_pb(const std::string& path, std::string* name) {
  const std::string bytes = read_file_bytes(path, k_max_proto_bytes, "tensor");
  if (bytes.empty()) throw Error(ErrorCode::InvalidModel, "tensor file '" + path + "' is empty");
  ::onnx::TensorProto proto;
  if (!parse_proto(bytes, proto))
    throw Error(ErrorCode::InvalidModel, "tensor file '" + path + "' is not a valid TensorProto");
  const size_t slash = path.find_last_of('/');
  const ExternalDataResolver external(slash == std::string::npos ? "." : path.substr(0, slash + 1));
  if (name) *name = proto.name();
  return tensor_from_proto(proto, &external, "tensor file '" + path + "' ('" + proto.name() + "')");
}

}  // namespace kiln::onnx
