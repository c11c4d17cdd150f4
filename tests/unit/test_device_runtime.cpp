// The device-aware runtime on a fake GPU (fake_device.h): placement with CPU
// fallbacks and copies, shape computations on the host, fixed I/O buffers, no
// device allocation outside the plan, weights uploaded once per engine and
// device, device tensors in and out, and clear errors. The same code paths
// run on the real CUDA backend; these run in CI without one.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <thread>

#include "engine/engine_data.h"
#include "fake_device.h"
#include "kiln/builder.h"
#include "kiln/session.h"
#include "onnx_test_util.h"

namespace kiln::test {
namespace {

class DeviceRuntime : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // Sigmoid and the fused ops are what the fake GPU "lacks".
    install_fake_device({"Sigmoid", "FusedConv", "FusedGemm", "FusedMatMul", "FusedConvDw"});
  }
  void SetUp() override { fake_stats().violations = 0; }
  void TearDown() override {
    EXPECT_EQ(fake_stats().violations.load(), 0) << fake_stats().last_violation;
  }
};

// x[1,2,5,5] -> Conv(pads 1) -> Relu -> Sigmoid (cpu) -> Mul(c) -> Reshape([1,-1]) -> y
std::string conv_model() {
  ModelBuilder mb(13);
  mb.input("x", ::onnx::TensorProto::FLOAT, {int64_t{1}, int64_t{2}, int64_t{5}, int64_t{5}});
  mb.output("y", ::onnx::TensorProto::FLOAT, {int64_t{1}, int64_t{75}});
  std::vector<float> w(3 * 2 * 3 * 3);
  for (size_t i = 0; i < w.size(); ++i) w[i] = std::sin(static_cast<float>(i)) * 0.3f;
  mb.init_floats("W", {3, 2, 3, 3}, w);
  mb.init_floats("B", {3}, {0.1f, -0.2f, 0.3f});
  mb.init_floats("c", {1}, {1.5f});
  auto& conv = mb.node("Conv", {"x", "W", "B"}, {"c1"}, "conv");
  add_ints_attr(conv, "pads", {1, 1, 1, 1});
  mb.node("Relu", {"c1"}, {"r"}, "relu");
  mb.node("Sigmoid", {"r"}, {"s"}, "sigmoid");
  mb.node("Mul", {"s", "c"}, {"m"}, "mul");
  auto* shape = mb.g().add_initializer();
  shape->set_name("shape");
  shape->set_data_type(::onnx::TensorProto::INT64);
  shape->add_dims(2);
  shape->add_int64_data(1);
  shape->add_int64_data(-1);
  mb.node("Reshape", {"m", "shape"}, {"y"}, "reshape");
  return mb.bytes();
}

