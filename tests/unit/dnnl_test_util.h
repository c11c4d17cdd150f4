// Helpers for the oneDNN tests: one node run through a given kernel registry
// (the backend's, where oneDNN kernels override, or a registry of reference
// kernels only), and a comparison with a per-op tolerance (ggml
// test-backend-ops style: same random inputs, both paths, compare).
#pragma once

// OpCase{op, inputs} leaves the other fields to their defaults on purpose.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/dnnl/context.h"
#include "backends/cpu/kernels/families.h"
#include "backends/cpu/kernels/fused_kernels.h"
#include "backends/kernel.h"
#include "ir/op_schema.h"
#include "kiln/error.h"

namespace kiln::test::dnnl_util {

// The reference kernels alone (what register_all_cpu_kernels gives minus oneDNN).
inline const backend::KernelRegistry& reference_kernels() {
  static const backend::KernelRegistry r = [] {
    backend::KernelRegistry reg;
    backend::register_cpu_elementwise(reg);
    backend::register_cpu_nn(reg);
    backend::register_cpu_tensor(reg);
    backend::register_cpu_fused(reg);
    return reg;
  }();
  return r;
}

struct OpCase {
  std::string op;
  std::vector<Tensor> inputs;  // undefined = omitted optional input
  std::map<std::string, ir::Attribute> attrs;
  std::string domain;          // "com.kiln" for fused ops
  int64_t opset = 17;
  bool const_weights = true;   // inputs 1.. as graph constants (weights), else graph inputs
  int num_outputs = 1;
};

// Runs the case twice on one kernel instance (the second run uses the cached
// plan) and returns the second run's outputs; expects both runs to agree.
inline std::vector<Tensor> run_with(const backend::KernelFactory& factory, const OpCase& c) {
  ir::Graph g;
  g.opsets[""] = c.opset;
  g.opsets["com.kiln"] = 1;
  ir::Node node;
  node.name = "n0";
  node.op_type = c.op;
  node.domain = c.domain;
  node.attrs = c.attrs;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    const Tensor& t = c.inputs[i];
    if (!t.defined()) { node.inputs.push_back(ir::k_no_value); continue; }
    ir::Value v;
    v.name = "in" + std::to_string(i);
    v.dtype = t.dtype();
    v.shape = ir::to_sym(t.shape());
    if (i > 0 && c.const_weights) v.constant = t;
    const ir::ValueId id = g.add_value(v);
    if (!v.constant) g.inputs.push_back(id);
    node.inputs.push_back(id);
  }
  for (int i = 0; i < c.num_outputs; ++i) {
    ir::Value v;
    v.name = "out" + std::to_string(i);
    node.outputs.push_back(g.add_value(v));
  }
  g.add_node(node);
  ir::infer_node(g, g.nodes[0]);
  auto kernel = factory(g.nodes[0], g);
  std::vector<const Tensor*> ins;
  for (const Tensor& t : c.inputs) ins.push_back(t.defined() ? &t : nullptr);
  std::vector<Tensor> first;
  for (int run = 0; run < 2; ++run) {
    std::vector<Tensor> outs(static_cast<size_t>(c.num_outputs));
    backend::KernelContext ctx(g.nodes[0], c.domain.empty() ? c.opset : 1, ins, outs,
                               [](size_t, DataType dt, const Shape& s) { return Tensor::empty(dt, s); }, nullptr);
    kernel->run(ctx);
    const ir::Value& v = g.value(g.nodes[0].outputs[0]);
    if (v.shape && ir::shape_known(*v.shape)) {
      EXPECT_EQ(ir::to_shape(*v.shape), outs[0].shape()) << c.op;
    }
    if (run == 0) { first = outs; continue; }
    for (size_t k = 0; k < outs.size(); ++k)
      EXPECT_EQ(0, std::memcmp(first[k].raw(), outs[k].raw(), outs[k].nbytes())) << c.op << ": runs differ";
    return outs;
  }
  return first;
}

inline std::vector<Tensor> run_on(const backend::KernelRegistry& reg, const OpCase& c) {
  const auto* factory = reg.find(c.op);
  if (!factory) throw Error(ErrorCode::Unsupported, "no kernel for " + c.op);
  return run_with(*factory, c);
}

// |got - want| <= tol * max(1, |want|) for every element (float32/float64).
inline void expect_close(const Tensor& got, const Tensor& want, double tol, const std::string& what) {
  ASSERT_EQ(got.dtype(), want.dtype()) << what;
  ASSERT_EQ(got.shape(), want.shape()) << what;
  int bad = 0;
  for (int64_t i = 0; i < got.numel(); ++i) {
    const double a = got.dtype() == DataType::Float64 ? got.data<double>()[i] : got.data<float>()[i];
    const double b = want.dtype() == DataType::Float64 ? want.data<double>()[i] : want.data<float>()[i];
    if (!(std::fabs(a - b) <= tol * std::max(1.0, std::fabs(b))) && ++bad <= 5)
      ADD_FAILURE() << what << ": element " << i << " got " << a << " want " << b;
  }
  EXPECT_EQ(bad, 0) << what;
}

// Runs on the backend and on the reference kernels and compares. `dnnl`:
// whether oneDNN must have computed it (else the reference fallback must have).
inline void check_case(const OpCase& c, bool dnnl, const std::string& what, double tol = 1e-4) {
  SCOPED_TRACE(what);
  const uint64_t before = backend::onednn::primitive_runs();
  const std::vector<Tensor> got = run_on(backend::cpu_backend().kernels(), c);
  const uint64_t ran = backend::onednn::primitive_runs() - before;
  EXPECT_EQ(ran > 0, dnnl) << what << (dnnl ? ": expected oneDNN to run it" : ": expected the reference fallback");
  const std::vector<Tensor> want = run_on(reference_kernels(), c);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) expect_close(got[i], want[i], tol, what + " output " + std::to_string(i));
}

inline Tensor random(Shape shape, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  Tensor t = Tensor::empty(DataType::Float32, shape);
  uint32_t s = seed * 2654435761u + 12345u;
  for (int64_t i = 0; i < t.numel(); ++i) {
    s = s * 1664525u + 1013904223u;
    t.data<float>()[i] = lo + (hi - lo) * static_cast<float>(s >> 8) / static_cast<float>(1u << 24);
  }
  return t;
}

inline ir::Attribute ai(int64_t v) { ir::Attribute a; a.kind = ir::Attribute::Kind::Int; a.i = v; return a; }
inline ir::Attribute af(float v) { ir::Attribute a; a.kind = ir::Attribute::Kind::Float; a.f = v; return a; }
inline ir::Attribute as(std::string v) { ir::Attribute a; a.kind = ir::Attribute::Kind::String; a.s = std::move(v); return a; }
inline ir::Attribute ais(std::vector<int64_t> v) { ir::Attribute a; a.kind = ir::Attribute::Kind::Ints; a.ints = std::move(v); return a; }

}  // namespace kiln::test::dnnl_util
