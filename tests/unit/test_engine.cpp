// Engine build → serialize → load → run, and what the builder and session
// refuse. Models are built with the protobuf API (onnx_test_util.h).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "engine/engine_data.h"
#include "kiln/builder.h"
#include "kiln/session.h"
#include "onnx_test_util.h"

namespace kiln::test {
namespace {

constexpr int32_t k_f32 = ::onnx::TensorProto::FLOAT;

// y = relu(x @ W + b), x: [N, 3] with N symbolic, W: [3, 2].
std::string mlp_model(TempDir& dir, const std::string& batch_dim = "N") {
  ModelBuilder mb(13);
  mb.input("x", k_f32, {batch_dim, int64_t{3}});
  mb.output("y", k_f32, {batch_dim, int64_t{2}});
  mb.init_floats("W", {3, 2}, {1, -1, 2, 0.5f, -3, 1});
  mb.init_floats("b", {2}, {0.5f, -0.25f});
  mb.node("MatMul", {"x", "W"}, {"xw"}, "mm");
  mb.node("Add", {"xw", "b"}, {"z"}, "add");
  mb.node("Relu", {"z"}, {"y"}, "relu");
  return dir.write("mlp.onnx", mb.bytes());
}

std::vector<float> mlp_reference(const std::vector<float>& x, int64_t n) {
  const float W[3][2] = {{1, -1}, {2, 0.5f}, {-3, 1}}, b[2] = {0.5f, -0.25f};
  std::vector<float> y(static_cast<size_t>(n * 2));
  for (int64_t i = 0; i < n; ++i)
    for (int j = 0; j < 2; ++j) {
      float acc = b[j];
      for (int k = 0; k < 3; ++k) acc += x[static_cast<size_t>(i * 3 + k)] * W[k][j];
      y[static_cast<size_t>(i * 2 + j)] = std::max(acc, 0.f);
    }
  return y;
}

Tensor random_f32(Shape shape, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-2, 2);
  Tensor t = Tensor::empty(DataType::Float32, shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = u(rng);
  return t;
}

void expect_mlp(Session& s, int64_t n, uint32_t seed) {
  Tensor x = random_f32({n, 3}, seed);
  auto out = s.run({{"x", x}});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].name, "y");
  ASSERT_EQ(out[0].tensor.shape(), (Shape{n, 2}));
  const auto want = mlp_reference(std::vector<float>(x.data<float>(), x.data<float>() + x.numel()), n);
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(out[0].tensor.data<float>()[i], want[i], 1e-5) << i;
}

TEST(Engine, BuildRunStaticProfile) {
  TempDir dir;
  BuildConfig c;
  c.profiles["x"] = {{4, 3}, {4, 3}, {4, 3}};
  Engine e = build_engine(Model::load(mlp_model(dir)), c);
  EXPECT_TRUE(e.data()->plan_valid);
  EXPECT_EQ(e.inputs().at(0).shape, (std::vector<int64_t>{4, 3}));
  Session s(e);
  expect_mlp(s, 4, 1);
}

TEST(Engine, DynamicBatchSpecializesPerShape) {
  TempDir dir;
  Engine e = build_engine(Model::load(mlp_model(dir)));
  EXPECT_EQ(e.inputs().at(0).shape, (std::vector<int64_t>{-1, 3}));
  EXPECT_FALSE(e.data()->plan_valid);
  Session s(e);
  expect_mlp(s, 1, 2);
  expect_mlp(s, 5, 3);
  expect_mlp(s, 1, 4);  // back to a cached plan
}

TEST(Session, ProfilesEveryNodeWhenAsked) {
  TempDir dir;
  BuildConfig c;
  c.profiles["x"] = {{4, 3}, {4, 3}, {4, 3}};
  c.optimization_level = 0;  // keep MatMul, Add and Relu as three nodes
  Engine e = build_engine(Model::load(mlp_model(dir)), c);
  Session plain(e);
  expect_mlp(plain, 4, 1);
  EXPECT_TRUE(plain.profile().empty());

  SessionOptions o;
  o.profile = true;
  Session s(e, o);
  for (uint32_t i = 0; i < 3; ++i) expect_mlp(s, 4, i);
  std::vector<NodeProfile> p = s.profile();
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[0].node, "mm");
  EXPECT_EQ(p[0].op_type, "MatMul");
  EXPECT_EQ(p[2].op_type, "Relu");
  for (const NodeProfile& n : p) {
    EXPECT_EQ(n.runs, 3);
    EXPECT_GT(n.total_ms, 0);
    EXPECT_FALSE(n.kernel.empty()) << n.node;
  }
  s.reset_profile();
  for (const NodeProfile& n : s.profile()) EXPECT_EQ(n.runs, 0);
}

