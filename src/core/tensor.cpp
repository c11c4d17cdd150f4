#include "kiln/tensor.h"

#include <cstdlib>
#include <cstring>
#include <limits>

#include "kiln/error.h"

namespace kiln {

size_t dtype_size(DataType dt) {
  switch (dt) {
    case DataType::Float32: case DataType::Int32: case DataType::UInt32: return 4;
    case DataType::UInt8: case DataType::Int8: case DataType::Bool: return 1;
    case DataType::UInt16: case DataType::Int16: case DataType::Float16:
    case DataType::BFloat16: return 2;
    case DataType::Int64: case DataType::UInt64: case DataType::Float64:
    case DataType::Complex64: return 8;
    case DataType::Complex128: return 16;
    default: return 0;
  }
}

namespace {
struct DTypeName { DataType dt; const char* name; const char* npy; };
constexpr DTypeName k_names[] = {
    {DataType::Float32, "float32", "<f4"}, {DataType::Float64, "float64", "<f8"},
    {DataType::Float16, "float16", "<f2"}, {DataType::BFloat16, "bfloat16", "<V2"},
    {DataType::Int8, "int8", "|i1"},       {DataType::Int16, "int16", "<i2"},
    {DataType::Int32, "int32", "<i4"},     {DataType::Int64, "int64", "<i8"},
    {DataType::UInt8, "uint8", "|u1"},     {DataType::UInt16, "uint16", "<u2"},
    {DataType::UInt32, "uint32", "<u4"},   {DataType::UInt64, "uint64", "<u8"},
    {DataType::Bool, "bool", "|b1"},       {DataType::String, "string", ""},
    {DataType::Complex64, "complex64", "<c8"}, {DataType::Complex128, "complex128", "<c16"},
};
}  // namespace

std::string_view dtype_name(DataType dt) {
  for (const auto& n : k_names)
    if (n.dt == dt) return n.name;
  return "undefined";
}

bool dtype_from_name(std::string_view name, DataType* out) {
  for (const auto& n : k_names) {
    if (name == n.name || (n.npy[0] && name == n.npy)) {
      *out = n.dt;
      return true;
    }
  }
  // NumPy also writes one-byte types with '<' or '=' and bools as "?".
  if (name == "<i1" || name == "=i1") return *out = DataType::Int8, true;
  if (name == "<u1" || name == "=u1") return *out = DataType::UInt8, true;
  if (name == "<b1" || name == "=b1") return *out = DataType::Bool, true;
  return false;
}

bool dtype_is_float(DataType dt) {
  return dt == DataType::Float32 || dt == DataType::Float64 || dt == DataType::Float16 ||
         dt == DataType::BFloat16;
}

bool dtype_is_supported(DataType dt) {
  return dtype_size(dt) != 0 && dt != DataType::Complex64 && dt != DataType::Complex128;
}

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw Error(ErrorCode::InvalidArgument, "negative dimension in shape " + shape_str(shape));
    if (d != 0 && n > std::numeric_limits<int64_t>::max() / d)
      throw Error(ErrorCode::InvalidArgument, "element count overflows int64 in shape " + shape_str(shape));
    n *= d;
  }
  return n;
}

std::string shape_str(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ",";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

std::string_view device_kind_name(DeviceKind kind) { return kind == DeviceKind::CPU ? "cpu" : "cuda"; }

std::string Device::str() const {
  return kind == DeviceKind::CPU ? "cpu" : "cuda:" + std::to_string(index);
}

Device Device::parse(std::string_view text) {
  const auto bad = [&] {
    return Error(ErrorCode::InvalidArgument, "device '" + std::string(text) + "': expected cpu, cuda or cuda:N");
  };
  if (text == "cpu") return Device{DeviceKind::CPU, 0};
  if (text.substr(0, 4) != "cuda") throw bad();
  Device d{DeviceKind::CUDA, 0};
  if (text.size() == 4) return d;
  if (text[4] != ':' || text.size() == 5 || text.size() > 9) throw bad();
  int index = 0;
  for (char c : text.substr(5)) {
    if (c < '0' || c > '9') throw bad();
    index = index * 10 + (c - '0');
  }
  d.index = index;
  return d;
}

void throw_invalid_argument(const std::string& what) { throw Error(ErrorCode::InvalidArgument, what); }

Tensor Tensor::empty(DataType dtype, Shape shape) {
  if (!dtype_is_supported(dtype))
    throw Error(ErrorCode::Unsupported, "cannot allocate a tensor of dtype " + std::string(dtype_name(dtype)));
  const int64_t n = shape_numel(shape);
  // A model can ask for [2^62] int64s; the byte count must not wrap to a small buffer.
  if (static_cast<uint64_t>(n) > (std::numeric_limits<size_t>::max() - 128) / dtype_size(dtype))
    throw Error(ErrorCode::OutOfMemory, "tensor of shape " + shape_str(shape) + " is too large to allocate");
  const size_t bytes = static_cast<size_t>(n) * dtype_size(dtype);
  // 64-byte alignment suits AVX-512 loads and oneDNN; +1 keeps empty tensors non-null.
  void* p = std::aligned_alloc(64, ((bytes + 63) / 64) * 64 + 64);
  if (!p) throw Error(ErrorCode::OutOfMemory, "host allocation of " + std::to_string(bytes) + " bytes failed");
  std::memset(p, 0, bytes);
  Tensor t;
  t.m_dtype = dtype;
  t.m_shape = std::move(shape);
  t.m_data = p;
  t.m_storage = std::shared_ptr<void>(p, [](void* q) { std::free(q); });
  return t;
}

Tensor Tensor::wrap(void* data, DataType dtype, Shape shape, Device device,
                    std::shared_ptr<void> keep_alive) {
  shape_numel(shape);  // validates
  Tensor t;
  t.m_dtype = dtype;
  t.m_shape = std::move(shape);
  t.m_device = device;
  t.m_data = data;
  t.m_storage = std::move(keep_alive);
  return t;
}

Tensor Tensor::clone() const {
  if (m_device.kind != DeviceKind::CPU)
    throw Error(ErrorCode::InvalidArgument, "Tensor::clone of a device tensor; copy it to the host first");
  Tensor t = empty(m_dtype, m_shape);
  if (nbytes()) std::memcpy(t.m_data, m_data, nbytes());
  return t;
}

Tensor Tensor::reshaped(Shape shape) const {
  if (shape_numel(shape) != numel())
    throw Error(ErrorCode::InvalidArgument, "cannot reshape " + shape_str(m_shape) + " to " + shape_str(shape));
  Tensor t = *this;
  t.m_shape = std::move(shape);
  return t;
}

}  // namespace kiln
