// Runtime controls on the CPU and the fake GPU: pre-allocated outputs (the
// same buffers each call, no allocation on the hot path) and the output
// allocator for data-dependent output shapes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

#include "fake_device.h"
#include "kiln/builder.h"
#include "kiln/session.h"
#include "onnx_test_util.h"

namespace kiln::test {
namespace {

// x[2,3] -> Relu -> y, and NonZero(x) -> nz (data-dependent [2, count]).
Engine build(const std::string& device) {
  ModelBuilder mb(13);
  mb.input("x", ::onnx::TensorProto::FLOAT, {int64_t{2}, int64_t{3}});
  mb.output("y", ::onnx::TensorProto::FLOAT, {int64_t{2}, int64_t{3}});
  mb.output("nz", ::onnx::TensorProto::INT64, {int64_t{2}, std::string("k")});
  mb.node("Relu", {"x"}, {"y"}, "relu");
  mb.node("NonZero", {"y"}, {"nz"}, "nonzero");
  TempDir dir;
  BuildConfig c;
  c.device = device;
  return build_engine(Model::load(dir.write("m.onnx", mb.bytes())), c);
}

Tensor x_of(std::vector<float> v) { return Tensor::from_vector(DataType::Float32, {2, 3}, v); }

class RuntimeControls : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { install_fake_device({}); }
};

TEST_F(RuntimeControls, PreAllocatedOutputsAreTheSameBuffersEachCall) {
  SessionOptions o;
  o.pre_allocated_outputs = true;
  Session s(build("cpu"), o);
  const auto a = s.run({{"x", x_of({1, -1, 2, -2, 3, -3})}});
  const void* first = a[0].tensor.raw();
  const auto b = s.run({{"x", x_of({-1, 1, -2, 2, -3, 3})}});
  EXPECT_EQ(b[0].tensor.raw(), first);                 // reused...
  EXPECT_EQ(a[0].tensor.data<float>()[1], 1.f);        // ...and overwritten, as documented
  EXPECT_EQ(b[1].tensor.shape(), (Shape{2, 3}));       // three non-zeros
}

TEST_F(RuntimeControls, PreAllocatedDeviceOutputsAllocateNothing) {
  SessionOptions o;
  o.pre_allocated_outputs = true;
  Session s(build("cuda"), o);
  RunOptions r;
  r.outputs_on_device = true;
  const auto first = s.run({{"x", x_of({1, -1, 2, -2, 3, -3})}}, r);
  const int64_t before = fake_stats().allocations;
  const auto out = s.run({{"x", x_of({1, 0, 2, 0, 3, -1})}}, r);
  // y reuses its buffer; NonZero's output is data-dependent (three non-zeros
  // again, so its kept buffer fits too): one run-time allocation.
  EXPECT_LE(fake_stats().allocations - before, 1);
  EXPECT_EQ(out[0].tensor.raw(), first[0].tensor.raw());
  EXPECT_FALSE(out[0].tensor.on_host());
  EXPECT_EQ(out[0].tensor.data<float>()[2], 2.f);  // the fake's device memory is host memory
}

// A returned pre-allocated output outlives its shape's context (evicted here
// by a Session that keeps one context).
TEST_F(RuntimeControls, PreAllocatedOutputsOutliveTheirContext) {
  SessionOptions o;
  o.pre_allocated_outputs = true;
  o.max_shape_plans = 1;
  ModelBuilder mb(13);
  mb.input("x", ::onnx::TensorProto::FLOAT, {std::string("n"), int64_t{3}});
  mb.output("y", ::onnx::TensorProto::FLOAT, {std::string("n"), int64_t{3}});
  mb.node("Relu", {"x"}, {"y"}, "relu");
  TempDir dir;
  Session s(build_engine(Model::load(dir.write("m.onnx", mb.bytes()))), o);
  const Tensor a = s.run({{"x", Tensor::from_vector<float>(DataType::Float32, {1, 3}, {1, -2, 3})}})[0].tensor;
  s.run({{"x", Tensor::from_vector<float>(DataType::Float32, {2, 3}, {9, 9, 9, 9, 9, 9})}});  // evicts a's context
  EXPECT_EQ(std::vector<float>(a.data<float>(), a.data<float>() + 3), (std::vector<float>{1, 0, 3}));
}

class Recorder final : public OutputAllocator {
 public:
  void* reallocate(const std::string& name, size_t bytes, const Device& device) override {
    ++calls;
    devices[name] = device;
    auto& b = blocks[name];
    if (b.size() < bytes) b.resize(bytes);
    return b.data();
  }
  void notify_shape(const std::string& name, const Shape& shape) override { shapes[name] = shape; }
  int calls = 0;
  std::map<std::string, std::vector<uint8_t>> blocks;
  std::map<std::string, Shape> shapes;
  std::map<std::string, Device> devices;
};

TEST_F(RuntimeControls, OutputAllocatorGetsDataDependentOutputs) {
  auto rec = std::make_shared<Recorder>();
  SessionOptions o;
  o.output_allocator = rec;
  Session s(build("cpu"), o);
  const auto out = s.run({{"x", x_of({0, 5, 0, 0, 7, 0})}});
  EXPECT_EQ(rec->calls, 2);
  EXPECT_EQ(rec->shapes["nz"], (Shape{2, 2}));
  EXPECT_EQ(out[1].tensor.raw(), rec->blocks["nz"].data());
  const int64_t* nz = out[1].tensor.data<int64_t>();
  EXPECT_EQ(std::vector<int64_t>(nz, nz + 4), (std::vector<int64_t>{0, 1, 1, 1}));  // rows, then cols
  EXPECT_TRUE(rec->devices["nz"].is_host());
}

TEST_F(RuntimeControls, OutputAllocatorAndGraphsAreAClearError) {
  SessionOptions o;
  o.output_allocator = std::make_shared<Recorder>();
  o.graph_cache = std::make_shared<GraphCache>(4);
  EXPECT_KILN_ERROR(Session(build("cpu"), o), ErrorCode::InvalidArgument, "output allocator", "graph");
}

}  // namespace
}  // namespace kiln::test

