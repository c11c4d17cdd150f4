// passes::fuse_gelu on the erf GELU exporters write before opset 20: both
// forms become one com.kiln Gelu, the result matches the unfused engine, and
// a near miss (a wrong constant, an intermediate read twice) is left alone.
#include <gtest/gtest.h>

#include <cmath>

#include "core/log.h"
#include "engine/engine_data.h"
#include "kiln/builder.h"
#include "kiln/session.h"
#include "log_capture.h"
#include "pass_test_util.h"
#include "onnx_test_util.h"

namespace kiln::test {
namespace {

enum class Form { HalfLast, HalfFirst, MulBySqrtHalf };

// With `projected`, x is first MatMul'd and biased (a transformer's MLP).
std::string gelu_model(Form form, float sqrt2 = 1.4142135f, bool extra_reader = false, bool projected = false) {
  ModelBuilder mb(13);
  mb.input(projected ? "x0" : "x", ::onnx::TensorProto::FLOAT, {int64_t{2}, int64_t{16}});
  if (projected) {
    std::vector<float> w(16 * 16), b(16);
    for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(static_cast<int>(i * 7 % 13) - 6) * 0.05f;
    for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<float>(i) * 0.02f - 0.1f;
    mb.init_floats("w", {16, 16}, w);
    mb.init_floats("b", {16}, b);
    mb.node("MatMul", {"x0", "w"}, {"xm"}, "mm");
    mb.node("Add", {"xm", "b"}, {"x"}, "bias");
  }
  mb.output("y", ::onnx::TensorProto::FLOAT, {int64_t{2}, int64_t{16}});
  mb.init_floats("s2", {}, {form == Form::MulBySqrtHalf ? 0.70710678f : sqrt2});
  mb.init_floats("one", {}, {1.f});
  mb.init_floats("half", {}, {0.5f});
  mb.node(form == Form::MulBySqrtHalf ? "Mul" : "Div", {"x", "s2"}, {"d"}, "div");
  mb.node("Erf", {"d"}, {"e"}, "erf");
  mb.node("Add", {"one", "e"}, {"a"}, "add");
  if (form == Form::HalfFirst) {
    mb.node("Mul", {"half", "x"}, {"h"}, "half");
    mb.node("Mul", {"h", "a"}, {"y"}, "mul");
  } else {
    mb.node("Mul", {"x", "a"}, {"m"}, "mul");
    mb.node("Mul", {"m", "half"}, {"y"}, "half");
  }
  if (extra_reader) {
    mb.output("e2", ::onnx::TensorProto::FLOAT, {int64_t{2}, int64_t{16}});
    mb.node("Neg", {"e"}, {"e2"}, "neg");
  }
  return mb.bytes();
}

int count(const Engine& e, const std::string& op) { return count_ops(e.data()->graph, op); }

Engine build(const std::string& bytes, int level) {
  TempDir dir;
  BuildConfig c;
  c.device = "cpu";
  c.optimization_level = level;
  return build_engine(Model::load(dir.write("m.onnx", bytes)), c);
}

TEST(FuseGelu, BothExportedFormsBecomeOneGelu) {
  Tensor x = Tensor::empty(DataType::Float32, {2, 16});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = static_cast<float>(i - 16) * 0.23f;
  for (Form f : {Form::HalfLast, Form::HalfFirst, Form::MulBySqrtHalf}) {
    const Engine fused = build(gelu_model(f), 3), plain = build(gelu_model(f), 1);
    EXPECT_EQ(count(fused, "Gelu"), 1) << static_cast<int>(f);
    EXPECT_EQ(count(fused, "Erf"), 0);
    EXPECT_EQ(fused.data()->graph.nodes.size(), 1u);
    EXPECT_EQ(count(plain, "Erf"), 1);
    Session a(fused), b(plain);
    const Tensor ya = a.run({{"x", x}})[0].tensor, yb = b.run({{"x", x}})[0].tensor;
    for (int64_t i = 0; i < x.numel(); ++i) {
      const double xi = x.data<float>()[i];
      const double want = 0.5 * xi * (1.0 + std::erf(xi / std::sqrt(2.0)));
      EXPECT_NEAR(ya.data<float>()[i], want, 1e-5) << i;
      EXPECT_NEAR(ya.data<float>()[i], yb.data<float>()[i], 1e-5) << i;
    }
  }
}

TEST(FuseGelu, TheBuildLogSaysWhatWasFused) {
  const LogLevel before = log_level();
  set_log_level(LogLevel::Info);
  {
    LogCapture log;
    build(gelu_model(Form::HalfLast), 3);
    EXPECT_TRUE(log.contains("fused: 1 Gelu")) << log.all();
  }
  set_log_level(before);
}

TEST(FuseGelu, AMatMulTakesTheGeluAsItsActivation) {
  Tensor x = Tensor::empty(DataType::Float32, {2, 16});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = static_cast<float>(i % 9 - 4) * 0.4f;
  const std::string model = gelu_model(Form::HalfLast, 1.4142135f, false, true);
  const Engine fused = build(model, 3), plain = build(model, 1);
  ASSERT_EQ(fused.data()->graph.nodes.size(), 1u);
  const ir::Node& n = fused.data()->graph.nodes[0];
  EXPECT_EQ(n.op_type, "FusedMatMul");
  EXPECT_EQ(n.attr_s("activation", ""), "Gelu");
  EXPECT_EQ(n.attr_f("activation_alpha", -1.f), 0.f);  // the erf form
  Session a(fused), b(plain);
  const Tensor ya = a.run({{"x0", x}})[0].tensor, yb = b.run({{"x0", x}})[0].tensor;
  expect_near_all(ya, yb, 1e-5);
}

TEST(FuseGelu, NearMissesStay) {
  EXPECT_EQ(count(build(gelu_model(Form::HalfLast, 1.5f), 3), "Gelu"), 0);  // not sqrt2
  const Engine e = build(gelu_model(Form::HalfLast, 1.4142135f, true), 3);    // Erf's output read twice
  EXPECT_EQ(count(e, "Gelu"), 0);
  EXPECT_EQ(count(e, "Erf"), 1);
}

}  // namespace
}  // namespace kiln::test
