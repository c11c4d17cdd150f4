// Tensors as kiln's public API sees them: a dtype, a shape and a buffer on a
// device. A Tensor is a cheap handle (shared ownership of its storage); copying
// a Tensor aliases the data, Tensor::clone() copies it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace kiln {

// Values match onnx.TensorProto.DataType so import needs no table.
enum class DataType : int32_t {
  Undefined = 0,
  Float32 = 1,
  UInt8 = 2,
  Int8 = 3,
  UInt16 = 4,
  Int16 = 5,
  Int32 = 6,
  Int64 = 7,
  String = 8,
  Bool = 9,
  Float16 = 10,
  Float64 = 11,
  UInt32 = 12,
  UInt64 = 13,
  Complex64 = 14,
  Complex128 = 15,
  BFloat16 = 16,
};

// Bytes per element; 0 for String/Undefined/unknown (kiln stores no strings).
size_t dtype_size(DataType dt);
std::string_view dtype_name(DataType dt);  // "float32", "int64", ...
// Parses dtype_name() output and the NumPy descr codes ("<f4", "|b1", ...).
bool dtype_from_name(std::string_view name, DataType* out);
bool dtype_is_float(DataType dt);   // f16, bf16, f32, f64
bool dtype_is_supported(DataType dt);  // kiln can hold it in a Tensor

using Shape = std::vector<int64_t>;
int64_t shape_numel(const Shape& shape);  // 1 for a scalar; throws on overflow
std::string shape_str(const Shape& shape);  // "[1,3,224,224]"

enum class DeviceKind : int32_t { CPU = 0, CUDA = 1 };
struct Device {
  DeviceKind kind = DeviceKind::CPU;
  int index = 0;
  bool operator==(const Device&) const = default;
  bool is_host() const { return kind == DeviceKind::CPU; }
  std::string str() const;  // "cpu", "cuda:0"
  // "cpu", "cuda" (= cuda:0), "cuda:N"; kiln::Error(InvalidArgument) otherwise.
  static Device parse(std::string_view text);
};
std::string_view device_kind_name(DeviceKind kind);  // "cpu", "cuda"

class Tensor {
 public:
  Tensor() = default;
  // Allocates zero-filled host memory.
  static Tensor empty(DataType dtype, Shape shape);
  // Wraps memory owned elsewhere; `keep_alive` (may be null) is held as long as
  // any handle to the tensor lives.
  static Tensor wrap(void* data, DataType dtype, Shape shape, Device device = {},
                     std::shared_ptr<void> keep_alive = nullptr);
  template <typename T>
  static Tensor from_vector(DataType dtype, Shape shape, const std::vector<T>& values);

  bool defined() const { return m_dtype != DataType::Undefined; }
  DataType dtype() const { return m_dtype; }
  const Shape& shape() const { return m_shape; }
  int64_t rank() const { return static_cast<int64_t>(m_shape.size()); }
  int64_t numel() const { return shape_numel(m_shape); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(m_dtype); }
  const Device& device() const { return m_device; }

  void* raw() { return m_data; }
  const void* raw() const { return m_data; }
  template <typename T> T* data() { return static_cast<T*>(m_data); }
  template <typename T> const T* data() const { return static_cast<const T*>(m_data); }

  bool on_host() const { return m_device.is_host(); }
  // Deep copy into fresh host memory (host tensors only; see kiln/device.h for
  // copies between devices).
  Tensor clone() const;
  // Same storage, another shape of the same element count.
  Tensor reshaped(Shape shape) const;

 private:
  DataType m_dtype = DataType::Undefined;
  Shape m_shape;
  Device m_device;
  void* m_data = nullptr;
  std::shared_ptr<void> m_storage;
};

[[noreturn]] void throw_invalid_argument(const std::string& what);  // kiln::Error(InvalidArgument)

template <typename T>
Tensor Tensor::from_vector(DataType dtype, Shape shape, const std::vector<T>& values) {
  Tensor t = empty(dtype, std::move(shape));
  if (static_cast<size_t>(t.numel()) != values.size() || sizeof(T) != dtype_size(dtype))
    throw_invalid_argument("Tensor::from_vector: size or dtype mismatch");
  std::copy(values.begin(), values.end(), t.data<T>());
  return t;
}

}  // namespace kiln
