// Calls a generic lambda with a value of the C++ type matching a DataType, so a
// kernel is written once as a template: dispatch(dt, [&](auto tag) { using T = decltype(tag); ... }).
#pragma once

#include <cstdint>
#include <string>

#include "core/half.h"
#include "kiln/error.h"
#include "kiln/tensor.h"

namespace kiln {

template <typename T> struct DTypeOf;
template <> struct DTypeOf<float> { static constexpr DataType value = DataType::Float32; };
template <> struct DTypeOf<double> { static constexpr DataType value = DataType::Float64; };
template <> struct DTypeOf<Half> { static constexpr DataType value = DataType::Float16; };
template <> struct DTypeOf<BFloat16> { static constexpr DataType value = DataType::BFloat16; };
template <> struct DTypeOf<int8_t> { static constexpr DataType value = DataType::Int8; };
template <> struct DTypeOf<int16_t> { static constexpr DataType value = DataType::Int16; };
template <> struct DTypeOf<int32_t> { static constexpr DataType value = DataType::Int32; };
template <> struct DTypeOf<int64_t> { static constexpr DataType value = DataType::Int64; };
template <> struct DTypeOf<uint8_t> { static constexpr DataType value = DataType::UInt8; };
template <> struct DTypeOf<uint16_t> { static constexpr DataType value = DataType::UInt16; };
template <> struct DTypeOf<uint32_t> { static constexpr DataType value = DataType::UInt32; };
template <> struct DTypeOf<uint64_t> { static constexpr DataType value = DataType::UInt64; };
template <> struct DTypeOf<bool> { static constexpr DataType value = DataType::Bool; };

[[noreturn]] inline void unsupported_dtype(DataType dt, const std::string& where) {
  throw Error(ErrorCode::Unsupported, where + ": dtype " + std::string(dtype_name(dt)) + " is not supported");
}

// Float types only (f32, f64, f16, bf16).
template <typename F>
decltype(auto) dispatch_float(DataType dt, const std::string& where, F&& f) {
  switch (dt) {
    case DataType::Float32: return f(float{});
    case DataType::Float64: return f(double{});
    case DataType::Float16: return f(Half{});
    case DataType::BFloat16: return f(BFloat16{});
    default: unsupported_dtype(dt, where);
  }
}

// Every numeric type (no bool).
template <typename F>
decltype(auto) dispatch_numeric(DataType dt, const std::string& where, F&& f) {
  switch (dt) {
    case DataType::Float32: return f(float{});
    case DataType::Float64: return f(double{});
    case DataType::Float16: return f(Half{});
    case DataType::BFloat16: return f(BFloat16{});
    case DataType::Int8: return f(int8_t{});
    case DataType::Int16: return f(int16_t{});
    case DataType::Int32: return f(int32_t{});
    case DataType::Int64: return f(int64_t{});
    case DataType::UInt8: return f(uint8_t{});
    case DataType::UInt16: return f(uint16_t{});
    case DataType::UInt32: return f(uint32_t{});
    case DataType::UInt64: return f(uint64_t{});
    default: unsupported_dtype(dt, where);
  }
}

// Every type a Tensor can hold, bool included.
template <typename F>
decltype(auto) dispatch_all(DataType dt, const std::string& where, F&& f) {
  if (dt == DataType::Bool) return f(bool{});
  return dispatch_numeric(dt, where, std::forward<F>(f));
}

// Reads element i of a tensor of any numeric/bool dtype as T (used for shape-like
// inputs such as Reshape's shape or Slice's starts, which may be int32 or int64).
int64_t read_int(const Tensor& t, int64_t i);
double read_double(const Tensor& t, int64_t i);
std::vector<int64_t> read_ints(const Tensor& t);

}  // namespace kiln
