// Hostile and broken model files: each must end in a kiln::Error naming the
// file — never a crash, a hang, another exception type or a huge allocation.
// None of these depend on op schemas being registered.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <random>

#include "onnx/import.h"
#include "onnx/tensor_proto.h"
#include "onnx_test_util.h"

namespace kiln::test {
namespace {

using TP = ::onnx::TensorProto;
using AP = ::onnx::AttributeProto;

// A small model exercising most of the format: initializers (typed and raw),
// attributes of several kinds, value_info, a Constant node and symbolic dims.
ModelBuilder rich_model() {
  ModelBuilder mb;
  mb.input("x", TP::FLOAT, {std::string("n"), 1, 4, 4});
  mb.init_floats("w", {1, 1, 3, 3}, std::vector<float>(9, 0.5f));
  auto* b = mb.g().add_initializer();
  b->set_name("shape");
  b->set_data_type(TP::INT64);
  b->add_dims(2);
  b->set_raw_data(raw_bytes(std::vector<int64_t>{-1, 4}));
  auto& conv = mb.node("Conv", {"x", "w"}, {"c"}, "conv");
  add_ints_attr(conv, "pads", {1, 1, 1, 1});
  add_ints_attr(conv, "kernel_shape", {3, 3});
  auto& k = mb.node("Constant", {}, {"k"}, "k");
  auto* a = k.add_attribute();
  a->set_name("value");
  a->set_type(AP::TENSOR);
  a->mutable_t()->set_data_type(TP::FLOAT);
  a->mutable_t()->add_float_data(2.f);
  mb.node("Mul", {"c", "k"}, {"m"}, "mul");
  mb.node("Reshape", {"m", "shape"}, {"y"}, "reshape");
  auto* vi = mb.g().add_value_info();
  vi->set_name("c");
  set_type(vi, TP::FLOAT, {std::string("n"), 1, 4, 4});
  mb.output("y", TP::FLOAT, {std::string(""), 4});
  return mb;
}

// Imports `bytes`; only a kiln::Error may come out, and it must name `label`.
void expect_clean_failure_or_success(const std::string& bytes, const std::string& label) {
  try {
    onnx::import_bytes(bytes, "", label);
  } catch (const Error& e) {
    EXPECT_NE(e.message().find(label), std::string::npos) << e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "non-kiln exception: " << e.what();
  }
}

TEST(OnnxHostile, EmptyFile) {
  TempDir dir;
  const auto p = dir.write("empty.onnx", "");
  EXPECT_KILN_ERROR(onnx::import_file(p), ErrorCode::InvalidModel, "empty.onnx", "empty");
}

TEST(OnnxHostile, DirectoryGivenAsModel) {
  TempDir dir;
  EXPECT_KILN_ERROR(onnx::import_file(dir.path()), ErrorCode::IO, dir.path(), "directory");
}

TEST(OnnxHostile, MissingAndUnreadableFiles) {
  TempDir dir;
  EXPECT_KILN_ERROR(onnx::import_file(dir.file("nope.onnx")), ErrorCode::IO, "nope.onnx");
  EXPECT_KILN_ERROR(onnx::import_file(""), ErrorCode::IO, "path");
  ASSERT_EQ(::mkfifo(dir.file("fifo.onnx").c_str(), 0600), 0);  // must not block
  EXPECT_KILN_ERROR(onnx::import_file(dir.file("fifo.onnx")), ErrorCode::IO, "fifo.onnx", "regular");
  const auto p = dir.write("locked.onnx", rich_model().bytes());
  ::chmod(p.c_str(), 0);
  if (::geteuid() == 0) GTEST_SKIP() << "root reads files regardless of permissions";
  EXPECT_KILN_ERROR(onnx::import_file(p), ErrorCode::IO, "locked.onnx");
}

TEST(OnnxHostile, TruncatedModelFile) {
  TempDir dir;
  const std::string bytes = rich_model().bytes();
  const auto p = dir.write("cut.onnx", bytes.substr(0, bytes.size() / 2));
  EXPECT_KILN_ERROR(onnx::import_file(p), ErrorCode::InvalidModel, "cut.onnx");
}

TEST(OnnxHostile, RandomBytes) {
  TempDir dir;
  std::mt19937 rng(1234);
  for (size_t size : {1u, 7u, 64u, 1000u, 100000u}) {
    std::string bytes(size, '\0');
    for (char& c : bytes) c = static_cast<char>(rng() & 0xff);
    const auto p = dir.write("random.onnx", bytes);
    try {
      onnx::import_file(p);
      ADD_FAILURE() << size << " random bytes imported as a model";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::InvalidModel) << e.what();
      EXPECT_NE(e.message().find("random.onnx"), std::string::npos) << e.what();
    }
  }
}

TEST(OnnxHostile, ValidProtobufThatIsNotAModel) {
  TempDir dir;
  TP t;
  t.set_name("t");
  t.set_data_type(TP::FLOAT);
  t.add_dims(2);
  t.add_float_data(1.f);
  t.add_float_data(2.f);
  const auto tensor = dir.write("tensor.onnx", t.SerializeAsString());
  EXPECT_KILN_ERROR(onnx::import_file(tensor), ErrorCode::InvalidModel, "tensor.onnx");
  ::onnx::ModelProto no_graph;
  no_graph.set_ir_version(8);
  no_graph.add_opset_import()->set_version(13);
  const auto ng = dir.write("nograph.onnx", no_graph.SerializeAsString());
  EXPECT_KILN_ERROR(onnx::import_file(ng), ErrorCode::InvalidModel, "nograph.onnx", "no graph");
}

TEST(OnnxHostile, OversizedFileIsRefusedWithoutReading) {
  TempDir dir;
  const auto p = dir.file("huge.onnx");
  const int fd = ::open(p.c_str(), O_CREAT | O_WRONLY, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, (off_t{2} << 30) + 1), 0);  // sparse: no disk used
  ::close(fd);
  EXPECT_KILN_ERROR(onnx::import_file(p), ErrorCode::InvalidModel, "huge.onnx", "2 GiB");
}