Tensor input_x(Shape shape = {1, 2, 5, 5}) {
  Tensor t = Tensor::empty(DataType::Float32, shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = std::cos(static_cast<float>(i) * 0.7f);
  return t;
}

Engine build(const std::string& bytes, const std::string& device, int opt = 3) {
  TempDir dir;
  const Model m = Model::load(dir.write("m.onnx", bytes));
  BuildConfig c;
  c.device = device;
  c.optimization_level = opt;
  return build_engine(m, c);
}

void expect_same(const Tensor& a, const Tensor& b) {
  ASSERT_EQ(a.shape(), b.shape());
  for (int64_t i = 0; i < a.numel(); ++i) ASSERT_NEAR(a.data<float>()[i], b.data<float>()[i], 1e-5) << i;
}

int count_ops(const Engine& e, const std::string& op) {
  int n = 0;
  for (const auto& node : e.data()->graph.nodes) n += node.op_type == op;
  return n;
}

TEST_F(DeviceRuntime, MixedEngineMatchesTheCpuAndListsItsFallbacks) {
  const Engine cpu = build(conv_model(), "cpu");
  const Engine dev = build(conv_model(), "cuda");
  EXPECT_EQ(dev.backend(), "cuda");
  const std::vector<NodePlacement> host = dev.host_nodes();
  ASSERT_EQ(host.size(), 1u);
  EXPECT_EQ(host[0].op_type, "Sigmoid");
  EXPECT_NE(host[0].reason.find("no cuda kernel"), std::string::npos) << host[0].reason;
  // One copy to the host before the Sigmoid, one back after it.
  EXPECT_EQ(count_ops(dev, "ToHost"), 1);
  EXPECT_EQ(count_ops(dev, "ToDevice"), 1);
  Session s_cpu(cpu), s_dev(dev);
  const Tensor x = input_x();
  expect_same(s_dev.run({{"x", x}})[0].tensor, s_cpu.run({{"x", x}})[0].tensor);
  EXPECT_EQ(s_dev.device(), (Device{DeviceKind::CUDA, 0}));
}

TEST_F(DeviceRuntime, FusedOpsTheDeviceLacksAreNotMade) {
  EXPECT_EQ(count_ops(build(conv_model(), "cpu"), "FusedConv"), 1);
  const Engine dev = build(conv_model(), "cuda");
  EXPECT_EQ(count_ops(dev, "FusedConv"), 0);
  EXPECT_EQ(count_ops(dev, "Conv"), 1);  // and it stays on the device
  for (const auto& n : dev.host_nodes()) EXPECT_NE(n.op_type, "Conv");
}

TEST_F(DeviceRuntime, EveryNodeOnTheDeviceAtLevelZeroToo) {
  const Engine dev = build(conv_model(), "cuda", 0);
  Session s(dev);
  const Engine cpu = build(conv_model(), "cpu", 0);
  Session c(cpu);
  expect_same(s.run({{"x", input_x()}})[0].tensor, c.run({{"x", input_x()}})[0].tensor);
}

TEST_F(DeviceRuntime, NoDeviceAllocationOutsideThePlanOnceWarm) {
  Session s(build(conv_model(), "cuda"));
  const Tensor x = input_x();
  s.run({{"x", x}});  // makes the context: arena and weights
  const int64_t before = fake_stats().allocations;
  for (int i = 0; i < 3; ++i) s.run({{"x", x}});
  EXPECT_EQ(fake_stats().allocations - before, 0);
  // Device outputs are the caller's: one allocation each.
  RunOptions o;
  o.outputs_on_device = true;
  const auto out = s.run({{"x", x}}, o);
  EXPECT_EQ(fake_stats().allocations - before, 1);
  EXPECT_FALSE(out[0].tensor.on_host());
  EXPECT_TRUE(fake_stats().is_device(out[0].tensor.raw()));
}

TEST_F(DeviceRuntime, DeviceInputsAreReadInPlaceAndOutputsStayOnTheDevice) {
  const Engine e = build(conv_model(), "cuda");
  Session s(e);
  backend::Backend& dev = backend::backend_for("cuda:0");
  const Tensor x = input_x();
  Tensor xd = dev.empty(DataType::Float32, x.shape());
  auto stream = dev.create_stream();
  dev.copy(xd.raw(), xd.device(), x.raw(), x.device(), x.nbytes(), *stream);
  RunOptions o;
  o.outputs_on_device = true;
  s.run({{"x", xd}}, o);  // warm: the context and the weights' upload
  const int64_t copies = fake_stats().copies;
  const auto out = s.run({{"x", xd}}, o);
  // Only the output copy: the device input is bound, not copied.
  EXPECT_EQ(fake_stats().copies - copies, 1);
  Session ref(build(conv_model(), "cpu"));
  Tensor host = Tensor::empty(DataType::Float32, out[0].tensor.shape());
  std::memcpy(host.raw(), out[0].tensor.raw(), host.nbytes());  // the fake's device memory is host memory
  expect_same(host, ref.run({{"x", x}})[0].tensor);
}

TEST_F(DeviceRuntime, WeightsAreUploadedOncePerEngineAndDevice) {
  const Engine e = build(conv_model(), "cuda");
  Session a(e);
  a.run({{"x", input_x()}});
  const size_t weights = a.stats().weight_bytes;
  EXPECT_GE(weights, (3 * 2 * 3 * 3 + 3) * sizeof(float));
  const int64_t before = fake_stats().allocated_bytes;
  Session b(e);
  b.run({{"x", input_x()}});
  // b's new allocations: its own arena only, no second copy of the weights.
  EXPECT_LT(static_cast<size_t>(fake_stats().allocated_bytes - before), weights + e.arena_bytes() + 1024);
  EXPECT_EQ(b.stats().weight_bytes, weights);
  // Another device has its own copy.
  SessionOptions o;
  o.device = "cuda:1";
  Session c(e, o);
  c.run({{"x", input_x()}});
  EXPECT_EQ(c.stats().weight_bytes, weights);
  EXPECT_EQ(c.device(), (Device{DeviceKind::CUDA, 1}));
}

TEST_F(DeviceRuntime, MixedEngineSurvivesSaveAndLoad) {
  const Engine e = build(conv_model(), "cuda");
  const std::vector<uint8_t> bytes = e.serialize();
  const Engine back = Engine::deserialize(bytes.data(), bytes.size());
  EXPECT_EQ(back.host_nodes().size(), 1u);
  Session a(e), b(back);
  expect_same(a.run({{"x", input_x()}})[0].tensor, b.run({{"x", input_x()}})[0].tensor);
}

TEST_F(DeviceRuntime, InputOnAnotherDeviceIsAClearError) {
  Session s(build(conv_model(), "cuda"));
  backend::Backend& other = backend::backend_for("cuda:1");
  Tensor x = other.empty(DataType::Float32, {1, 2, 5, 5});
  EXPECT_KILN_ERROR(s.run({{"x", x}}), ErrorCode::InvalidArgument, "input 'x'", "cuda:1", "cuda:0");
}

TEST_F(DeviceRuntime, EngineForTheCpuRefusesADevice) {
  SessionOptions o;
  o.device = "cuda:0";
  EXPECT_KILN_ERROR(Session(build(conv_model(), "cpu"), o), ErrorCode::InvalidArgument, "built for cpu");
}

// A dynamic batch: the Shape -> Gather -> Concat chain feeding Reshape cannot
// fold at build time; it is placed on the host (its result is read there),
// and each batch size specializes and runs right.
std::string dynamic_model() {
  ModelBuilder mb(13);
  mb.input("x", ::onnx::TensorProto::FLOAT, {std::string("n"), int64_t{6}});
  mb.output("y", ::onnx::TensorProto::FLOAT, {std::string("n"), int64_t{2}, int64_t{3}});
  mb.node("Shape", {"x"}, {"s"}, "shape");
  auto* idx = mb.g().add_initializer();
  idx->set_name("zero");
  idx->set_data_type(::onnx::TensorProto::INT64);
  idx->add_dims(1);
  idx->add_int64_data(0);
  auto* tail = mb.g().add_initializer();
  tail->set_name("tail");
  tail->set_data_type(::onnx::TensorProto::INT64);
  tail->add_dims(2);
  tail->add_int64_data(2);
  tail->add_int64_data(3);
  mb.node("Gather", {"s", "zero"}, {"n"}, "gather");
  auto& cat = mb.node("Concat", {"n", "tail"}, {"shape2"}, "concat");
  add_int_attr(cat, "axis", 0);
  mb.node("Relu", {"x"}, {"r"}, "relu");
  mb.node("Reshape", {"r", "shape2"}, {"y"}, "reshape");
  return mb.bytes();
}

TEST_F(DeviceRuntime, ShapeComputationsRunOnTheHost) {
  const Engine e = build(dynamic_model(), "cuda");
  int shape_nodes = 0;
  for (const auto& n : e.host_nodes()) {
    EXPECT_NE(n.op_type, "Relu");
    EXPECT_NE(n.op_type, "Reshape");
    shape_nodes += n.reason.find("shape computation") != std::string::npos;
  }
  EXPECT_GE(shape_nodes, 2);  // Gather and Concat (Shape too)
  EXPECT_EQ(count_ops(e, "ToHost"), 0);  // nothing device-made is read on the host
  Session s(e);
  for (int64_t n : {1, 3, 2}) {
    Tensor x = Tensor::empty(DataType::Float32, {n, 6});
    for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = static_cast<float>(i) - 5;
    const Tensor y = s.run({{"x", x}})[0].tensor;
    ASSERT_EQ(y.shape(), (Shape{n, 2, 3}));
    for (int64_t i = 0; i < y.numel(); ++i) EXPECT_EQ(y.data<float>()[i], std::max(0.f, static_cast<float>(i) - 5));
  }
  EXPECT_EQ(s.stats().contexts, 3u);
}

TEST_F(DeviceRuntime, StatsAnswerFromAnotherThreadWhileRunning) {
  Session s(build(conv_model(), "cuda"));
  std::atomic<bool> done{false};
  std::thread reader([&] {
    while (!done) (void)s.stats();
  });
  for (int i = 0; i < 50; ++i) s.run({{"x", input_x()}});
  done = true;
  reader.join();
  EXPECT_EQ(s.stats().runs, 50u);
  EXPECT_EQ(s.stats().context_misses, 1u);
}

}  // namespace
}  // namespace kiln::test
