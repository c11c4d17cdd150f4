// Backend consistency cases, in the manner of ggml's test-backend-ops: each
// case is one node with inputs; test_backend_ops.cpp runs it on the CPU (the
// reference) and on every kernel candidate of every other backend present,
// on the same inputs, and compares with the case's tolerance. Each CUDA
// family adds its cases in <family>_cases.cpp; a registered op without a case
// fails the coverage test.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "kiln/tensor.h"

namespace kiln::test::ops {

struct OpCase {
  std::string name;        // unique, e.g. "Add f32 [2,3,4]+[4]"
  std::string op;          // op type
  std::string domain;      // "" (ONNX) or "com.kiln"
  std::vector<Tensor> inputs;  // host tensors; an undefined Tensor = omitted optional input
  std::map<std::string, ir::Attribute> attrs;
  int num_outputs = 1;
  int64_t opset = 21;
  // |got - want| <= tol * max(1, |want|) per element for float outputs;
  // integer and bool outputs must match exactly.
  double tol = 1e-5;
  // Outputs compared (others, e.g. TopK's indices under ties, are not);
  // empty = all.
  std::vector<int> compare;
  // Candidates that must take this case. The others may refuse it (a
  // candidate for only some forms of an op, like Attention's "flash") when
  // the op's preferred candidate takes it; a refusal is counted, not failed.
  std::vector<std::string> takes;
  // Layout attributes (kiln_in_layouts, kiln_out_layout: 1 = channels last,
  // as passes/assign_cuda_layouts.cpp writes them) are honoured: `inputs`
  // are NCHW, the device gets those inputs permuted to NHWC and its output 0
  // is permuted back before comparing; the CPU runs the node without any
  // kiln_* attribute. kiln_w_layout is not emulated (cases give it only to
  // 1x1 weights, the same bytes in both layouts).
};

// ---- attribute and tensor helpers ----
ir::Attribute a_int(int64_t v);
ir::Attribute a_float(float v);
ir::Attribute a_str(std::string v);
ir::Attribute a_ints(std::vector<int64_t> v);
ir::Attribute a_floats(std::vector<float> v);

// Deterministic pseudo-random tensors, the same on every machine.
Tensor rand_f32(Shape shape, uint32_t seed, float lo = -1.f, float hi = 1.f);
// Float values of dtype `dt` (f32, f64, f16, bf16) in [lo, hi).
Tensor rand_float(DataType dt, Shape shape, uint32_t seed, float lo = -1.f, float hi = 1.f);
// Integers of dtype `dt` (any integer type, or bool) in [lo, hi].
Tensor rand_int(DataType dt, Shape shape, uint32_t seed, int64_t lo, int64_t hi);
Tensor f32(Shape shape, std::vector<float> v);
Tensor i64(Shape shape, std::vector<int64_t> v);
Tensor i32(Shape shape, std::vector<int32_t> v);
Tensor boolean(Shape shape, std::vector<bool> v);
Tensor scalar_i64(int64_t v);
Tensor scalar_f32(float v);

// ---- the cases, one list per CUDA family (<family>_cases.cpp) ----
std::vector<OpCase> elementwise_cases();
std::vector<OpCase> tensor_cases();
std::vector<OpCase> reduce_cases();
std::vector<OpCase> nn_cases();
std::vector<OpCase> nn_norm_cases();  // norms, softmax, pools (nn_norm_cases.cpp)
std::vector<OpCase> detection_cases();

inline std::vector<OpCase> all_cases() {
  std::vector<OpCase> all;
  for (auto* f : {elementwise_cases, tensor_cases, reduce_cases, nn_cases, nn_norm_cases, detection_cases}) {
    std::vector<OpCase> c = f();
    all.insert(all.end(), c.begin(), c.end());
  }
  return all;
}

}  // namespace kiln::test::ops
