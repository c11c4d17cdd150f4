// Reduced precision (passes::lower_precision, BuildConfig::precision): which
// nodes move to fp16/bf16, where the Casts go, that constants are converted
// and graph inputs/outputs keep their dtypes, that a second run changes
// nothing; and end to end on the fake GPU (whose kernels are the CPU's, so
// only the ops those run in 16 bits are lowered) against the fp32 engine.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

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
    if (v.constant) {
      EXPECT_EQ(v.constant->dtype(), DataType::Float16) << v.name;
    }
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
  // Mul's second input is read on the host, so it stays float32; Mul's
  // schema wants both operands of one type, so Mul stays float32 too.
  const passes::HostInputFilter mul_b = [](const ir::Node& n, size_t i) { return n.op_type == "Mul" && i == 1; };
  const passes::LoweringResult r = passes::lower_precision(g, DataType::BFloat16, no_relu, mul_b);
  EXPECT_EQ(r.lowered, 1);  // Add
  for (const ir::Node& n : g.nodes) {
    if (n.op_type == "Relu" || n.op_type == "Mul") {
      for (ir::ValueId v : n.inputs) EXPECT_EQ(g.value(v).dtype, DataType::Float32) << n.label();
    }
    if (n.op_type == "Add") {
      EXPECT_EQ(g.value(n.inputs[0]).dtype, DataType::BFloat16);
    }
  }
}

// A detector: a GEMM's raw boxes scaled and offset into pixels, and scores
// through a Sigmoid, into NonMaxSuppression. The GEMM is lowered; the box
// arithmetic and the Sigmoid stay float32 (bfloat16's step at 300 px is 2).
// Built twice: NMS in the graph, and NMS in an If's branch reading them.
TEST(LowerPrecision, ADetectorsPostProcessingStaysFloat32) {
  for (bool in_branch : {false, true}) {
    SCOPED_TRACE(in_branch ? "NMS in an If's branch" : "NMS in the graph");
    ir::Graph g;
    const Tensor w = Tensor::from_vector(DataType::Float32, {3, 3}, std::vector<float>(9, 0.5f));
    const Tensor scale = Tensor::from_vector(DataType::Float32, {2, 3}, std::vector<float>(6, 300.f));
    const ir::ValueId x = value(g, "x", DataType::Float32), wv = value(g, "w", DataType::Float32, w),
                      raw = value(g, "raw", DataType::Float32), sv = value(g, "scale", DataType::Float32, scale),
                      px = value(g, "px", DataType::Float32), s = value(g, "s", DataType::Float32),
                      sc = value(g, "sc", DataType::Float32), keep = value(g, "keep", DataType::Int64);
    g.value(wv).shape = ir::SymShape{3, 3};
    node(g, "MatMul", {x, wv}, {raw});
    node(g, "Mul", {raw, sv}, {px});
    node(g, "Sigmoid", {s}, {sc});
    if (!in_branch) {
      node(g, "NonMaxSuppression", {px, sc}, {keep});
    } else {
      // The branch reads px and sc: the importer makes captured values the
      // If's inputs after the condition, and the branch's inputs.
      auto branch = std::make_shared<ir::Graph>();
      const ir::ValueId bp = value(*branch, "bp", DataType::Float32), bs = value(*branch, "bs", DataType::Float32),
                        bk = value(*branch, "keep_b", DataType::Int64);
      node(*branch, "NonMaxSuppression", {bp, bs}, {bk});
      branch->inputs = {bp, bs};
      branch->outputs = {bk};
      Tensor t = Tensor::empty(DataType::Bool, {});
      t.data<bool>()[0] = true;
      const ir::ValueId cond = value(g, "cond", DataType::Bool, t);
      node(g, "If", {cond, px, sc}, {keep});
      ir::Attribute a;
      a.kind = ir::Attribute::Kind::Graph;
      a.g = branch;
      g.nodes.back().attrs["then_branch"] = a;
      g.nodes.back().attrs["else_branch"] = a;
    }
    g.inputs = {x, s};
    g.outputs = {keep};
    const passes::LoweringResult r = passes::lower_precision(g, DataType::BFloat16, k_all);
    EXPECT_EQ(r.lowered, 1);  // the MatMul
    const ir::Node* mul = producer_of(g, "px");
    const ir::Node* sigmoid = producer_of(g, "sc");
    ASSERT_TRUE(mul && sigmoid);
    EXPECT_EQ(mul->op_type, "Mul");
    EXPECT_EQ(g.value(mul->inputs[0]).dtype, DataType::Float32);  // the MatMul's output cast back
    EXPECT_EQ(sigmoid->op_type, "Sigmoid");
    EXPECT_EQ(g.value(sigmoid->inputs[0]).dtype, DataType::Float32);
  }
}

