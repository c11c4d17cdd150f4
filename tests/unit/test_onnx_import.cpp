// ONNX → IR import: initializers, Constant nodes, initializer-as-input, declared
// types and symbolic dims, attributes, generated node names, topological order,
// and real conformance models.
#include "core/half.h"
#include "onnx/import.h"
#include "onnx/tensor_proto.h"
#include "onnx_test_util.h"

namespace kiln::test {
namespace {

using TP = ::onnx::TensorProto;
using AP = ::onnx::AttributeProto;

// Import-level behaviour does not depend on op schemas; validation tests do.
ir::Graph import_raw(const ModelBuilder& mb) {
  onnx::ImportOptions opt;
  opt.validate = false;
  return onnx::import_bytes(mb.bytes(), "", "test.onnx", opt);
}

const ir::Value& value(const ir::Graph& g, const std::string& name) {
  auto id = g.find_value(name);
  if (!id) throw std::runtime_error("no value " + name);
  return g.value(*id);
}

TEST(OnnxImport, InitializersTypedAndRaw) {
  ModelBuilder mb;
  mb.input("x", TP::FLOAT, {2, 2});
  mb.init_floats("A", {2, 2}, {1.f, 2.f, 3.f, 4.f});
  auto* b = mb.g().add_initializer();
  b->set_name("B");
  b->set_data_type(TP::INT64);
  b->add_dims(3);
  b->set_raw_data(raw_bytes(std::vector<int64_t>{-1, 0, 9}));
  mb.node("Add", {"x", "A"}, {"y"});
  mb.node("Reshape", {"y", "B"}, {"z"});
  mb.output("z", TP::FLOAT, {});
  ir::Graph g = import_raw(mb);
  ASSERT_EQ(g.inputs.size(), 1u);
  EXPECT_EQ(g.value(g.inputs[0]).name, "x");
  const ir::Value& a = value(g, "A");
  ASSERT_TRUE(a.constant);
  EXPECT_EQ(a.dtype, DataType::Float32);
  EXPECT_EQ(*a.shape, ir::to_sym({2, 2}));
  EXPECT_EQ(a.constant->data<float>()[3], 4.f);
  const ir::Value& bv = value(g, "B");
  ASSERT_TRUE(bv.constant);
  EXPECT_EQ(bv.constant->data<int64_t>()[0], -1);
  EXPECT_EQ(bv.constant->data<int64_t>()[2], 9);
  EXPECT_EQ(g.opset(""), 13);
  EXPECT_EQ(g.name, "test_graph");
}

TEST(OnnxImport, InitializerListedAsInputIsAConstant) {
  ModelBuilder mb;
  mb.input("x", TP::FLOAT, {3});
  mb.input("W", TP::FLOAT, {3});  // IR<4 style: initializers repeated as inputs
  mb.init_floats("W", {3}, {1.f, 2.f, 3.f});
  mb.node("Mul", {"x", "W"}, {"y"});
  mb.output("y", TP::FLOAT, {3});
  ir::Graph g = import_raw(mb);
  ASSERT_EQ(g.inputs.size(), 1u);
  EXPECT_EQ(g.value(g.inputs[0]).name, "x");
  EXPECT_TRUE(value(g, "W").constant);

  mb.g().mutable_input(1)->mutable_type()->mutable_tensor_type()->set_elem_type(TP::INT64);
  EXPECT_KILN_ERROR(import_raw(mb), ErrorCode::InvalidModel, "'W'", "int64", "float32");
}

TEST(OnnxImport, ConstantNodesStayNodes) {
  ModelBuilder mb;
  auto& c = mb.node("Constant", {}, {"c"}, "const0");
  auto* a = c.add_attribute();
  a->set_name("value");
  a->set_type(AP::TENSOR);
  a->mutable_t()->set_data_type(TP::FLOAT);
  a->mutable_t()->add_dims(2);
  a->mutable_t()->add_float_data(0.5f);
  a->mutable_t()->add_float_data(-1.f);
  mb.output("c", TP::FLOAT, {2});
  ir::Graph g = import_raw(mb);
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(g.nodes[0].op_type, "Constant");
  const ir::Attribute* v = g.nodes[0].attr("value");
  ASSERT_NE(v, nullptr);
  ASSERT_EQ(v->kind, ir::Attribute::Kind::Tensor);
  ASSERT_TRUE(v->t);
  EXPECT_EQ(v->t->data<float>()[1], -1.f);
  EXPECT_FALSE(value(g, "c").constant);  // folding is a pass's job
}

TEST(OnnxImport, DeclaredTypesAndSymbolicDims) {
  ModelBuilder mb;
  mb.input("x", TP::FLOAT16, {std::string("batch"), 3, std::string("")});
  mb.node("Relu", {"x"}, {"h"});
  mb.node("Relu", {"h"}, {"y"});
  auto* vi = mb.g().add_value_info();
  vi->set_name("h");
  set_type(vi, TP::FLOAT16, {std::string("batch"), 3, 7});
  mb.output("y", TP::FLOAT16, {std::string("batch"), 3, std::string("")});
  ir::Graph g = import_raw(mb);
  const ir::Value& x = value(g, "x");
  EXPECT_EQ(x.dtype, DataType::Float16);
  ASSERT_TRUE(x.shape);
  ASSERT_EQ(x.shape->size(), 3u);
  EXPECT_EQ((*x.shape)[0].symbol, "batch");
  EXPECT_FALSE((*x.shape)[0].known());
  EXPECT_EQ((*x.shape)[1].value, 3);
  EXPECT_FALSE((*x.shape)[2].known());
  EXPECT_EQ((*x.shape)[2].symbol, "");  // anonymous
  EXPECT_EQ(ir::sym_str(*value(g, "h").shape), "[batch,3,7]");

  // An input with no shape at all has unknown rank.
  ModelBuilder nr;
  auto& in = nr.input("x", TP::FLOAT, {});
  in.mutable_type()->mutable_tensor_type()->clear_shape();
  nr.node("Relu", {"x"}, {"y"});
  nr.output("y", TP::FLOAT, {});
  EXPECT_FALSE(value(import_raw(nr), "x").shape);
}

TEST(OnnxImport, AttributesOfEveryKind) {
  ModelBuilder mb;
  mb.input("x", TP::FLOAT, {1});
  auto& n = mb.node("Custom", {"x"}, {"y"}, "n");
  auto add = [&](const char* name, AP::AttributeType t) {
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(t);
    return a;
  };
  add("f", AP::FLOAT)->set_f(2.5f);
  add("i", AP::INT)->set_i(-3);
  add("s", AP::STRING)->set_s("same");
  auto* fs = add("fs", AP::FLOATS); fs->add_floats(1.f); fs->add_floats(2.f);
  auto* is = add("is", AP::INTS); is->add_ints(4); is->add_ints(5);
  auto* ss = add("ss", AP::STRINGS); ss->add_strings("a"); ss->add_strings("b");
  add("g", AP::GRAPH)->mutable_g()->set_name("body");
  auto* untyped = n.add_attribute();  // IR v1 style: no type, the set field decides
  untyped->set_name("legacy");
  untyped->set_i(11);
  mb.output("y", TP::FLOAT, {1});
  ir::Graph g = import_raw(mb);
  const ir::Node& node = g.nodes.at(0);
  EXPECT_EQ(node.attr_f("f", 0), 2.5f);
  EXPECT_EQ(node.attr_i("i", 0), -3);
  EXPECT_EQ(node.attr_s("s", ""), "same");
  EXPECT_EQ(node.attr_floats("fs"), (std::vector<float>{1.f, 2.f}));
  EXPECT_EQ(node.attr_ints("is"), (std::vector<int64_t>{4, 5}));
  EXPECT_EQ(node.attr("ss")->strings, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(node.attr("g")->kind, ir::Attribute::Kind::Graph);
  EXPECT_EQ(node.attr("g")->g, nullptr);  // subgraphs are not imported yet
  EXPECT_EQ(node.attr_i("legacy", 0), 11);
}

TEST(OnnxImport, AttributeErrors) {
  auto with_attr = [](auto&& fill) {
    ModelBuilder mb;
    mb.input("x", TP::FLOAT, {1});
    fill(mb.node("Relu", {"x"}, {"y"}, "r").add_attribute());
    mb.output("y", TP::FLOAT, {1});
    return mb;
  };
  auto ref = with_attr([](AP* a) { a->set_name("alpha"); a->set_type(AP::FLOAT); a->set_ref_attr_name("outer"); });
  EXPECT_KILN_ERROR(import_raw(ref), ErrorCode::Unsupported, "'r'", "'alpha'", "outer");
  auto tensors = with_attr([](AP* a) { a->set_name("ts"); a->set_type(AP::TENSORS); a->add_tensors(); });
  EXPECT_KILN_ERROR(import_raw(tensors), ErrorCode::Unsupported, "'ts'", "TENSORS");
  auto missing = with_attr([](AP* a) { a->set_name("k"); a->set_type(AP::INT); });
  EXPECT_KILN_ERROR(import_raw(missing), ErrorCode::InvalidModel, "'k'", "no value");
  auto bad_tensor = with_attr([](AP* a) {
    a->set_name("value");
    a->set_type(AP::TENSOR);
    a->mutable_t()->set_data_type(TP::FLOAT);
    a->mutable_t()->add_dims(4);
  });
  EXPECT_KILN_ERROR(import_raw(bad_tensor), ErrorCode::InvalidModel, "'r'", "'value'", "holds 0");
  ModelBuilder dup = with_attr([](AP* a) { a->set_name("k"); a->set_type(AP::INT); a->set_i(1); });
  *dup.g().mutable_node(0)->add_attribute() = dup.g().node(0).attribute(0);
  EXPECT_KILN_ERROR(import_raw(dup), ErrorCode::InvalidModel, "'k'", "twice");
}

TEST(OnnxImport, UnnamedNodesGetUniqueNames) {
  ModelBuilder mb;
  mb.input("x", TP::FLOAT, {1});
  mb.node("Relu", {"x"}, {"a"});
  mb.node("Relu", {"a"}, {"b"}, "Relu_0");  // collides with the generated name of node 0
  mb.node("Relu", {"b"}, {"c"});
  mb.output("c", TP::FLOAT, {1});
  ir::Graph g = import_raw(mb);
  ASSERT_EQ(g.nodes.size(), 3u);
  std::set<std::string> names;
  for (const auto& n : g.nodes) {
    EXPECT_FALSE(n.name.empty());
    names.insert(n.name);
  }
  EXPECT_EQ(names.size(), 3u);
  EXPECT_EQ(g.nodes[2].name, "Relu_2");
  EXPECT_EQ(g.nodes[1].name, "Relu_0");
  EXPECT_NE(g.nodes[0].name, "Relu_0");
}

TEST(OnnxImport, NodesAreSortedTopologically) {
  ModelBuilder mb;
  mb.input("x", TP::FLOAT, {1});
  mb.node("Neg", {"b"}, {"c"}, "third");
  mb.node("Abs", {"a"}, {"b"}, "second");
  mb.node("Relu", {"x"}, {"a"}, "first");
  mb.output("c", TP::FLOAT, {1});
  ir::Graph g = import_raw(mb);
  ASSERT_EQ(g.nodes.size(), 3u);
  EXPECT_EQ(g.nodes[0].name, "first");
  EXPECT_EQ(g.nodes[1].name, "second");
  EXPECT_EQ(g.nodes[2].name, "third");
}

TEST(OnnxImport, OmittedOptionalInputsAndDomains) {
  ModelBuilder mb;
  mb.input("x", TP::FLOAT, {1});
  mb.input("m", TP::FLOAT, {});
  auto& n = mb.node("Clip", {"x", "", "m", ""}, {"y", ""});
  n.set_domain("ai.onnx");
  mb.output("y", TP::FLOAT, {1});
  ir::Graph g = import_raw(mb);
  const ir::Node& clip = g.nodes.at(0);
  EXPECT_EQ(clip.domain, "");
  ASSERT_EQ(clip.inputs.size(), 3u);  // trailing omitted inputs dropped
  EXPECT_EQ(clip.inputs[1], ir::k_no_value);
  EXPECT_FALSE(clip.has_input(1));
  EXPECT_TRUE(clip.has_input(2));
  EXPECT_EQ(clip.outputs.size(), 1u);
}

TEST(OnnxImport, ModelFunctions) {
  ModelBuilder mb;
  mb.input("x", TP::FLOAT, {1});
  mb.node("MyFn", {"x"}, {"y"}, "call").set_domain("local");
  mb.output("y", TP::FLOAT, {1});
  auto* op = mb.m.add_opset_import();
  op->set_domain("local");
  op->set_version(1);
  auto* fn = mb.m.add_functions();
  fn->set_name("MyFn");
  fn->set_domain("local");
  EXPECT_KILN_ERROR(import_raw(mb), ErrorCode::Unsupported, "'call'", "MyFn", "function");
  fn->set_name("Unused");  // an unused function is harmless
  EXPECT_NO_THROW(import_raw(mb));
}

TEST(OnnxImport, OpsetImport) {
  ModelBuilder mb;
  mb.input("x", TP::FLOAT, {1});
  mb.node("Relu", {"x"}, {"y"});
  mb.output("y", TP::FLOAT, {1});
  auto* ml = mb.m.add_opset_import();
  ml->set_domain("ai.onnx.ml");
  ml->set_version(3);
  auto* dup = mb.m.add_opset_import();
  dup->set_domain("ai.onnx");  // the same domain as "" under another name
  dup->set_version(13);
  ir::Graph g = import_raw(mb);
  EXPECT_EQ(g.opsets.at(""), 13);
  EXPECT_EQ(g.opsets.at("ai.onnx.ml"), 3);
  dup->set_version(12);
  EXPECT_KILN_ERROR(import_raw(mb), ErrorCode::InvalidModel, "twice");
  mb.m.clear_opset_import();
  EXPECT_KILN_ERROR(import_raw(mb), ErrorCode::InvalidModel, "opset_import");
  mb.m.clear_ir_version();
  EXPECT_KILN_ERROR(import_raw(mb), ErrorCode::InvalidModel, "ir_version");
}

// ---- Real conformance models ----
const std::string k_node_dir = "/work/shared/conformance/onnx/node/";

ir::Graph import_conformance(const std::string& test, bool validate) {
  onnx::ImportOptions opt;
  opt.validate = validate;
  return onnx::import_file(k_node_dir + test + "/model.onnx", opt);
}

TEST(OnnxImportConformance, ConvWithStridesPadding) {
  if (!std::filesystem::exists(k_node_dir)) GTEST_SKIP() << "conformance data not present";
  ir::Graph g = import_conformance("test_conv_with_strides_padding", false);
  ASSERT_EQ(g.inputs.size(), 2u);
  EXPECT_EQ(g.value(g.inputs[0]).name, "x");
  EXPECT_EQ(*g.value(g.inputs[0]).shape, ir::to_sym({1, 1, 7, 5}));
  EXPECT_EQ(*g.value(g.inputs[1]).shape, ir::to_sym({1, 1, 3, 3}));
  ASSERT_EQ(g.nodes.size(), 1u);
  const ir::Node& conv = g.nodes[0];
  EXPECT_EQ(conv.op_type, "Conv");
  EXPECT_EQ(conv.attr_ints("strides"), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(conv.attr_ints("pads"), (std::vector<int64_t>{1, 1, 1, 1}));
  EXPECT_EQ(conv.attr_ints("kernel_shape"), (std::vector<int64_t>{3, 3}));
  ASSERT_EQ(g.outputs.size(), 1u);
  EXPECT_EQ(*g.value(g.outputs[0]).shape, ir::to_sym({1, 1, 4, 3}));
  EXPECT_EQ(g.opset(), 22);
  ir::Graph v = import_conformance("test_conv_with_strides_padding", true);
  EXPECT_EQ(*v.value(v.outputs[0]).shape, ir::to_sym({1, 1, 4, 3}));
  EXPECT_EQ(v.value(v.outputs[0]).dtype, DataType::Float32);
}

TEST(OnnxImportConformance, ReluAndAdd) {
  if (!std::filesystem::exists(k_node_dir)) GTEST_SKIP() << "conformance data not present";
  ir::Graph relu = import_conformance("test_relu", false);
  ASSERT_EQ(relu.nodes.size(), 1u);
  EXPECT_EQ(relu.nodes[0].op_type, "Relu");
  EXPECT_EQ(relu.value(relu.outputs[0]).name, "y");
  ir::Graph add = import_conformance("test_add", false);
  ASSERT_EQ(add.inputs.size(), 2u);
  EXPECT_EQ(add.value(add.nodes[0].outputs[0]).name, "sum");
  for (const char* t : {"test_relu", "test_add"}) {
    ir::Graph g = import_conformance(t, true);
    EXPECT_EQ(*g.value(g.outputs[0]).shape, ir::to_sym({3, 4, 5})) << t;
  }
}

TEST(OnnxImportConformance, ConstantModelKeepsItsNode) {
  if (!std::filesystem::exists(k_node_dir)) GTEST_SKIP() << "conformance data not present";
  ir::Graph g = import_conformance("test_constant", false);
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(g.nodes[0].op_type, "Constant");
  EXPECT_TRUE(g.inputs.empty());
  const ir::Attribute* v = g.nodes[0].attr("value");
  ASSERT_TRUE(v && v->t);
  EXPECT_EQ(v->t->shape(), (Shape{5, 5}));
}

TEST(OnnxImportConformance, IfBodyIsKeptAsNullGraph) {
  if (!std::filesystem::exists(k_node_dir)) GTEST_SKIP() << "conformance data not present";
  ir::Graph g = import_conformance("test_if", false);
  ASSERT_EQ(g.nodes.size(), 1u);
  const ir::Attribute* then_branch = g.nodes[0].attr("then_branch");
  ASSERT_NE(then_branch, nullptr);
  EXPECT_EQ(then_branch->kind, ir::Attribute::Kind::Graph);
}

}  // namespace
}  // namespace kiln::test
