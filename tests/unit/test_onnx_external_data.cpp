// External data: the happy path, and each refusal that keeps a model from
// reading outside its own directory or past the end of its weight file.
#include <sys/stat.h>
#include <unistd.h>

#include "onnx/import.h"
#include "onnx/tensor_proto.h"
#include "onnx_test_util.h"

namespace kiln::test {
namespace {

using TP = ::onnx::TensorProto;

void set_external(TP& t, const std::string& location, const std::string& offset = "",
                  const std::string& length = "") {
  t.set_data_location(TP::EXTERNAL);
  auto add = [&](const char* k, const std::string& v) {
    if (v.empty()) return;
    auto* e = t.add_external_data();
    e->set_key(k);
    e->set_value(v);
  };
  add("location", location);
  add("offset", offset);
  add("length", length);
}

// A model whose initializer W (float [2,3]) lives in external data and whose
// graph computes y = Identity(W): no runtime inputs.
ModelBuilder model_with_external(const std::string& location, const std::string& offset = "",
                                 const std::string& length = "") {
  ModelBuilder mb;
  auto* w = mb.g().add_initializer();
  w->set_name("W");
  w->set_data_type(TP::FLOAT);
  w->add_dims(2);
  w->add_dims(3);
  set_external(*w, location, offset, length);
  mb.node("Identity", {"W"}, {"y"});
  mb.output("y", TP::FLOAT, {2, 3});
  return mb;
}

const std::vector<float> k_weights = {1.f, 2.f, 3.f, -4.f, 5.5f, 6.f};

// Imports without schema validation: these tests are about data, not ops.
ir::Graph import_no_validate(const std::string& path, bool skip = false) {
  onnx::ImportOptions opt;
  opt.validate = false;
  opt.skip_external_weights = skip;
  return onnx::import_file(path, opt);
}

void expect_weights(const ir::Graph& g) {
  auto id = g.find_value("W");
  ASSERT_TRUE(id);
  const ir::Value& w = g.value(*id);
  ASSERT_TRUE(w.constant);
  ASSERT_EQ(w.constant->shape(), (Shape{2, 3}));
  for (size_t i = 0; i < k_weights.size(); ++i) EXPECT_EQ(w.constant->data<float>()[i], k_weights[i]);
}

TEST(OnnxExternalData, ReadsAtOffset) {
  TempDir dir;
  dir.write("weights.bin", std::string(16, 'x') + raw_bytes(k_weights) + "tail");
  const auto model = dir.write("model.onnx", model_with_external("weights.bin", "16", "24").bytes());
  expect_weights(import_no_validate(model));
}

TEST(OnnxExternalData, SubdirectoryAndNoLengthEntry) {
  TempDir dir;
  dir.write("data/w.bin", raw_bytes(k_weights));
  const auto model = dir.write("model.onnx", model_with_external("./data/w.bin").bytes());
  expect_weights(import_no_validate(model));
}

TEST(OnnxExternalData, SkipExternalWeightsLeavesPlaceholder) {
  TempDir dir;  // no weight file at all: a weightless import never opens it
  const auto model = dir.write("model.onnx", model_with_external("weights.bin").bytes());
  ir::Graph g = import_no_validate(model, /*skip=*/true);
  const ir::Value& w = g.value(*g.find_value("W"));
  ASSERT_TRUE(w.constant);
  EXPECT_TRUE(onnx::is_placeholder(*w.constant));
  EXPECT_EQ(w.dtype, DataType::Float32);
  EXPECT_EQ(w.constant->shape(), (Shape{2, 3}));
  // The reference itself is still checked.
  const auto bad = dir.write("bad.onnx", model_with_external("../weights.bin").bytes());
  EXPECT_KILN_ERROR(import_no_validate(bad, true), ErrorCode::InvalidModel, "..");
}

TEST(OnnxExternalData, PlaceholdersSurviveValidation) {
  TempDir dir;
  ModelBuilder mb = model_with_external("weights.bin");
  mb.input("x", TP::FLOAT, {2, 3});
  mb.g().mutable_node(0)->set_op_type("Add");
  mb.g().mutable_node(0)->add_input("x");
  onnx::ImportOptions opt;
  opt.skip_external_weights = true;
  ir::Graph g = onnx::import_file(dir.write("model.onnx", mb.bytes()), opt);
  const ir::Value& w = g.value(*g.find_value("W"));
  ASSERT_TRUE(w.constant);
  EXPECT_TRUE(onnx::is_placeholder(*w.constant));
  EXPECT_EQ(*g.value(g.outputs.at(0)).shape, ir::to_sym({2, 3}));
}

TEST(OnnxExternalData, AbsolutePathRefused) {
  TempDir dir;
  const auto w = dir.write("weights.bin", raw_bytes(k_weights));
  const auto model = dir.write("model.onnx", model_with_external(w).bytes());
  EXPECT_KILN_ERROR(import_no_validate(model), ErrorCode::InvalidModel, "model.onnx", "'W'", "absolute");
}

TEST(OnnxExternalData, DotDotRefused) {
  TempDir outer;
  outer.write("weights.bin", raw_bytes(k_weights));
  const auto model = outer.write("m/model.onnx", model_with_external("../weights.bin").bytes());
  EXPECT_KILN_ERROR(import_no_validate(model), ErrorCode::InvalidModel, "'W'", "'..'");
  const auto model2 = outer.write("m/model2.onnx", model_with_external("sub/../../weights.bin").bytes());
  EXPECT_KILN_ERROR(import_no_validate(model2), ErrorCode::InvalidModel, "'..'");
}

TEST(OnnxExternalData, SymlinksRefused) {
  TempDir dir, elsewhere;
  const auto target = elsewhere.write("weights.bin", raw_bytes(k_weights));
  ASSERT_EQ(::symlink(target.c_str(), dir.file("link.bin").c_str()), 0);
  const auto m1 = dir.write("m1.onnx", model_with_external("link.bin").bytes());
  EXPECT_KILN_ERROR(import_no_validate(m1), ErrorCode::InvalidModel, "'W'", "symbolic link");
  // A symlinked directory in the middle of the path, too.
  ASSERT_EQ(::symlink(elsewhere.path().c_str(), dir.file("linkdir").c_str()), 0);
  const auto m2 = dir.write("m2.onnx", model_with_external("linkdir/weights.bin").bytes());
  EXPECT_KILN_ERROR(import_no_validate(m2), ErrorCode::InvalidModel, "symbolic link", "linkdir");
  // Even a symlink that points inside the directory: kiln follows none.
  dir.write("real.bin", raw_bytes(k_weights));
  ASSERT_EQ(::symlink("real.bin", dir.file("inner.bin").c_str()), 0);
  const auto m3 = dir.write("m3.onnx", model_with_external("inner.bin").bytes());
  EXPECT_KILN_ERROR(import_no_validate(m3), ErrorCode::InvalidModel, "symbolic link");
}

TEST(OnnxExternalData, RangePastEndOfFileRefused) {
  TempDir dir;
  dir.write("weights.bin", raw_bytes(k_weights));  // 24 bytes
  const auto off = dir.write("off.onnx", model_with_external("weights.bin", "8").bytes());
  EXPECT_KILN_ERROR(import_no_validate(off), ErrorCode::InvalidModel, "'W'", "past the end");
  const auto far = dir.write("far.onnx", model_with_external("weights.bin", "1000").bytes());
  EXPECT_KILN_ERROR(import_no_validate(far), ErrorCode::InvalidModel, "past the end");
  const auto huge = dir.write("huge.onnx", model_with_external("weights.bin", "18446744073709551615").bytes());
  EXPECT_KILN_ERROR(import_no_validate(huge), ErrorCode::InvalidModel, "offset");
}

TEST(OnnxExternalData, LengthMustMatchShape) {
  TempDir dir;
  dir.write("weights.bin", raw_bytes(k_weights) + std::string(100, '\0'));
  const auto longer = dir.write("l.onnx", model_with_external("weights.bin", "0", "48").bytes());
  EXPECT_KILN_ERROR(import_no_validate(longer), ErrorCode::InvalidModel, "length 48", "24 bytes");
  const auto junk = dir.write("j.onnx", model_with_external("weights.bin", "0", "12abc").bytes());
  EXPECT_KILN_ERROR(import_no_validate(junk), ErrorCode::InvalidModel, "12abc");
  const auto neg = dir.write("n.onnx", model_with_external("weights.bin", "-4").bytes());
  EXPECT_KILN_ERROR(import_no_validate(neg), ErrorCode::InvalidModel, "-4");
}

TEST(OnnxExternalData, MissingOrOddFiles) {
  TempDir dir;
  const auto missing = dir.write("m.onnx", model_with_external("nope.bin").bytes());
  EXPECT_KILN_ERROR(import_no_validate(missing), ErrorCode::IO, "'W'", "nope.bin");
  std::filesystem::create_directories(dir.file("adir"));
  const auto isdir = dir.write("d.onnx", model_with_external("adir").bytes());
  EXPECT_KILN_ERROR(import_no_validate(isdir), ErrorCode::InvalidModel, "not a regular file");
  ASSERT_EQ(::mkfifo(dir.file("fifo").c_str(), 0600), 0);
  const auto fifo = dir.write("f.onnx", model_with_external("fifo").bytes());
  EXPECT_KILN_ERROR(import_no_validate(fifo), ErrorCode::InvalidModel, "not a regular file");
  const auto noloc = dir.write("nl.onnx", model_with_external("").bytes());
  EXPECT_KILN_ERROR(import_no_validate(noloc), ErrorCode::InvalidModel, "location");
}

TEST(OnnxExternalData, ImportBytesWithoutDirectoryRefuses) {
  onnx::ImportOptions opt;
  opt.validate = false;
  EXPECT_KILN_ERROR(onnx::import_bytes(model_with_external("w.bin").bytes(), "", "mem-model", opt),
                    ErrorCode::InvalidArgument, "mem-model", "'W'");
}

TEST(OnnxExternalData, ExternalAndInlineTogetherRefused) {
  TempDir dir;
  dir.write("weights.bin", raw_bytes(k_weights));
  ModelBuilder mb = model_with_external("weights.bin");
  mb.g().mutable_initializer(0)->set_raw_data(raw_bytes(k_weights));
  const auto model = dir.write("model.onnx", mb.bytes());
  EXPECT_KILN_ERROR(import_no_validate(model), ErrorCode::InvalidModel, "inline");
}

}  // namespace
}  // namespace kiln::test