namespace kiln::test {
namespace {

// A chain of 4 MatMuls with 1 KiB-ish weights each, built for weight
// streaming on the fake GPU.
Engine streaming_engine(bool streaming) {
  ModelBuilder mb(13);
  mb.input("x", ::onnx::TensorProto::FLOAT, {int64_t{2}, int64_t{16}});
  mb.output("y", ::onnx::TensorProto::FLOAT, {int64_t{2}, int64_t{16}});
  std::string prev = "x";
  for (int l = 0; l < 4; ++l) {
    std::vector<float> w(16 * 16);
    for (size_t i = 0; i < w.size(); ++i) w[i] = std::sin(static_cast<float>(i * (l + 1))) * 0.25f;
    const std::string name = "W" + std::to_string(l), out = l == 3 ? "y" : "h" + std::to_string(l);
    mb.init_floats(name, {16, 16}, w);
    mb.node("MatMul", {prev, name}, {out}, "mm" + std::to_string(l));
    prev = out;
  }
  TempDir dir;
  BuildConfig c;
  c.device = "cuda";
  c.weight_streaming = streaming;
  return build_engine(Model::load(dir.write("m.onnx", mb.bytes())), c);
}

Tensor x16() {
  Tensor t = Tensor::empty(DataType::Float32, {2, 16});
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = std::cos(static_cast<float>(i));
  return t;
}

std::vector<float> out_values(Session& s) {
  const Tensor y = s.run({{"x", x16()}})[0].tensor;
  return std::vector<float>(y.data<float>(), y.data<float>() + y.numel());
}

TEST_F(RuntimeControls, WeightStreamingUnderABudgetMatchesResident) {
  Session resident(streaming_engine(false));
  const std::vector<float> want = out_values(resident);
  Session s(streaming_engine(true));
  const size_t all = s.streamable_weights_bytes();
  EXPECT_EQ(all, 4u * 16 * 16 * sizeof(float));
  EXPECT_EQ(s.weight_streaming_budget(), -1);
  EXPECT_EQ(out_values(s), want);
  EXPECT_EQ(s.stats().weight_bytes, all);
  // Half the weights resident, then none, then all again: same outputs, and
  // the device holds what the budget allows.
  for (int64_t budget : {static_cast<int64_t>(all / 2), int64_t{0}, int64_t{-1}}) {
    s.set_weight_streaming_budget(budget);
    EXPECT_EQ(out_values(s), want) << "budget " << budget;
    EXPECT_EQ(out_values(s), want) << "budget " << budget << ", second run";
    const size_t resident_bytes = s.stats().weight_bytes;
    if (budget >= 0) EXPECT_LE(resident_bytes, static_cast<size_t>(budget));
    else EXPECT_EQ(resident_bytes, all);
  }
}

TEST_F(RuntimeControls, WeightStreamingNeedsAnEngineBuiltForIt) {
  Session s(streaming_engine(false));
  EXPECT_KILN_ERROR(s.set_weight_streaming_budget(0), ErrorCode::InvalidArgument, "weight streaming");
}

}  // namespace
}  // namespace kiln::test
