// Helpers for the nn op tests: deterministic random tensors, tolerance checks,
// shape-inference-only runs on symbolic shapes, and error expectations.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "backends/cpu/kernels/families.h"
#include "core/half.h"
#include "kernel_harness.h"

// NodeSpec{op, inputs} leaves attrs to its default on purpose throughout these tests.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace kiln::test::nn {

using kiln::test::rnd;
inline Tensor rnd_f32(Shape s, uint32_t seed) { return f32(s, rnd(shape_numel(s), seed)); }

inline Tensor to_f64(const Tensor& t) {
  Tensor o = Tensor::empty(DataType::Float64, t.shape());
  for (int64_t i = 0; i < t.numel(); ++i) o.data<double>()[i] = t.data<float>()[i];
  return o;
}
inline Tensor to_f16(const Tensor& t) {
  Tensor o = Tensor::empty(DataType::Float16, t.shape());
  for (int64_t i = 0; i < t.numel(); ++i) o.data<Half>()[i] = Half(t.data<float>()[i]);
  return o;
}
// Any float tensor's values as floats.
inline std::vector<float> floats(const Tensor& t) {
  std::vector<float> out;
  for (int64_t i = 0; i < t.numel(); ++i) {
    switch (t.dtype()) {
      case DataType::Float32: out.push_back(t.data<float>()[i]); break;
      case DataType::Float64: out.push_back(static_cast<float>(t.data<double>()[i])); break;
      case DataType::Float16: out.push_back(static_cast<float>(t.data<Half>()[i])); break;
      default: ADD_FAILURE() << "floats(): unexpected dtype"; return out;
    }
  }
  return out;
}

inline void expect_close(const Tensor& got, const Shape& shape, const std::vector<float>& want, float tol,
                         const std::string& what = "") {
  ASSERT_EQ(got.shape(), shape) << what;
  const std::vector<float> g = floats(got);
  ASSERT_EQ(g.size(), want.size()) << what;
  int bad = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    const float t = tol * std::max(1.f, std::fabs(want[i]));
    const bool same = g[i] == want[i] || (std::isnan(g[i]) && std::isnan(want[i]));  // incl. infinities
    if (!same && !(std::fabs(g[i] - want[i]) <= t)) {
      if (++bad <= 5) ADD_FAILURE() << what << " element " << i << ": got " << g[i] << ", want " << want[i];
    }
  }
  EXPECT_EQ(bad, 0) << what << ": " << bad << " mismatches";
}

// run_node() from the harness, but with the kernel taken from a registry that
// holds only the reference nn kernels: the CPU backend's own table lets later
// (oneDNN) registrations override them, and these tests are about the
// references. Also checks inferred dtype/shape against the kernel's output.
inline std::vector<Tensor> run_ref(const NodeSpec& spec) {
  static const backend::KernelRegistry registry = [] {
    backend::KernelRegistry r;
    backend::register_cpu_nn(r);
    return r;
  }();
  return run_node(spec, true, &registry);
}


inline ir::Dim sym(const std::string& s) { return ir::Dim::sym(s); }


}  // namespace kiln::test::nn
