// Helpers for the reduce, quant and detection op tests: deterministic random
// values, value checks that treat NaN/inf as equal to themselves, error
// expectations and inference-only runs on symbolic shapes.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "core/dispatch.h"
#include "kernel_harness.h"

// NodeSpec{op, inputs} leaves attrs to their defaults on purpose throughout these tests.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace kiln::test::rq {

using kiln::test::rnd;

// Any numeric tensor's values as doubles.
inline std::vector<double> doubles(const Tensor& t) {
  std::vector<double> out;
  for (int64_t i = 0; i < t.numel(); ++i) out.push_back(read_double(t, i));
  return out;
}

inline void expect_close(const Tensor& got, const Shape& shape, const std::vector<double>& want, double tol,
                         const std::string& what = "") {
  ASSERT_EQ(got.shape(), shape) << what;
  const std::vector<double> g = doubles(got);
  ASSERT_EQ(g.size(), want.size()) << what;
  int bad = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    const bool same = (std::isnan(g[i]) && std::isnan(want[i])) || g[i] == want[i] ||
                      std::fabs(g[i] - want[i]) <= tol * std::max(1.0, std::fabs(want[i]));
    if (!same && ++bad <= 5) ADD_FAILURE() << what << " element " << i << ": got " << g[i] << ", want " << want[i];
  }
  EXPECT_EQ(bad, 0) << what << ": " << bad << " mismatches";
}

// Exact comparison for integer results.
inline void expect_ints(const Tensor& got, const Shape& shape, const std::vector<int64_t>& want,
                        const std::string& what = "") {
  ASSERT_EQ(got.shape(), shape) << what;
  std::vector<int64_t> g;
  for (int64_t i = 0; i < got.numel(); ++i) g.push_back(read_int(got, i));
  EXPECT_EQ(g, want) << what;
}



template <typename T>
Tensor typed(DataType dt, Shape shape, const std::vector<T>& v) {
  return Tensor::from_vector(dt, std::move(shape), v);
}

}  // namespace kiln::test::rq