TEST(Engine, SerializeRoundTripRunsTheSame) {
  TempDir dir;
  BuildConfig c;
  c.profiles["x"] = {{2, 3}, {2, 3}, {2, 3}};
  Engine e = build_engine(Model::load(mlp_model(dir)), c);
  const std::string path = dir.file("mlp.kiln");
  e.save(path);
  Engine loaded = Engine::load(path);
  EXPECT_EQ(loaded.serialize(), e.serialize());
  EXPECT_EQ(loaded.fingerprint(), e.fingerprint());
  EXPECT_EQ(loaded.arena_bytes(), e.arena_bytes());
  Session s(loaded);
  expect_mlp(s, 2, 5);
}

TEST(Engine, EveryCorruptionIsDetected) {
  TempDir dir;
  BuildConfig c;
  c.profiles["x"] = {{2, 3}, {2, 3}, {2, 3}};
  const std::vector<uint8_t> good = build_engine(Model::load(mlp_model(dir)), c).serialize();
  for (size_t pos = 0; pos < good.size(); ++pos) {
    std::vector<uint8_t> bad = good;
    bad[pos] ^= 0x40;
    try {
      Engine::deserialize(bad.data(), bad.size(), "flip");
      ADD_FAILURE() << "flip at byte " << pos << " went unnoticed";
    } catch (const Error& err) {
      EXPECT_TRUE(err.code() == ErrorCode::Corrupt || err.code() == ErrorCode::Incompatible) << err.what();
    }
  }
  for (size_t len : {size_t{0}, size_t{7}, good.size() / 2, good.size() - 1}) {
    EXPECT_THROW(Engine::deserialize(good.data(), len, "truncated"), Error) << len;
  }
  std::vector<uint8_t> longer = good;
  longer.push_back(0);
  EXPECT_THROW(Engine::deserialize(longer.data(), longer.size(), "appended"), Error);
}

TEST(Engine, OtherFormatVersionIsIncompatible) {
  TempDir dir;
  std::vector<uint8_t> bytes = build_engine(Model::load(mlp_model(dir))).serialize();
  bytes[8] += 1;  // format_version follows the 8-byte magic
  EXPECT_KILN_ERROR(Engine::deserialize(bytes.data(), bytes.size(), "old.kiln"), ErrorCode::Incompatible,
                    "old.kiln", "rebuild");
}

TEST(Engine, LoadRefusesDirectoryAndMissingFile) {
  TempDir dir;
  EXPECT_KILN_ERROR(Engine::load(dir.path()), ErrorCode::IO, dir.path());
  EXPECT_KILN_ERROR(Engine::load(dir.file("nope.kiln")), ErrorCode::IO, "nope.kiln");
}

TEST(Session, RejectsBadInputs) {
  TempDir dir;
  BuildConfig c;
  c.profiles["x"] = {{1, 3}, {2, 3}, {4, 3}};
  Session s(build_engine(Model::load(mlp_model(dir)), c));
  EXPECT_KILN_ERROR(s.run({}), ErrorCode::InvalidArgument, "'x'", "missing");
  EXPECT_KILN_ERROR(s.run({{"x", random_f32({2, 3}, 0)}, {"z", random_f32({1}, 0)}}), ErrorCode::InvalidArgument,
                    "unknown input 'z'");
  EXPECT_KILN_ERROR(s.run({{"x", Tensor::empty(DataType::Int64, {2, 3})}}), ErrorCode::InvalidArgument, "'x'",
                    "int64", "float32");
  EXPECT_KILN_ERROR(s.run({{"x", random_f32({2, 3, 1}, 0)}}), ErrorCode::InvalidArgument, "'x'", "rank");
  EXPECT_KILN_ERROR(s.run({{"x", random_f32({2, 4}, 0)}}), ErrorCode::InvalidArgument, "'x'", "dim 1");
  EXPECT_KILN_ERROR(s.run({{"x", random_f32({5, 3}, 0)}}), ErrorCode::InvalidArgument, "'x'", "profile");
  expect_mlp(s, 3, 9);  // still usable after errors
}

