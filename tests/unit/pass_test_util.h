// Helpers for the tests of graph passes: a graph built value by value and
// node by node, and a run of it node by node on the CPU backend's kernels (so
// a pass's output can be compared with its input without building an engine
// for a backend this machine may lack).
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "backends/kernel.h"
#include "ir/graph.h"
#include "kiln/error.h"

namespace kiln::test {

// Float32 values offset + scale * (a fixed sequence in -11..11).
inline Tensor filled(Shape s, float scale, float offset) {
  Tensor t = Tensor::empty(DataType::Float32, s);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = offset + scale * static_cast<float>((i * 37) % 23 - 11);
  return t;
}

struct GraphBuilder {
  ir::Graph g;
  DataType dtype = DataType::Float32;  // of the values that are not constants
  ir::ValueId v(const std::string& name, Shape shape, std::optional<Tensor> constant = std::nullopt) {
    ir::Value val;
    val.name = name;
    val.dtype = constant ? constant->dtype() : dtype;
    val.shape = ir::to_sym(shape);
    val.constant = std::move(constant);
    return g.add_value(std::move(val));
  }
  ir::Node& n(const std::string& op, std::vector<ir::ValueId> in, std::vector<ir::ValueId> out) {
    ir::Node node;
    node.name = op + std::to_string(g.nodes.size());
    node.op_type = op;
    node.inputs = std::move(in);
    node.outputs = std::move(out);
    g.add_node(std::move(node));
    return g.nodes.back();
  }
};

// Float32 tensors of one shape, element by element within `tol`.
inline void expect_near_all(const Tensor& got, const Tensor& want, double tol) {
  ASSERT_EQ(got.shape(), want.shape());
  for (int64_t i = 0; i < want.numel(); ++i) EXPECT_NEAR(got.data<float>()[i], want.data<float>()[i], tol) << i;
}

inline int count_ops(const ir::Graph& g, const std::string& op) {
  int n = 0;
  for (const ir::Node& node : g.nodes) n += node.op_type == op;
  return n;
}

// Runs the graph node by node on the CPU backend's kernels; inputs in the
// graph's input order.
inline std::vector<Tensor> run_on_cpu(const ir::Graph& g, const std::vector<Tensor>& inputs) {
  std::map<ir::ValueId, Tensor> values;
  for (size_t i = 0; i < inputs.size(); ++i) values[g.inputs.at(i)] = inputs[i];
  for (ir::ValueId id = 0; id < static_cast<ir::ValueId>(g.values.size()); ++id)
    if (g.value(id).constant) values[id] = *g.value(id).constant;
  for (const ir::Node& node : g.nodes) {
    const auto* factory = backend::cpu_backend().kernels().find(node.op_type);
    if (!factory) throw Error(ErrorCode::Unsupported, "no CPU kernel for " + node.op_type);
    auto kernel = (*factory)(node, g);
    std::vector<const Tensor*> ins;
    for (ir::ValueId in : node.inputs) ins.push_back(in == ir::k_no_value ? nullptr : &values.at(in));
    std::vector<Tensor> outs(node.outputs.size());
    backend::KernelContext ctx(node, g.opset(""), ins, outs,
                               [](size_t, DataType dt, const Shape& s) { return Tensor::empty(dt, s); }, nullptr);
    kernel->run(ctx);
    for (size_t o = 0; o < node.outputs.size(); ++o)
      if (node.outputs[o] != ir::k_no_value) values[node.outputs[o]] = outs[o];
  }
  std::vector<Tensor> out;
  for (ir::ValueId id : g.outputs) out.push_back(values.at(id));
  return out;
}

}  // namespace kiln::test
