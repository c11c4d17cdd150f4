// The capture machinery of the graph cache (whole engine, per segment,
// failures) on the fake GPU, whose "graphs" are taped kernel runs replayed on
// the same buffers: in CI, without a GPU. test_cuda_graphs runs the same on
// real CUDA graphs.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

#include "fake_device.h"
#include "kiln/builder.h"
#include "kiln/graph_cache.h"
#include "kiln/session.h"
#include "graph_cache_test_util.h"
#include "onnx_test_util.h"

namespace kiln::test {
namespace {

class FakeGraphs : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    install_fake_device({"Sigmoid"});  // Sigmoid runs on the CPU: a segment boundary
    FakeDevice::capture_on() = true;
  }
  static void TearDownTestSuite() { FakeDevice::capture_on() = false; }
  void TearDown() override { EXPECT_EQ(fake_stats().violations.load(), 0) << fake_stats().last_violation; }
};

// x[N,8] -> MatMul(W) -> Relu -> [Sigmoid (cpu)] -> Add(c) -> y, and with
// `nonzero` also NonZero(y) -> nz (data-dependent: not capturable).
Engine build(bool sigmoid, bool nonzero) {
  ModelBuilder mb(13);
  mb.input("x", ::onnx::TensorProto::FLOAT, {std::string("N"), int64_t{8}});
  mb.output("y", ::onnx::TensorProto::FLOAT, {std::string("N"), int64_t{8}});
  std::vector<float> w(64);
  for (size_t i = 0; i < w.size(); ++i) w[i] = std::sin(static_cast<float>(i)) * 0.5f;
  mb.init_floats("W", {8, 8}, w);
  mb.init_floats("c", {8}, {0.1f, -0.2f, 0.3f, -0.4f, 0.5f, -0.6f, 0.7f, -0.8f});
  mb.node("MatMul", {"x", "W"}, {"m"}, "matmul");
  mb.node("Relu", {"m"}, {"r"}, "relu");
  std::string last = "r";
  if (sigmoid) {
    mb.node("Sigmoid", {"r"}, {"s"}, "sigmoid");
    last = "s";
  }
  mb.node("Add", {last, "c"}, {"y"}, "add");
  if (nonzero) {
    mb.output("nz", ::onnx::TensorProto::INT64, {int64_t{2}, std::string("k")});
    mb.node("Relu", {"y"}, {"yr"}, "relu_y");
    mb.node("NonZero", {"yr"}, {"nz"}, "nonzero");
  }
  TempDir dir;
  BuildConfig c;
  c.device = "cuda";
  return build_engine(Model::load(dir.write("m.onnx", mb.bytes())), c);
}

Tensor x_of(int64_t n, float phase) {
  Tensor t = Tensor::empty(DataType::Float32, {n, 8});
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = std::cos(static_cast<float>(i) * 0.7f + phase);
  return t;
}

void expect_replays_match(bool sigmoid, bool nonzero, CaptureMode mode, int graphs) {
  const Engine e = build(sigmoid, nonzero);
  auto cache = std::make_shared<GraphCache>(4);
  Session g(e, with(cache)), plain(e);
  const int64_t replays = FakeCapture::replays();
  for (int i = 0; i < 4; ++i) {  // a capture, then replays with new values
    const auto got = g.run({{"x", x_of(3, static_cast<float>(i))}});
    const auto want = plain.run({{"x", x_of(3, static_cast<float>(i))}});
    ASSERT_EQ(got.size(), want.size());
    for (size_t k = 0; k < got.size(); ++k) EXPECT_EQ(bytes_of(got[k].tensor), bytes_of(want[k].tensor)) << i << "/" << k;
  }
  const auto entries = cache->entries();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].mode, mode);
  EXPECT_EQ(entries[0].graphs, graphs);
  EXPECT_EQ(FakeCapture::replays() - replays, 3 * graphs);  // three hits, each replaying every graph
}

TEST_F(FakeGraphs, AllOnTheDeviceIsOneGraph) { expect_replays_match(false, false, CaptureMode::Whole, 1); }

TEST_F(FakeGraphs, CpuNodesSplitIntoSegments) {
  // [MatMul Relu] ToHost Sigmoid ToDevice [Add]: two graphs around the CPU part.
  expect_replays_match(true, false, CaptureMode::Segments, 2);
}

TEST_F(FakeGraphs, DataDependentNodesSplitIntoSegments) {
  // NonZero's output is sized by its data: it runs between replays.
  expect_replays_match(false, true, CaptureMode::Segments, 1);
}

TEST_F(FakeGraphs, AFailedCaptureLeavesNoEntryAndRunsWithoutAGraph) {
  const Engine e = build(false, false);
  auto cache = std::make_shared<GraphCache>(4);
  Session g(e, with(cache)), plain(e);
  setenv("KILN_FAULT", "capture", 1);
  const auto got = g.run({{"x", x_of(2, 0)}});
  unsetenv("KILN_FAULT");
  EXPECT_EQ(bytes_of(got[0].tensor), bytes_of(plain.run({{"x", x_of(2, 0)}})[0].tensor));
  EXPECT_EQ(cache->size(), 0u);
  EXPECT_EQ(cache->stats().capture_failures, 1u);
  EXPECT_EQ(bytes_of(g.run({{"x", x_of(2, 1)}})[0].tensor), bytes_of(plain.run({{"x", x_of(2, 1)}})[0].tensor));
  EXPECT_EQ(cache->stats().capture_failures, 1u);  // said once; the key runs without a graph
  g.run({{"x", x_of(5, 0)}});
  EXPECT_EQ(cache->size(), 1u);  // other keys capture
}

// One engine's Sessions on two devices share a cache: the same shape is one
// entry per device, each replayed on its own, and purging one device's
// entries leaves the other's.
TEST_F(FakeGraphs, EntriesAreKeyedByDevice) {
  const Engine e = build(false, false);
  auto cache = std::make_shared<GraphCache>(8);
  SessionOptions o0 = with(cache), o1 = with(cache);
  o0.device = "cuda:0";
  o1.device = "cuda:1";
  Session s0(e, o0), s1(e, o1), plain(e);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(bytes_of(s0.run({{"x", x_of(4, static_cast<float>(i))}})[0].tensor),
              bytes_of(plain.run({{"x", x_of(4, static_cast<float>(i))}})[0].tensor));
    EXPECT_EQ(bytes_of(s1.run({{"x", x_of(4, static_cast<float>(i))}})[0].tensor),
              bytes_of(plain.run({{"x", x_of(4, static_cast<float>(i))}})[0].tensor));
  }
  const GraphKey k0{{{4, 8}}, {DataType::Float32}, Device{DeviceKind::CUDA, 0}};
  const GraphKey k1{{{4, 8}}, {DataType::Float32}, Device{DeviceKind::CUDA, 1}};
  EXPECT_EQ(cache->size(), 2u);
  EXPECT_TRUE(cache->contains(k0));
  EXPECT_TRUE(cache->contains(k1));
  EXPECT_EQ(cache->stats().hits, 2u);  // each device's second run replayed its own entry
  cache->purge_device(Device{DeviceKind::CUDA, 0});
  EXPECT_FALSE(cache->contains(k0));
  EXPECT_TRUE(cache->contains(k1));
}

}  // namespace
}  // namespace kiln::test
