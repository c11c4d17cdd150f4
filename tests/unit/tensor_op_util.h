// Helpers for the tensor-family op tests (test_ops_tensor*.cpp): building inputs,
// shape inference alone on symbolic shapes, index arithmetic for naive references.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include "core/half.h"
#include "kiln/error.h"  // before kernel_harness.h, which uses kiln::Error
#include "kernel_harness.h"

// NodeSpec{op, inputs} leaves attrs and the rest at their defaults on purpose.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace kiln::test {

inline InferInput sym_in(DataType dt, std::optional<ir::SymShape> s) { return {dt, std::move(s), std::nullopt}; }
inline InferInput const_in(const Tensor& t) { return {t.dtype(), ir::to_sym(t.shape()), t}; }
inline ir::Dim S(const std::string& name) { return ir::Dim::sym(name); }

inline std::string shape_of(const ir::Value& v) { return v.shape ? ir::sym_str(*v.shape) : "unknown"; }

inline Tensor i32(Shape shape, std::vector<int32_t> v) { return Tensor::from_vector(DataType::Int32, std::move(shape), v); }
inline Tensor f16(Shape shape, const std::vector<float>& v) {
  std::vector<Half> h;
  for (float f : v) h.emplace_back(f);
  return Tensor::from_vector(DataType::Float16, std::move(shape), h);
}
inline std::vector<float> f16_values(const Tensor& t) {
  std::vector<float> out;
  for (int64_t i = 0; i < t.numel(); ++i) out.push_back(static_cast<float>(t.data<Half>()[i]));
  return out;
}
inline Tensor boolean(Shape shape, const std::vector<int>& v) {
  return Tensor::from_vector(DataType::Bool, std::move(shape), std::vector<uint8_t>(v.begin(), v.end()));
}

// 0, 1, 2, ... of a shape, as float32 or int64.
inline Tensor iota_f32(const Shape& shape, float start = 0.f) {
  std::vector<float> v(static_cast<size_t>(shape_numel(shape)));
  std::iota(v.begin(), v.end(), start);
  return f32(shape, v);
}
inline Tensor iota_i64(const Shape& shape, int64_t start = 0) {
  std::vector<int64_t> v(static_cast<size_t>(shape_numel(shape)));
  std::iota(v.begin(), v.end(), start);
  return i64(shape, v);
}

inline std::vector<int64_t> unravel(int64_t flat, const Shape& shape) {
  std::vector<int64_t> idx(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    idx[d] = flat % shape[d];
    flat /= shape[d];
  }
  return idx;
}
inline int64_t ravel(const std::vector<int64_t>& idx, const Shape& shape) {
  int64_t flat = 0;
  for (size_t d = 0; d < shape.size(); ++d) flat = flat * shape[d] + idx[d];
  return flat;
}


inline ir::Attribute attr_tensor(const Tensor& t) {
  ir::Attribute a;
  a.kind = ir::Attribute::Kind::Tensor;
  a.t = t;
  return a;
}

}  // namespace kiln::test