// An image normalized before the first GEMM (x - mean) / std stays float32,
// as autocast keeps it: one Cast, at the MatMul, rounds it once. What follows
// the GEMM is lowered.
TEST(LowerPrecision, PreProcessingBeforeTheFirstGemmStaysFloat32) {
  ir::Graph g;
  const Tensor c = Tensor::from_vector(DataType::Float32, {2, 3}, std::vector<float>{1, 2, 3, 4, 5, 6});
  const Tensor w = Tensor::from_vector(DataType::Float32, {3, 3}, std::vector<float>(9, 0.5f));
  const ir::ValueId x = value(g, "x", DataType::Float32), mean = value(g, "mean", DataType::Float32, c),
                    sd = value(g, "std", DataType::Float32, c), wv = value(g, "w", DataType::Float32, w),
                    a = value(g, "a", DataType::Float32), n = value(g, "n", DataType::Float32),
                    m = value(g, "m", DataType::Float32), y = value(g, "y", DataType::Float32);
  g.value(wv).shape = ir::SymShape{3, 3};
  node(g, "Sub", {x, mean}, {a});
  node(g, "Div", {a, sd}, {n});
  node(g, "MatMul", {n, wv}, {m});
  node(g, "Relu", {m}, {y});
  g.inputs = {x};
  g.outputs = {y};
  const passes::LoweringResult r = passes::lower_precision(g, DataType::BFloat16, k_all);
  EXPECT_EQ(r.lowered, 2);  // MatMul, Relu
  EXPECT_EQ(r.casts, 2);    // into the MatMul, out of the Relu
  for (const char* v : {"a", "n"}) {
    const ir::Node* p = producer_of(g, v);
    ASSERT_TRUE(p) << v;
    EXPECT_NE(p->op_type, "Cast") << v;
    for (ir::ValueId in : p->inputs) EXPECT_EQ(g.value(in).dtype, DataType::Float32) << p->label();
  }
  for (const ir::Node& nd : g.nodes)
    if (nd.op_type == "MatMul") {
      EXPECT_EQ(g.value(nd.inputs[0]).dtype, DataType::BFloat16);
      EXPECT_EQ(producer_of(g, g.value(nd.inputs[0]).name)->op_type, "Cast");
    }
}

