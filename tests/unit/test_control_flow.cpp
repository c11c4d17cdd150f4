// If: import of branches that read outer values, inference, and both paths
// at run time with a data-dependent condition.
#include <gtest/gtest.h>

#include "kiln/builder.h"
#include "kiln/session.h"
#include "onnx_test_util.h"

namespace kiln::test {
namespace {

constexpr int32_t k_f32 = ::onnx::TensorProto::FLOAT;

// y = ReduceSum(x) > 0 ? x * w : x - w, with w an outer initializer read by
// both branches and x an outer graph input.
std::string if_model(TempDir& dir) {
  ModelBuilder mb(13);
  mb.input("x", k_f32, {int64_t{3}});
  mb.output("y", k_f32, {int64_t{3}});
  mb.init_floats("w", {3}, {2, 3, 4});
  mb.init_floats("zero", {}, {0});
  mb.node("ReduceSum", {"x"}, {"s"}, "sum");
  mb.node("Greater", {"s", "zero"}, {"cond"}, "gt");
  auto& n = mb.node("If", {"cond"}, {"y"}, "branch");
  auto branch = [&](const char* name, const char* op) {
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(::onnx::AttributeProto::GRAPH);
    auto* g = a->mutable_g();
    g->set_name(name);
    auto* node = g->add_node();
    node->set_op_type(op);
    node->set_name(std::string(name) + "_op");
    node->add_input("x");
    node->add_input("w");
    node->add_output(std::string(name) + "_out");
    auto* out = g->add_output();
    out->set_name(std::string(name) + "_out");
    set_type(out, k_f32, {int64_t{3}});
  };
  branch("then_branch", "Mul");
  branch("else_branch", "Sub");
  return dir.write("if.onnx", mb.bytes());
}

std::vector<float> run(Session& s, std::vector<float> x) {
  auto out = s.run({{"x", Tensor::from_vector(DataType::Float32, {3}, x)}});
  const Tensor& y = out[0].tensor;
  return std::vector<float>(y.data<float>(), y.data<float>() + y.numel());
}

TEST(ControlFlow, IfTakesTheBranchTheDataSays) {
  TempDir dir;
  Engine e = build_engine(Model::load(if_model(dir)));
  Session s(e);
  EXPECT_EQ(run(s, {1, 1, 1}), (std::vector<float>{2, 3, 4}));
  EXPECT_EQ(run(s, {-1, -1, -1}), (std::vector<float>{-3, -4, -5}));
  // And through an engine file: the branches serialize with the node.
  const auto bytes = e.serialize();
  Session loaded(Engine::deserialize(bytes.data(), bytes.size()));
  EXPECT_EQ(run(loaded, {1, 0, 0}), (std::vector<float>{2, 0, 0}));
}

TEST(ControlFlow, BranchReadingAnUnknownNameIsAnError) {
  TempDir dir;
  ModelBuilder mb(13);
  mb.input("c", ::onnx::TensorProto::BOOL, {});
  mb.output("y", k_f32, {int64_t{1}});
  auto& n = mb.node("If", {"c"}, {"y"}, "branch");
  for (const char* name : {"then_branch", "else_branch"}) {
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(::onnx::AttributeProto::GRAPH);
    auto* node = a->mutable_g()->add_node();
    node->set_op_type("Identity");
    node->add_input("nowhere");
    node->add_output("o");
    a->mutable_g()->add_output()->set_name("o");
  }
  EXPECT_KILN_ERROR(Model::load(dir.write("bad_if.onnx", mb.bytes())), ErrorCode::InvalidModel, "branch",
                    "'nowhere'");
}

}  // namespace
}  // namespace kiln::test
