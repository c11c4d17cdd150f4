// Reduced precision (passes::lower_precision, BuildConfig::precision): which
// nodes move to fp16/bf16, where the Casts go, that constants are converted
// and graph inputs/outputs keep their dtypes, that a second run changes
// nothing; and end to end on the fake GPU (whose kernels are the CPU's, so
// only the ops those run in 16 bits are lowered) against the fp32 engine.
#include <gtest/gtest.h>

#include <cmath>

#include "core/half.h"
#include "engine/engine_data.h"
#include "fake_device.h"
#include "ir/graph.h"
#include "kiln/builder.h"
#include "kiln/session.h"
#include "onnx_test_util.h"
#include "passes/passes.h"

namespace kiln::test {
namespace {

ir::ValueId value(ir::Graph& g, const std::string& name, DataType dt, std::optional<Tensor> c = {}) {
  ir::Value v;
  v.name = name;
  v.dtype = dt;
  v.shape = ir::SymShape{2, 3};
  v.constant = std::move(c);
  return g.add_value(std::move(v));
}

void node(ir::Graph& g, const std::string& op, std::vector<ir::ValueId> in, std::vector<ir::ValueId> out) {
  ir::Node n;
  n.name = op + std::to_string(g.nodes.size());
  n.op_type = op;
  n.inputs = std::move(in);
  n.outputs = std::move(out);
  g.add_node(std::move(n));
}

// x -> Add(c) -> Relu -> Exp (kept: range) -> Mul(d) -> y; also Relu -> r (an output).
ir::Graph chain() {
  ir::Graph g;
  const Tensor c = Tensor::from_vector(DataType::Float32, {2, 3}, std::vector<float>{1, 2, 3, 4, 5, 6});
  const ir::ValueId x = value(g, "x", DataType::Float32), cv = value(g, "c", DataType::Float32, c),
                    dv = value(g, "d", DataType::Float32, c), a = value(g, "a", DataType::Float32),
                    r = value(g, "r", DataType::Float32), e = value(g, "e", DataType::Float32),
                    y = value(g, "y", DataType::Float32);
  node(g, "Add", {x, cv}, {a});
  node(g, "Relu", {a}, {r});
  node(g, "Exp", {r}, {e});
  node(g, "Mul", {e, dv}, {y});
  g.inputs = {x};
  g.outputs = {y, r};
  return g;
}

const passes::LowerableFilter k_all = [](const ir::Graph&, const ir::Node&) { return true; };

const ir::Node* producer_of(const ir::Graph& g, const std::string& value) {
  for (const ir::Node& n : g.nodes)
    for (ir::ValueId o : n.outputs)
      if (o != ir::k_no_value && g.value(o).name == value) return &n;
  return nullptr;
}

TEST(LowerPrecision, LowersSupportedNodesAndCastsAtTheBoundaries) {
  ir::Graph g = chain();
  const passes::LoweringResult r = passes::lower_precision(g, DataType::Float16, k_all);
  EXPECT_EQ(r.lowered, 3);  // Add, Relu, Mul
  EXPECT_EQ(r.kept, 1);     // Exp
  EXPECT_EQ(r.constants, 2);
  // x -> fp16, Relu's output back to fp32 (Exp and the output r read it),
  // Exp's output -> fp16 for Mul, Mul's back to fp32 for y.
  EXPECT_EQ(r.casts, 4);
  for (const ir::Node& n : g.nodes) {
    if (n.op_type == "Cast") continue;
    for (ir::ValueId v : n.inputs) {
      const DataType want = n.op_type == "Exp" ? DataType::Float32 : DataType::Float16;
      EXPECT_EQ(g.value(v).dtype, want) << n.label() << " reads " << g.value(v).name;
    }
  }
  // The interface is unchanged: same names, same dtypes.
  ASSERT_EQ(g.inputs.size(), 1u);
  EXPECT_EQ(g.value(g.inputs[0]).name, "x");
  EXPECT_EQ(g.value(g.inputs[0]).dtype, DataType::Float32);
  ASSERT_EQ(g.outputs.size(), 2u);
  for (ir::ValueId o : g.outputs) EXPECT_EQ(g.value(o).dtype, DataType::Float32);
  EXPECT_EQ(producer_of(g, "y")->op_type, "Cast");
  // Constants are converted, not cast at run time.
  for (const ir::Value& v : g.values)
    if (v.constant) EXPECT_EQ(v.constant->dtype(), DataType::Float16) << v.name;
  const ir::Value& c16 = g.value(*g.find_value("c_fp16"));
  EXPECT_EQ(static_cast<float>(c16.constant->data<Half>()[5]), 6.f);

  const passes::LoweringResult again = passes::lower_precision(g, DataType::Float16, k_all);
  EXPECT_EQ(again.lowered, 0);
  EXPECT_EQ(again.casts, 0);
}

TEST(LowerPrecision, KeepsWhatTheBackendCannotRunAndHostInputs) {
  ir::Graph g = chain();
  const passes::LowerableFilter no_relu = [](const ir::Graph& t, const ir::Node& n) {
    if (n.op_type != "Relu") return true;
    // The filter sees the trial graph, retyped.
    EXPECT_EQ(t.value(n.inputs[0]).dtype, DataType::BFloat16);
    return false;
  };
  // Mul's second input is read on the host: it stays a float32 constant.
  const passes::HostInputFilter mul_b = [](const ir::Node& n, size_t i) { return n.op_type == "Mul" && i == 1; };
  const passes::LoweringResult r = passes::lower_precision(g, DataType::BFloat16, no_relu, mul_b);
  EXPECT_EQ(r.lowered, 2);  // Add, Mul
  EXPECT_EQ(r.constants, 1);
  for (const ir::Node& n : g.nodes) {
    if (n.op_type == "Relu") EXPECT_EQ(g.value(n.inputs[0]).dtype, DataType::Float32);
    if (n.op_type == "Mul") {
      EXPECT_EQ(g.value(n.inputs[0]).dtype, DataType::BFloat16);
      EXPECT_EQ(g.value(n.inputs[1]).dtype, DataType::Float32);
      EXPECT_EQ(g.value(n.inputs[1]).name, "d");
    }
  }
}

TEST(LowerPrecision, RejectsOtherTargets) {
  ir::Graph g = chain();
  EXPECT_THROW(passes::lower_precision(g, DataType::Float64, k_all), Error);
}

// End to end on the fake GPU: x -> MatMul(W) -> Add(c) -> Relu -> Sigmoid -> y.
class LowerPrecisionFake : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { install_fake_device({}); }
  void TearDown() override { EXPECT_EQ(fake_stats().violations.load(), 0) << fake_stats().last_violation; }
};

Engine build(Precision p, const std::string& device) {
  ModelBuilder mb(13);
  mb.input("x", ::onnx::TensorProto::FLOAT, {int64_t{4}, int64_t{8}});
  mb.output("y", ::onnx::TensorProto::FLOAT, {int64_t{4}, int64_t{8}});
  std::vector<float> w(64);
  for (size_t i = 0; i < w.size(); ++i) w[i] = std::sin(static_cast<float>(i)) * 0.5f;
  mb.init_floats("W", {8, 8}, w);
  mb.init_floats("c", {8}, {0.1f, -0.2f, 0.3f, -0.4f, 0.5f, -0.6f, 0.7f, -0.8f});
  mb.node("MatMul", {"x", "W"}, {"m"}, "matmul");
  mb.node("Add", {"m", "c"}, {"a"}, "add");
  mb.node("Relu", {"a"}, {"r"}, "relu");
  mb.node("Sigmoid", {"r"}, {"y"}, "sigmoid");
  TempDir dir;
  BuildConfig c;
  c.device = device;
  c.precision = p;
  return build_engine(Model::load(dir.write("m.onnx", mb.bytes())), c);
}

TEST_F(LowerPrecisionFake, Fp16EngineMatchesFp32WithinHalfTolerance) {
  Tensor x = Tensor::empty(DataType::Float32, {4, 8});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = std::cos(static_cast<float>(i) * 0.7f);
  const Engine ref = build(Precision::FP32, "cpu");
  Session rs(ref);
  const Tensor want = rs.run({{"x", x}}).at(0).tensor;
  for (Precision p : {Precision::FP16, Precision::BF16}) {
    const Engine e = build(p, "cuda");
    int lowered = 0;
    for (const ir::Node& n : e.data()->graph.nodes)
      for (ir::ValueId v : n.outputs)
        lowered += n.op_type != "Cast" && e.data()->graph.value(v).dtype != DataType::Float32;
    EXPECT_GT(lowered, 0) << precision_name(p) << ": nothing was lowered";
    ASSERT_EQ(e.outputs().at(0).dtype, DataType::Float32);
    Session s(e);
    const Tensor got = s.run({{"x", x}}).at(0).tensor;
    ASSERT_EQ(got.dtype(), DataType::Float32);
    const float tol = p == Precision::FP16 ? 2e-3f : 1.6e-2f;  // ~2 ulp at 1.0
    for (int64_t i = 0; i < want.numel(); ++i)
      EXPECT_NEAR(got.data<float>()[i], want.data<float>()[i], tol) << precision_name(p) << " at " << i;
  }
}

TEST(LowerPrecisionCpu, CpuEnginesStayFp32) {
  EXPECT_THROW(build(Precision::FP16, "cpu"), Error);
}

}  // namespace
}  // namespace kiln::test
