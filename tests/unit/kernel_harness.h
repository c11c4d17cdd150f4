// Runs one node through the CPU kernel table and the IR shape inference, for op
// unit tests. Checks that inference agrees with what the kernel produced.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "kiln/error.h"
#include "ir/op_schema.h"

namespace kiln::test {

struct NodeSpec {
  std::string op;
  std::vector<Tensor> inputs;  // an undefined Tensor = omitted optional input
  std::map<std::string, ir::Attribute> attrs;
  int num_outputs = 1;
  int64_t opset = 21;
};

inline ir::Attribute attr_i(int64_t v) { ir::Attribute a; a.kind = ir::Attribute::Kind::Int; a.i = v; return a; }
inline ir::Attribute attr_f(float v) { ir::Attribute a; a.kind = ir::Attribute::Kind::Float; a.f = v; return a; }
inline ir::Attribute attr_s(std::string v) { ir::Attribute a; a.kind = ir::Attribute::Kind::String; a.s = std::move(v); return a; }
inline ir::Attribute attr_ints(std::vector<int64_t> v) { ir::Attribute a; a.kind = ir::Attribute::Kind::Ints; a.ints = std::move(v); return a; }
inline ir::Attribute attr_floats(std::vector<float> v) { ir::Attribute a; a.kind = ir::Attribute::Kind::Floats; a.floats = std::move(v); return a; }

// Inputs are given to shape inference as constants when `const_inputs` is true
// (so shape-input ops like Reshape can infer fully), else as graph inputs. The
// kernel comes from `registry`, or the CPU backend's table when null.
inline std::vector<Tensor> run_node(const NodeSpec& spec, bool const_inputs = true,
                                    const backend::KernelRegistry* registry = nullptr) {
  ir::Graph g;
  g.opsets[""] = spec.opset;
  ir::Node node;
  node.name = "n0";
  node.op_type = spec.op;
  node.attrs = spec.attrs;
  for (size_t i = 0; i < spec.inputs.size(); ++i) {
    const Tensor& t = spec.inputs[i];
    if (!t.defined()) { node.inputs.push_back(ir::k_no_value); continue; }
    ir::Value v;
    v.name = "in" + std::to_string(i);
    v.dtype = t.dtype();
    v.shape = ir::to_sym(t.shape());
    if (const_inputs) v.constant = t;
    ir::ValueId id = g.add_value(v);
    if (!const_inputs) g.inputs.push_back(id);
    node.inputs.push_back(id);
  }
  for (int i = 0; i < spec.num_outputs; ++i) {
    ir::Value v;
    v.name = "out" + std::to_string(i);
    ir::ValueId id = g.add_value(v);
    node.outputs.push_back(id);
    g.outputs.push_back(id);
  }
  g.add_node(node);
  ir::infer_node(g, g.nodes[0]);

  const auto* factory = (registry ? *registry : backend::cpu_backend().kernels()).find(spec.op);
  if (!factory) throw Error(ErrorCode::Unsupported, std::string(registry ? "no reference" : "no CPU") + " kernel for " + spec.op);
  auto kernel = (*factory)(g.nodes[0], g);
  std::vector<const Tensor*> ins;
  for (const Tensor& t : spec.inputs) ins.push_back(t.defined() ? &t : nullptr);
  std::vector<Tensor> outs(static_cast<size_t>(spec.num_outputs));
  backend::KernelContext ctx(g.nodes[0], spec.opset, ins, outs,
                             [](size_t, DataType dt, const Shape& s) { return Tensor::empty(dt, s); },
                             nullptr);
  kernel->run(ctx);
  for (int i = 0; i < spec.num_outputs; ++i) {
    const ir::Value& v = g.value(g.nodes[0].outputs[static_cast<size_t>(i)]);
    EXPECT_EQ(v.dtype, outs[static_cast<size_t>(i)].dtype()) << spec.op << " output " << i << " dtype";
    if (v.shape && ir::shape_known(*v.shape)) {
      EXPECT_EQ(ir::to_shape(*v.shape), outs[static_cast<size_t>(i)].shape())
          << spec.op << " output " << i << ": inferred shape differs from the kernel's";
    }
  }
  return outs;
}

template <typename T>
std::vector<T> values(const Tensor& t) {
  return std::vector<T>(t.data<T>(), t.data<T>() + t.numel());
}

// Deterministic pseudo-random values in [lo, hi), the same on every machine.
inline std::vector<float> rnd(int64_t n, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::vector<float> v(static_cast<size_t>(n));
  uint32_t s = seed * 2654435761u + 97u;
  for (auto& x : v) {
    s = s * 1664525u + 1013904223u;
    x = lo + (hi - lo) * static_cast<float>(s >> 8) / static_cast<float>(1u << 24);
  }
  return v;
}

inline Tensor f32(Shape shape, std::vector<float> v) { return Tensor::from_vector(DataType::Float32, std::move(shape), v); }
inline Tensor i64(Shape shape, std::vector<int64_t> v) { return Tensor::from_vector(DataType::Int64, std::move(shape), v); }

// Shape inference alone for one node: inputs as (dtype, shape, optional
// constant value). Returns the output values.
struct InferInput {
  DataType dtype = DataType::Float32;
  std::optional<ir::SymShape> shape;  // nullopt: rank unknown
  std::optional<Tensor> constant;
};

inline std::vector<ir::Value> infer_only(const std::string& op, const std::vector<InferInput>& ins,
                                         const std::map<std::string, ir::Attribute>& attrs = {},
                                         int64_t opset = 21, int n_out = 1) {
  ir::Graph g;
  g.opsets[""] = opset;
  ir::Node node;
  node.name = "n0";
  node.op_type = op;
  node.attrs = attrs;
  for (size_t i = 0; i < ins.size(); ++i) {
    ir::Value v;
    v.name = "in" + std::to_string(i);
    v.dtype = ins[i].dtype;
    v.shape = ins[i].shape;
    v.constant = ins[i].constant;
    node.inputs.push_back(g.add_value(v));
  }
  for (int i = 0; i < n_out; ++i) {
    ir::Value v;
    v.name = "out" + std::to_string(i);
    node.outputs.push_back(g.add_value(v));
  }
  g.add_node(node);
  ir::infer_node(g, g.nodes[0]);
  std::vector<ir::Value> outs;
  for (ir::ValueId id : g.nodes[0].outputs) outs.push_back(g.value(id));
  return outs;
}

// Expects fn to throw kiln::Error with this code and a message containing `part`.
inline void expect_error(const std::function<void()>& fn, ErrorCode code, const std::string& part = "n0") {
  try {
    fn();
    ADD_FAILURE() << "expected kiln::Error(" << to_string(code) << ") containing '" << part << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

}  // namespace kiln::test