TEST(OnnxHostile, EveryTruncation) {
  const std::string bytes = rich_model().bytes();
  for (size_t n = 0; n < bytes.size(); ++n) expect_clean_failure_or_success(bytes.substr(0, n), "prefix.onnx");
}

TEST(OnnxHostile, RandomMutations) {
  const std::string bytes = rich_model().bytes();
  std::mt19937 rng(42);
  for (int trial = 0; trial < 3000; ++trial) {
    std::string m = bytes;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) m[rng() % m.size()] = static_cast<char>(rng() & 0xff);
    expect_clean_failure_or_success(m, "mutant.onnx");
  }
}

TEST(OnnxHostile, DeeplyNestedSubgraphs) {
  // Subgraph attributes nested far past protobuf's recursion limit.
  ::onnx::GraphProto inner;
  for (int depth = 0; depth < 3000; ++depth) {
    ::onnx::GraphProto outer;
    auto* n = outer.add_node();
    n->set_op_type("If");
    auto* a = n->add_attribute();
    a->set_name("then_branch");
    a->set_type(AP::GRAPH);
    *a->mutable_g() = std::move(inner);
    inner = std::move(outer);
  }
  ModelBuilder mb;
  *mb.m.mutable_graph() = std::move(inner);
  std::string bytes;
  ASSERT_TRUE(mb.m.SerializeToString(&bytes));
  EXPECT_KILN_ERROR(onnx::import_bytes(bytes, "", "deep.onnx"), ErrorCode::InvalidModel, "deep.onnx");
}

TEST(OnnxHostile, HugeDeclaredTensorsDoNotAllocate) {
  ModelBuilder mb;
  mb.input("x", TP::FLOAT, {1});
  auto* w = mb.g().add_initializer();
  w->set_name("w");
  w->set_data_type(TP::FLOAT);
  w->add_dims(int64_t{1} << 45);  // 128 TiB of floats, with 4 bytes of data
  w->set_raw_data("abcd");
  mb.node("Add", {"x", "w"}, {"y"});
  mb.output("y", TP::FLOAT, {1});
  EXPECT_KILN_ERROR(onnx::import_bytes(mb.bytes(), "", "huge.onnx"), ErrorCode::InvalidModel, "huge.onnx", "'w'");
  w->clear_raw_data();
  for (int i = 0; i < 3; ++i) w->add_float_data(1.f);
  EXPECT_KILN_ERROR(onnx::import_bytes(mb.bytes(), "", "huge.onnx"), ErrorCode::InvalidModel, "'w'", "holds 3");
}

}  // namespace
}  // namespace kiln::test
