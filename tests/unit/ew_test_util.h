// Helpers for the elementwise op tests: typed tensor makers and a naive
// broadcast reference (index arithmetic with division — deliberately not the
// kernels' stride walker).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "core/half.h"
#include "kiln/error.h"
#include "kernel_harness.h"

// NodeSpec{"Op", {inputs}} leaves attrs etc. defaulted on purpose.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace kiln::test {

template <typename T>
Tensor make(DataType dt, Shape shape, std::vector<T> v) {
  return Tensor::from_vector(dt, std::move(shape), v);
}
inline Tensor i32(Shape s, std::vector<int32_t> v) { return make(DataType::Int32, std::move(s), std::move(v)); }
inline Tensor i8(Shape s, std::vector<int8_t> v) { return make(DataType::Int8, std::move(s), std::move(v)); }
inline Tensor u8(Shape s, std::vector<uint8_t> v) { return make(DataType::UInt8, std::move(s), std::move(v)); }
inline Tensor f64(Shape s, std::vector<double> v) { return make(DataType::Float64, std::move(s), std::move(v)); }
inline Tensor boolean(Shape s, std::vector<bool> v) {
  Tensor t = Tensor::empty(DataType::Bool, std::move(s));
  for (size_t i = 0; i < v.size(); ++i) t.data<bool>()[i] = v[i];
  return t;
}
inline Tensor f16(Shape s, const std::vector<float>& v) {
  std::vector<Half> h;
  for (float f : v) h.push_back(Half(f));
  return make(DataType::Float16, std::move(s), h);
}
inline Tensor bf16(Shape s, const std::vector<float>& v) {
  std::vector<BFloat16> h;
  for (float f : v) h.push_back(BFloat16(f));
  return make(DataType::BFloat16, std::move(s), h);
}
template <typename T>
std::vector<float> as_floats(const Tensor& t) {
  std::vector<float> out;
  for (int64_t i = 0; i < t.numel(); ++i) out.push_back(static_cast<float>(t.data<T>()[i]));
  return out;
}
inline std::vector<bool> bools(const Tensor& t) {
  return std::vector<bool>(t.data<bool>(), t.data<bool>() + t.numel());
}

// Deterministic pseudo-random values in [lo, hi).
inline std::vector<float> ramp(int64_t n, float lo, float hi, uint32_t seed = 1) {
  std::vector<float> v(static_cast<size_t>(n));
  uint32_t s = seed * 2654435761u + 12345u;
  for (auto& x : v) {
    s = s * 1664525u + 1013904223u;
    x = lo + (hi - lo) * static_cast<float>(s >> 8) / static_cast<float>(1u << 24);
  }
  return v;
}

// Flat index into an input of shape `s` for output element `i` of shape `out`.
inline int64_t bcast_index(const Shape& out, const Shape& s, int64_t i) {
  int64_t idx = 0, stride = 1;
  for (int64_t d = static_cast<int64_t>(out.size()) - 1, ds = static_cast<int64_t>(s.size()) - 1; d >= 0;
       --d, --ds) {
    const int64_t coord = i % out[static_cast<size_t>(d)];
    i /= out[static_cast<size_t>(d)];
    if (ds >= 0) {
      if (s[static_cast<size_t>(ds)] != 1) idx += coord * stride;
      stride *= s[static_cast<size_t>(ds)];
    }
  }
  return idx;
}

// out[i] = f(a[..], b[..]) by the naive index mapping.
template <typename A, typename B, typename O>
std::vector<O> naive_binary(const std::vector<A>& a, const Shape& sa, const std::vector<B>& b, const Shape& sb,
                            const Shape& out, std::function<O(A, B)> f) {
  std::vector<O> r(static_cast<size_t>(shape_numel(out)));
  for (int64_t i = 0; i < static_cast<int64_t>(r.size()); ++i)
    r[static_cast<size_t>(i)] = f(a[static_cast<size_t>(bcast_index(out, sa, i))],
                                  b[static_cast<size_t>(bcast_index(out, sb, i))]);
  return r;
}

// Runs the node and expects kiln::Error with `code` whose message names node n0.
inline void expect_error(const NodeSpec& spec, ErrorCode code, const std::string& fragment = "") {
  try {
    run_node(spec);
    ADD_FAILURE() << spec.op << ": expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(e.message().find("n0"), std::string::npos) << e.what();
    if (!fragment.empty()) {
      EXPECT_NE(e.message().find(fragment), std::string::npos) << e.what();
    }
  }
}

}  // namespace kiln::test
