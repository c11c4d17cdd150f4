// Runtime controls on the CPU and the fake GPU: pre-allocated outputs (the
// same buffers each call, no allocation on the hot path) and the output
// allocator for data-dependent output shapes.
#include <gtest/gtest.h>

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
  s.run({{"x", x_of({1, -1, 2, -2, 3, -3})}}, r);
  const int64_t before = fake_stats().allocations;
  const auto out = s.run({{"x", x_of({1, 0, 2, 0, 3, 0})}}, r);
  // NonZero's output is data-dependent: one run-time allocation; y none.
  EXPECT_LE(fake_stats().allocations - before, 1);
  EXPECT_FALSE(out[0].tensor.on_host());
  EXPECT_EQ(out[0].tensor.data<float>()[2], 2.f);  // the fake's device memory is host memory
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