TEST(Builder, RejectsBadProfiles) {
  TempDir dir;
  const Model m = Model::load(mlp_model(dir, "N"));
  BuildConfig c;
  c.profiles["nope"] = {{1, 3}, {1, 3}, {1, 3}};
  EXPECT_KILN_ERROR(build_engine(m, c), ErrorCode::InvalidArgument, "unknown input 'nope'");
  c.profiles.clear();
  c.profiles["x"] = {{2, 3}, {1, 3}, {4, 3}};
  EXPECT_KILN_ERROR(build_engine(m, c), ErrorCode::InvalidArgument, "min <= opt <= max");
  c.profiles["x"] = {{1, 4}, {1, 4}, {1, 4}};
  EXPECT_KILN_ERROR(build_engine(m, c), ErrorCode::InvalidArgument, "fixed at 3");
  c.profiles.clear();
  c.precision = Precision::FP16;
  EXPECT_KILN_ERROR(build_engine(m, c), ErrorCode::Unsupported, "fp32");
}

TEST(Builder, FoldsShapeArithmetic) {
  // x:[2,3,4] → Shape → Gather(0) → Unsqueeze → Concat(-1) → Reshape: all
  // shape work folds away for a static input, leaving a single Reshape.
  TempDir dir;
  ModelBuilder mb(13);
  mb.input("x", k_f32, {int64_t{2}, int64_t{3}, int64_t{4}});
  mb.output("y", k_f32, {int64_t{2}, int64_t{12}});
  auto& idx = *mb.g().add_initializer();
  idx.set_name("zero");
  idx.set_data_type(::onnx::TensorProto::INT64);
  idx.add_int64_data(0);
  auto& minus1 = *mb.g().add_initializer();
  minus1.set_name("minus1");
  minus1.set_data_type(::onnx::TensorProto::INT64);
  minus1.add_dims(1);
  minus1.add_int64_data(-1);
  auto& axes = *mb.g().add_initializer();
  axes.set_name("axes");
  axes.set_data_type(::onnx::TensorProto::INT64);
  axes.add_dims(1);
  axes.add_int64_data(0);
  mb.node("Shape", {"x"}, {"s"});
  mb.node("Gather", {"s", "zero"}, {"n"});
  mb.node("Unsqueeze", {"n", "axes"}, {"n1"});
  add_int_attr(mb.node("Concat", {"n1", "minus1"}, {"shape"}), "axis", 0);
  mb.node("Reshape", {"x", "shape"}, {"y"});
  Engine e = build_engine(Model::load(dir.write("fold.onnx", mb.bytes())));
  EXPECT_EQ(e.num_nodes(), 1u);
  Session s(e);
  Tensor x = random_f32({2, 3, 4}, 3);
  auto out = s.run({{"x", x}});
  ASSERT_EQ(out[0].tensor.shape(), (Shape{2, 12}));
  for (int64_t i = 0; i < 24; ++i) EXPECT_EQ(out[0].tensor.data<float>()[i], x.data<float>()[i]);
}

TEST(Builder, ProgressReachesDone) {
  TempDir dir;
  BuildConfig c;
  std::vector<std::string> stages;
  c.on_progress = [&](const BuildProgress& p) { stages.push_back(p.stage); };
  build_engine(Model::load(mlp_model(dir)), c);
  ASSERT_FALSE(stages.empty());
  EXPECT_EQ(stages.back(), "done");
}

TEST(Builder, UnsupportedOpNamesTheNode) {
  TempDir dir;
  ModelBuilder mb(13);
  mb.input("x", k_f32, {int64_t{2}});
  mb.output("y", k_f32, {int64_t{2}});
  mb.node("NoSuchOp", {"x"}, {"y"}, "weird");
  EXPECT_KILN_ERROR(Model::load(dir.write("u.onnx", mb.bytes())), ErrorCode::Unsupported, "weird", "NoSuchOp");
}

}  // namespace
}  // namespace kiln::test