// Clip's bounds are read on the host but typed as X: they follow X. A value
// with no producer yet (a weightless engine's weight) gets a Cast placed
// before its reader, not a re-sort that would refuse it.
TEST(LowerPrecision, HostBoundsFollowXAndAbsentWeightsAreCast) {
  ir::Graph g;
  g.opsets[""] = 13;  // Clip's bounds are inputs from opset 11
  const Tensor lo = Tensor::from_vector(DataType::Float32, {}, std::vector<float>{0.f});
  const Tensor hi = Tensor::from_vector(DataType::Float32, {}, std::vector<float>{6.f});
  const ir::ValueId x = value(g, "x", DataType::Float32), w = value(g, "w", DataType::Float32),
                    a = value(g, "a", DataType::Float32), y = value(g, "y", DataType::Float32);
  ir::Value l;
  l.name = "lo";
  l.dtype = DataType::Float32;
  l.shape = ir::SymShape{};
  l.constant = lo;
  const ir::ValueId lv = g.add_value(l);
  l.name = "hi";
  l.constant = hi;
  const ir::ValueId hv = g.add_value(l);
  node(g, "Add", {x, w}, {a});
  node(g, "Clip", {a, lv, hv}, {y});
  g.inputs = {x};
  g.outputs = {y};
  const passes::HostInputFilter clip_bounds = [](const ir::Node& n, size_t i) { return n.op_type == "Clip" && i > 0; };
  const passes::LoweringResult r = passes::lower_precision(g, DataType::Float16, k_all, clip_bounds);
  EXPECT_EQ(r.lowered, 2);
  for (const ir::Node& n : g.nodes)
    if (n.op_type == "Clip") {
      for (ir::ValueId v : n.inputs) EXPECT_EQ(g.value(v).dtype, DataType::Float16) << g.value(v).name;
    }
  // Order: every node's inputs are written before it (w counts as given).
  std::set<ir::ValueId> ready = {x, w};
  for (const ir::Value& v : g.values)
    if (v.constant) ready.insert(*g.find_value(v.name));
  for (const ir::Node& n : g.nodes) {
    for (ir::ValueId v : n.inputs) EXPECT_TRUE(ready.count(v)) << n.label() << " reads " << g.value(v).name << " early";
    for (ir::ValueId v : n.outputs) ready.insert(v);
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

Engine build(Precision p, const std::string& device, bool weightless = false) {
  // 16x16 weights: big enough (1 KiB) to be held out of a weightless engine.
  ModelBuilder mb(13);
  mb.input("x", ::onnx::TensorProto::FLOAT, {int64_t{16}, int64_t{16}});
  mb.output("y", ::onnx::TensorProto::FLOAT, {int64_t{16}, int64_t{16}});
  std::vector<float> w(256), cv(256);
  for (size_t i = 0; i < w.size(); ++i) w[i] = std::sin(static_cast<float>(i)) * 0.25f;
  for (size_t i = 0; i < cv.size(); ++i) cv[i] = std::cos(static_cast<float>(i) * 0.3f) * 0.5f;
  mb.init_floats("W", {16, 16}, w);
  mb.init_floats("c", {16, 16}, cv);
  mb.node("MatMul", {"x", "W"}, {"m"}, "matmul");
  mb.node("Add", {"m", "c"}, {"a"}, "add");
  mb.node("Relu", {"a"}, {"r"}, "relu");
  mb.node("Sigmoid", {"r"}, {"y"}, "sigmoid");
  TempDir dir;
  BuildConfig c;
  c.device = device;
  c.precision = p;
  c.weightless = weightless;
  const Model m = Model::load(dir.write("m.onnx", mb.bytes()));
  const Engine e = build_engine(m, c);
  if (!weightless) return e;
  // Through bytes, as a weightless engine travels, then refitted.
  const std::vector<uint8_t> bytes = e.serialize();
  const Engine back = Engine::deserialize(bytes.data(), bytes.size());
  EXPECT_TRUE(back.needs_refit());
  return back.refit(m);
}

TEST_F(LowerPrecisionFake, Fp16EngineMatchesFp32WithinHalfTolerance) {
  Tensor x = Tensor::empty(DataType::Float32, {16, 16});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = std::cos(static_cast<float>(i) * 0.7f);
  const Engine ref = build(Precision::FP32, "cpu");
  Session rs(ref);
  const Tensor want = rs.run({{"x", x}}).at(0).tensor;
  for (auto [p, weightless] : {std::pair{Precision::FP16, false}, std::pair{Precision::BF16, false},
                                std::pair{Precision::FP16, true}}) {
    const Engine e = build(p, "cuda", weightless);
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
