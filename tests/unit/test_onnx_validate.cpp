// Validation: each class of bad or unsupported model is refused before anything
// runs, with an error code and a message naming the file and node or tensor.
// Tests needing a real op's schema skip until it is registered.
#include "onnx/import.h"
#include "onnx/validate.h"
#include "onnx_test_util.h"

namespace kiln::test {
namespace {

using TP = ::onnx::TensorProto;
using AP = ::onnx::AttributeProto;

// Full import with validation, from a file so errors name it.
struct Fixture {
  TempDir dir;
  ir::Graph import(const ModelBuilder& mb) { return onnx::import_file(dir.write("model.onnx", mb.bytes())); }
};

ModelBuilder relu_model(int64_t opset = 13) {
  ModelBuilder mb(opset);
  mb.input("x", TP::FLOAT, {3, 4});
  mb.node("Relu", {"x"}, {"y"}, "act");
  mb.output("y", TP::FLOAT, {3, 4});
  return mb;
}

TEST(OnnxValidate, UnknownOp) {
  Fixture f;
  ModelBuilder mb = relu_model();
  mb.g().mutable_node(0)->set_op_type("NoSuchOp");
  EXPECT_KILN_ERROR(f.import(mb), ErrorCode::Unsupported, "model.onnx", "'act'", "NoSuchOp");
}

TEST(OnnxValidate, OpsetOutsideSupportedRange) {
  Fixture f;
  EXPECT_KILN_ERROR(f.import(relu_model(6)), ErrorCode::Unsupported, "model.onnx", "opset 6");
  EXPECT_KILN_ERROR(f.import(relu_model(onnx::k_max_opset + 1)), ErrorCode::Unsupported,
                    "opset " + std::to_string(onnx::k_max_opset + 1));
}

TEST(OnnxValidate, NonDefaultDomains) {
  Fixture f;
  ModelBuilder mb = relu_model();
  mb.g().mutable_node(0)->set_domain("com.microsoft");
  EXPECT_KILN_ERROR(f.import(mb), ErrorCode::InvalidModel, "'act'", "com.microsoft", "opset_import");
  auto* op = mb.m.add_opset_import();
  op->set_domain("com.microsoft");
  op->set_version(1);
  EXPECT_KILN_ERROR(f.import(mb), ErrorCode::Unsupported, "'act'", "com.microsoft");
}

TEST(OnnxValidate, DanglingTensor) {
  Fixture f;
  ModelBuilder mb = relu_model();
  mb.g().mutable_node(0)->set_input(0, "nowhere");
  EXPECT_KILN_ERROR(f.import(mb), ErrorCode::InvalidModel, "model.onnx", "'act'", "'nowhere'");
}

TEST(OnnxValidate, DuplicateTensorNames) {
  Fixture f;
  ModelBuilder two = relu_model();
  two.node("Relu", {"x"}, {"y"}, "again");
  EXPECT_KILN_ERROR(f.import(two), ErrorCode::InvalidModel, "model.onnx", "'y'", "'act'", "'again'");
  ModelBuilder init = relu_model();
  init.init_floats("y", {1}, {0.f});
  EXPECT_KILN_ERROR(f.import(init), ErrorCode::InvalidModel, "'y'", "initializer");
  ModelBuilder input = relu_model();
  input.input("y", TP::FLOAT, {3, 4});
  EXPECT_KILN_ERROR(f.import(input), ErrorCode::InvalidModel, "'y'", "graph input");
  ModelBuilder twice = relu_model();
  twice.init_floats("w", {1}, {0.f});
  twice.init_floats("w", {1}, {1.f});
  EXPECT_KILN_ERROR(f.import(twice), ErrorCode::InvalidModel, "'w'");
}

TEST(OnnxValidate, OutputNothingProduces) {
  Fixture f;
  ModelBuilder mb = relu_model();
  mb.output("ghost", TP::FLOAT, {1});
  EXPECT_KILN_ERROR(f.import(mb), ErrorCode::InvalidModel, "model.onnx", "'ghost'");
}

TEST(OnnxValidate, Cycle) {
  Fixture f;
  ModelBuilder mb;
  mb.input("x", TP::FLOAT, {1});
  mb.node("Add", {"x", "b"}, {"a"}, "n1");
  mb.node("Relu", {"a"}, {"b"}, "n2");
  mb.output("b", TP::FLOAT, {1});
  EXPECT_KILN_ERROR(f.import(mb), ErrorCode::InvalidModel, "model.onnx", "cycle");
}

TEST(OnnxValidate, BadDeclaredDims) {
  Fixture f;
  ModelBuilder neg;
  neg.input("x", TP::FLOAT, {3, int64_t{-2}});
  neg.node("Relu", {"x"}, {"y"});
  neg.output("y", TP::FLOAT, {});
  EXPECT_KILN_ERROR(f.import(neg), ErrorCode::InvalidModel, "model.onnx", "'x'", "negative");
  ModelBuilder big;
  big.input("x", TP::FLOAT, {int64_t{1} << 32, int64_t{1} << 32});
  big.node("Relu", {"x"}, {"y"});
  big.output("y", TP::FLOAT, {});
  EXPECT_KILN_ERROR(f.import(big), ErrorCode::InvalidModel, "'x'", "overflow");
  ModelBuilder notype = relu_model();
  notype.g().mutable_input(0)->clear_type();
  EXPECT_KILN_ERROR(f.import(notype), ErrorCode::InvalidModel, "'x'", "element type");
  ModelBuilder seq = relu_model();
  seq.g().mutable_input(0)->mutable_type()->mutable_sequence_type();
  EXPECT_KILN_ERROR(f.import(seq), ErrorCode::Unsupported, "'x'", "sequence");
}

// validate() on an IR graph built directly, as passes might leave one.
TEST(OnnxValidate, StructureOfIrGraphs) {
  ir::Graph g;
  g.opsets[""] = 13;
  ir::Value x; x.name = "x"; x.dtype = DataType::Float32; x.shape = ir::to_sym({2});
  const ir::ValueId xi = g.add_value(x);
  ir::Value y; y.name = "y";
  const ir::ValueId yi = g.add_value(y);
  g.inputs = {xi};
  g.outputs = {yi};
  ir::Node a; a.name = "a"; a.op_type = "Relu"; a.inputs = {xi}; a.outputs = {yi};
  ir::Node b = a; b.name = "b";
  g.add_node(a);
  g.add_node(b);
  EXPECT_KILN_ERROR(onnx::validate(g, "graph.ir"), ErrorCode::InvalidModel, "graph.ir", "'y'", "'a'", "'b'");
  g.nodes.clear();
  EXPECT_KILN_ERROR(onnx::validate(g, "graph.ir"), ErrorCode::InvalidModel, "graph output 'y'");
  g.values[1].name = "x";
  g.add_node(a);
  EXPECT_KILN_ERROR(onnx::validate(g, "graph.ir"), ErrorCode::InvalidModel, "two tensors are named 'x'");
}

TEST(OnnxValidate, ArityAgainstSchema) {
  Fixture f;
  ModelBuilder extra = relu_model();
  extra.g().mutable_node(0)->add_input("x");
  EXPECT_KILN_ERROR(f.import(extra), ErrorCode::InvalidModel, "model.onnx", "'act'", "2 inputs");
  ModelBuilder conv;
  conv.input("x", TP::FLOAT, {1, 1, 4, 4});
  conv.input("b", TP::FLOAT, {1});
  conv.node("Conv", {"x", "", "b"}, {"y"}, "c");
  conv.output("y", TP::FLOAT, {});
  EXPECT_KILN_ERROR(f.import(conv), ErrorCode::InvalidModel, "'c'", "omitted");
}

TEST(OnnxValidate, AttributeKinds) {
  Fixture f;
  ModelBuilder mb;
  mb.input("x", TP::FLOAT, {1, 1, 4, 4});
  mb.init_floats("w", {1, 1, 3, 3}, std::vector<float>(9, 1.f));
  auto& n = mb.node("Conv", {"x", "w"}, {"y"}, "c");
  add_int_attr(n, "strides", 2);  // must be ints
  mb.output("y", TP::FLOAT, {});
  EXPECT_KILN_ERROR(f.import(mb), ErrorCode::InvalidModel, "model.onnx", "'c'", "'strides'", "ints");
}

TEST(OnnxValidate, ConstantNeedsOneValue) {
  Fixture f;
  ModelBuilder mb;
  auto& n = mb.node("Constant", {}, {"c"}, "k");
  add_int_attr(n, "value_int", 1);
  add_ints_attr(n, "value_ints", {1, 2});
  mb.output("c", TP::INT64, {});
  EXPECT_KILN_ERROR(f.import(mb), ErrorCode::InvalidModel, "'k'", "exactly one");
}

TEST(OnnxValidate, DeclaredTypesContradictInference) {
  Fixture f;
  EXPECT_NO_THROW(f.import(relu_model()));
  ModelBuilder dtype = relu_model();
  dtype.g().mutable_output(0)->mutable_type()->mutable_tensor_type()->set_elem_type(TP::INT64);
  EXPECT_KILN_ERROR(f.import(dtype), ErrorCode::InvalidModel, "model.onnx", "'y'", "int64", "float32");
  ModelBuilder shape = relu_model();
  shape.g().mutable_output(0)->mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim(1)->set_dim_value(5);
  EXPECT_KILN_ERROR(f.import(shape), ErrorCode::InvalidModel, "'y'", "[3,5]", "[3,4]");
}

TEST(OnnxValidate, ShapeInferenceErrorsNameTheFile) {
  Fixture f;
  ModelBuilder mb;
  mb.input("a", TP::FLOAT, {3});
  mb.input("b", TP::FLOAT, {4});
  mb.node("Add", {"a", "b"}, {"c"}, "sum");
  mb.output("c", TP::FLOAT, {});
  EXPECT_KILN_ERROR(f.import(mb), ErrorCode::InvalidModel, "model.onnx", "'sum'");
}

TEST(OnnxValidate, SkippingValidation) {
  Fixture f;
  ModelBuilder mb = relu_model();
  mb.g().mutable_node(0)->set_op_type("NoSuchOp");
  onnx::ImportOptions opt;
  opt.validate = false;
  ir::Graph g = onnx::import_bytes(mb.bytes(), "", "m", opt);
  EXPECT_EQ(g.nodes.at(0).op_type, "NoSuchOp");
}

}  // namespace
}  // namespace kiln::test
