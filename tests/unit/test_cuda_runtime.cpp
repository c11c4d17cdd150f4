// The CUDA backend's runtime on a real GPU: device selection and errors, the
// memory pool (trim gives memory back), copies, sessions with device tensors
// in and out, weights shared between sessions, out-of-memory that leaves a
// session usable, and threads. Without a GPU only NoGpuIsAClearError runs
// (it checks the error); the rest skip, as tests/skips.txt records.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <thread>

#include "backends/backend.h"
#include "engine/engine_data.h"
#include "kiln/builder.h"
#include "kiln/session.h"
#include "onnx_test_util.h"
#ifdef KILN_WITH_CUDA
#include <cuda_runtime_api.h>

#include "backends/cuda/cuda_backend.h"
#include "backends/cuda/cuda_memory.h"
#endif

namespace kiln::test {
namespace {

#ifdef KILN_WITH_CUDA
bool have_gpu() { return backend::cuda::device_count() > 0; }
#define REQUIRE_GPU() \
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device on this machine (tests/skips.txt)"

TEST(CudaRuntime, NoGpuIsAClearError) {
  if (have_gpu()) {
    EXPECT_KILN_ERROR(backend::backend_for("cuda:" + std::to_string(backend::cuda::device_count())),
                      ErrorCode::InvalidArgument, "no such device");
    return;
  }
  try {
    backend::backend_for("cuda:0");
    ADD_FAILURE() << "made a CUDA backend without a GPU";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Cuda) << e.what();
    EXPECT_NE(std::string(e.what()).find("cuda:0"), std::string::npos) << e.what();
  }
}

size_t free_bytes() {
  size_t f = 0, t = 0;
  cudaMemGetInfo(&f, &t);
  return f;
}

TEST(CudaRuntime, PoolKeepsFreedMemoryUntilTrimmed) {
  REQUIRE_GPU();
  auto& be = dynamic_cast<backend::cuda::CudaBackend&>(backend::backend_for("cuda:0"));
  // One cycle first: the pool's first use costs what it costs once.
  be.allocator().deallocate(be.allocator().allocate(size_t{512} << 20));
  be.pool().trim();
  const size_t base = free_bytes();
  void* p = be.allocator().allocate(size_t{512} << 20);
  EXPECT_LE(free_bytes() + (size_t{500} << 20), base);
  be.allocator().deallocate(p);
  EXPECT_GE(be.pool().reserved_bytes(), size_t{512} << 20);  // cached for reuse
  be.pool().trim();
  EXPECT_EQ(be.pool().reserved_bytes(), 0u);
  EXPECT_GE(free_bytes() + (size_t{2} << 20), base);  // within one pool block
}

TEST(CudaRuntime, CopiesRoundTrip) {
  REQUIRE_GPU();
  backend::Backend& be = backend::backend_for("cuda:0");
  auto s = be.create_stream();
  std::vector<float> v(1000);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i) * 0.5f;
  const Tensor h = Tensor::from_vector(DataType::Float32, {1000}, v);
  Tensor a = be.empty(DataType::Float32, {1000}), b = be.empty(DataType::Float32, {1000});
  be.copy(a.raw(), a.device(), h.raw(), h.device(), h.nbytes(), *s);
  be.copy(b.raw(), b.device(), a.raw(), a.device(), a.nbytes(), *s);
  Tensor back = Tensor::empty(DataType::Float32, {1000});
  be.copy(back.raw(), back.device(), b.raw(), b.device(), b.nbytes(), *s);
  s->synchronize();
  for (size_t i = 0; i < v.size(); ++i) ASSERT_EQ(back.data<float>()[i], v[i]);
  EXPECT_GT(be.time_ms(*s, [&] { be.copy(b.raw(), b.device(), a.raw(), a.device(), a.nbytes(), *s); }), 0.0);
}

// x[1,3,8,8] -> Conv -> Relu -> GlobalAveragePool -> Flatten -> Gemm -> y[1,4]
std::string small_model() {
  ModelBuilder mb(13);
  mb.input("x", ::onnx::TensorProto::FLOAT, {int64_t{1}, int64_t{3}, int64_t{8}, int64_t{8}});
  mb.output("y", ::onnx::TensorProto::FLOAT, {int64_t{1}, int64_t{4}});
  std::vector<float> w(8 * 3 * 3 * 3), g(4 * 8);
  for (size_t i = 0; i < w.size(); ++i) w[i] = std::sin(static_cast<float>(i)) * 0.2f;
  for (size_t i = 0; i < g.size(); ++i) g[i] = std::cos(static_cast<float>(i)) * 0.3f;
  mb.init_floats("W", {8, 3, 3, 3}, w);
  mb.init_floats("G", {4, 8}, g);
  mb.init_floats("c", {4}, {0.1f, 0.2f, 0.3f, 0.4f});
  auto& conv = mb.node("Conv", {"x", "W"}, {"c1"}, "conv");
  add_ints_attr(conv, "pads", {1, 1, 1, 1});
  mb.node("Relu", {"c1"}, {"r"}, "relu");
  mb.node("GlobalAveragePool", {"r"}, {"p"}, "pool");
  mb.node("Flatten", {"p"}, {"f"}, "flatten");
  auto& gemm = mb.node("Gemm", {"f", "G", "c"}, {"y"}, "gemm");
  add_int_attr(gemm, "transB", 1);
  return mb.bytes();
}

Engine build(const std::string& bytes, const std::string& device, Precision precision = Precision::FP32) {
  TempDir dir;
  BuildConfig c;
  c.device = device;
  c.precision = precision;
  return build_engine(Model::load(dir.write("m.onnx", bytes)), c);
}

Tensor input_x() {
  Tensor t = Tensor::empty(DataType::Float32, {1, 3, 8, 8});
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = std::cos(static_cast<float>(i) * 0.37f);
  return t;
}

void expect_close(const Tensor& a, const Tensor& b, float tol = 1e-4f) {
  ASSERT_EQ(a.shape(), b.shape());
  for (int64_t i = 0; i < a.numel(); ++i) EXPECT_NEAR(a.data<float>()[i], b.data<float>()[i], tol) << i;
}

TEST(CudaRuntime, SessionMatchesTheCpuWithHostAndDeviceTensors) {
  REQUIRE_GPU();
  Session gpu(build(small_model(), "cuda")), cpu(build(small_model(), "cpu"));
  const Tensor x = input_x();
  const Tensor want = cpu.run({{"x", x}})[0].tensor;
  expect_close(gpu.run({{"x", x}})[0].tensor, want);
  // Device input, device output: no host round trip.
  backend::Backend& be = backend::backend_for("cuda:0");
  auto s = be.create_stream();
  Tensor xd = be.empty(DataType::Float32, x.shape());
  be.copy(xd.raw(), xd.device(), x.raw(), x.device(), x.nbytes(), *s);
  s->synchronize();
  RunOptions o;
  o.outputs_on_device = true;
  const Tensor yd = gpu.run({{"x", xd}}, o)[0].tensor;
  EXPECT_EQ(yd.device(), (Device{DeviceKind::CUDA, 0}));
  Tensor y = Tensor::empty(DataType::Float32, yd.shape());
  be.copy(y.raw(), y.device(), yd.raw(), yd.device(), yd.nbytes(), *s);
  s->synchronize();
  expect_close(y, want);
}

// x[1,8,16,16] -> Conv 3x3 -> Relu -> MaxPool 2x2 -> Conv 3x3 -> Add(pool)
// -> Relu -> x SE gate -> AveragePool 2x2 -> Conv 1x1 stride 2 -> GlobalAveragePool ->
// Flatten -> y[1,8]: a residual block, channels last between x and y on cuda.
std::string residual_model() {
  ModelBuilder mb(13);
  mb.input("x", ::onnx::TensorProto::FLOAT, {int64_t{1}, int64_t{8}, int64_t{16}, int64_t{16}});
  mb.output("y", ::onnx::TensorProto::FLOAT, {int64_t{1}, int64_t{8}});
  for (const char* name : {"W1", "W2", "W3"}) {
    const bool one = std::string(name) == "W3";
    std::vector<float> w(one ? 8 * 8 : 8 * 8 * 9);
    for (size_t i = 0; i < w.size(); ++i) w[i] = std::sin(static_cast<float>(i) * (name[1] - '0') * 0.37f) * 0.15f;
    mb.init_floats(name, one ? std::vector<int64_t>{8, 8, 1, 1} : std::vector<int64_t>{8, 8, 3, 3}, w);
  }
  mb.init_floats("B1", {8}, {0.1f, -0.1f, 0.2f, -0.2f, 0.05f, 0.f, 0.3f, -0.3f});
  auto& c1 = mb.node("Conv", {"x", "W1", "B1"}, {"c1"}, "conv1");
  add_ints_attr(c1, "pads", {1, 1, 1, 1});
  mb.node("Relu", {"c1"}, {"r1"}, "relu1");
  auto& mp = mb.node("MaxPool", {"r1"}, {"m"}, "maxpool");
  add_ints_attr(mp, "kernel_shape", {2, 2});
  add_ints_attr(mp, "strides", {2, 2});
  auto& c2 = mb.node("Conv", {"m", "W2"}, {"c2"}, "conv2");
  add_ints_attr(c2, "pads", {1, 1, 1, 1});
  mb.node("Add", {"c2", "m"}, {"s"}, "add");
  mb.node("Relu", {"s"}, {"r2"}, "relu2");
  // Squeeze-excitation: a [1,8,1,1] gate broadcast over the NHWC block.
  mb.node("GlobalAveragePool", {"r2"}, {"gp"}, "se_pool");
  mb.node("Sigmoid", {"gp"}, {"gs"}, "se_gate");
  mb.node("Mul", {"r2", "gs"}, {"se"}, "se_mul");
  auto& ap = mb.node("AveragePool", {"se"}, {"ap"}, "avgpool");
  add_ints_attr(ap, "kernel_shape", {2, 2});
  add_ints_attr(ap, "strides", {1, 1});
  auto& c3 = mb.node("Conv", {"ap", "W3"}, {"c3"}, "conv3");
  add_ints_attr(c3, "strides", {2, 2});
  mb.node("GlobalAveragePool", {"c3"}, {"g"}, "gap");
  mb.node("Flatten", {"g"}, {"y"}, "flatten");
  return mb.bytes();
}

// The residual block goes channels last on cuda (passes/assign_cuda_layouts)
// and still matches the CPU; with KILN_CUDA_NHWC=0 nothing is marked.
TEST(CudaRuntime, ChannelsLastMatchesTheCpu) {
  REQUIRE_GPU();
  const Engine e = build(residual_model(), "cuda");
  int nhwc = 0;
  for (const ir::Node& n : e.data()->graph.nodes) nhwc += n.attr_i("kiln_out_layout", 0) == 1;
  EXPECT_GE(nhwc, 5) << "conv1, relu1, maxpool, conv2/add, relu2, avgpool should be NHWC";
  Tensor x = Tensor::empty(DataType::Float32, {1, 8, 16, 16});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = std::cos(static_cast<float>(i) * 0.13f);
  Session gpu(e), cpu(build(residual_model(), "cpu"));
  expect_close(gpu.run({{"x", x}})[0].tensor, cpu.run({{"x", x}})[0].tensor, 1e-4f);
  std::printf("channels last: %d node(s) write NHWC\n", nhwc);
}

// x[2,16,32] -> MatMul(Wq), MatMul(Wk) -> q @ k^T -> Softmax -> @ x ->
// LayerNormalization -> y: the attention block of an exported transformer.
std::string attention_model() {
  ModelBuilder mb(17);
  mb.input("x", ::onnx::TensorProto::FLOAT, {int64_t{2}, int64_t{16}, int64_t{32}});
  mb.output("y", ::onnx::TensorProto::FLOAT, {int64_t{2}, int64_t{16}, int64_t{32}});
  std::vector<float> wq(32 * 32), wk(32 * 32), gamma(32, 1.f), beta(32, 0.f);
  for (size_t i = 0; i < wq.size(); ++i) wq[i] = std::sin(static_cast<float>(i) * 0.3f) * 0.2f;
  for (size_t i = 0; i < wk.size(); ++i) wk[i] = std::cos(static_cast<float>(i) * 0.7f) * 0.2f;
  mb.init_floats("Wq", {32, 32}, wq);
  mb.init_floats("Wk", {32, 32}, wk);
  mb.init_floats("gamma", {32}, gamma);
  mb.init_floats("beta", {32}, beta);
  mb.node("MatMul", {"x", "Wq"}, {"q"}, "q");
  mb.node("MatMul", {"x", "Wk"}, {"k"}, "k");
  auto& t = mb.node("Transpose", {"k"}, {"kt"}, "kt");
  add_ints_attr(t, "perm", {0, 2, 1});
  mb.node("MatMul", {"q", "kt"}, {"s"}, "scores");
  auto& sm = mb.node("Softmax", {"s"}, {"p"}, "softmax");
  add_int_attr(sm, "axis", -1);
  mb.node("MatMul", {"p", "x"}, {"a"}, "attend");
  auto& ln = mb.node("LayerNormalization", {"a", "gamma", "beta"}, {"y"}, "ln");
  add_int_attr(ln, "axis", -1);
  return mb.bytes();
}

// max |a - b| over float32 tensors of one shape (max |a| without b).
float max_abs_diff(const Tensor& a, const Tensor* b = nullptr) {
  float worst = 0.f;
  for (int64_t i = 0; i < a.numel(); ++i)
    worst = std::max(worst, std::fabs(a.data<float>()[i] - (b ? b->data<float>()[i] : 0.f)));
  return worst;
}

// fp16 and bf16 engines keep the model's fp32 inputs and outputs and agree
// with the fp32 CPU engine to 16-bit accuracy (relative to the output range).
TEST(CudaRuntime, ReducedPrecisionMatchesFp32) {
  REQUIRE_GPU();
  struct Case { std::string name, bytes; Shape shape; };
  for (const Case& m : {Case{"conv", small_model(), {1, 3, 8, 8}}, Case{"attention", attention_model(), {2, 16, 32}},
                        Case{"residual", residual_model(), {1, 8, 16, 16}}}) {
    Tensor x = Tensor::empty(DataType::Float32, m.shape);
    for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = std::cos(static_cast<float>(i) * 0.37f);
    Session cpu(build(m.bytes, "cpu"));
    const Tensor want = cpu.run({{"x", x}})[0].tensor;
    const float range = max_abs_diff(want);
    for (Precision p : {Precision::FP16, Precision::BF16}) {
      const Engine e = build(m.bytes, "cuda", p);
      ASSERT_EQ(e.outputs().at(0).dtype, DataType::Float32);
      Session s(e);
      const Tensor got = s.run({{"x", x}})[0].tensor;
      ASSERT_EQ(got.dtype(), DataType::Float32);
      const float tol = (p == Precision::FP16 ? 4e-3f : 3e-2f) * std::max(range, 1.f);
      const float worst = max_abs_diff(got, &want);
      EXPECT_LE(worst, tol) << m.name << " " << precision_name(p) << ": max |diff| " << worst << ", range " << range;
      std::printf("reduced precision: %s %s max |diff| %.3g (range %.3g)\n", m.name.c_str(),
                  std::string(precision_name(p)).c_str(), worst, range);
    }
  }
}

// x[2,3,20,20] -> Conv 7x7 s2 p3 (3 -> 4, bias) -> Relu -> Conv 3x3 s2 p1
// (4 -> 16) -> Relu -> MaxPool 3x3 s2 p1 -> Conv 3x3 p1 -> Add(pool) -> Relu
// -> GlobalAveragePool -> y[2,16,1,1]: an image network's stem. Both
// few-channel convolutions have the candidates of their own (direct_mma, the
// cuDNN rewrites), the first reading plain X and K,C,R,S weights and writing
// 4 channels (fewer than a tensor-core tile), the second reading
// channels-last X and K,R,S,C weights; the pool and the global pool are
// channels last over 16 channels (16-byte vectors).
std::string stem_model() {
  ModelBuilder mb(13);
  mb.input("x", ::onnx::TensorProto::FLOAT, {int64_t{2}, int64_t{3}, int64_t{20}, int64_t{20}});
  mb.output("y", ::onnx::TensorProto::FLOAT, {int64_t{2}, int64_t{16}, int64_t{1}, int64_t{1}});
  std::vector<float> w1(4 * 3 * 7 * 7), b1(4), w2(16 * 4 * 3 * 3), w3(16 * 16 * 3 * 3);
  for (size_t i = 0; i < w1.size(); ++i) w1[i] = std::sin(static_cast<float>(i) * 0.37f) * 0.1f;
  for (size_t i = 0; i < b1.size(); ++i) b1[i] = 0.05f * static_cast<float>(i % 5) - 0.1f;
  for (size_t i = 0; i < w2.size(); ++i) w2[i] = std::sin(static_cast<float>(i) * 0.71f) * 0.2f;
  for (size_t i = 0; i < w3.size(); ++i) w3[i] = std::cos(static_cast<float>(i) * 0.53f) * 0.08f;
  mb.init_floats("W1", {4, 3, 7, 7}, w1);
  mb.init_floats("B1", {4}, b1);
  mb.init_floats("W2", {16, 4, 3, 3}, w2);
  mb.init_floats("W3", {16, 16, 3, 3}, w3);
  auto& c1 = mb.node("Conv", {"x", "W1", "B1"}, {"c1"}, "stem");
  add_ints_attr(c1, "strides", {2, 2});
  add_ints_attr(c1, "pads", {3, 3, 3, 3});
  mb.node("Relu", {"c1"}, {"r1"}, "relu1");
  auto& c2 = mb.node("Conv", {"r1", "W2"}, {"c2"}, "down");
  add_ints_attr(c2, "strides", {2, 2});
  add_ints_attr(c2, "pads", {1, 1, 1, 1});
  mb.node("Relu", {"c2"}, {"r2"}, "relu2");
  auto& mp = mb.node("MaxPool", {"r2"}, {"m"}, "maxpool");
  add_ints_attr(mp, "kernel_shape", {3, 3});
  add_ints_attr(mp, "strides", {2, 2});
  add_ints_attr(mp, "pads", {1, 1, 1, 1});
  auto& c3 = mb.node("Conv", {"m", "W3"}, {"c3"}, "conv3");
  add_ints_attr(c3, "pads", {1, 1, 1, 1});
  mb.node("Add", {"c3", "m"}, {"s"}, "add");
  mb.node("Relu", {"s"}, {"r3"}, "relu3");
  mb.node("GlobalAveragePool", {"r3"}, {"y"}, "gap");
  return mb.bytes();
}

// Each candidate for the few-channel convolutions, forced by its switch
// (KILN_CONV_DIRECT=1: direct_mma, KILN_CUDNN_SPACE_TO_DEPTH=1,
// KILN_CUDNN_PAD_CHANNELS=1), and none (all =0), agrees with the fp32 CPU
// engine to fp16/bf16 accuracy; with direct_mma the second convolution and
// the MaxPool run as one FusedConvPool (channels-last X and Y).
TEST(CudaRuntime, FewChannelStemMatchesTheCpu) {
  REQUIRE_GPU();
  Tensor x = Tensor::empty(DataType::Float32, {2, 3, 20, 20});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = std::cos(static_cast<float>(i) * 0.11f);
  Session cpu(build(stem_model(), "cpu"));
  const Tensor want = cpu.run({{"x", x}})[0].tensor;
  const float range = max_abs_diff(want);
  const char* const switches[] = {"KILN_CONV_DIRECT", "KILN_CUDNN_SPACE_TO_DEPTH", "KILN_CUDNN_PAD_CHANNELS"};
  const char* const kernels_of[] = {"direct_mma", "cudnn_s2d", "cudnn_c8"};  // name prefixes
  for (int forced = 0; forced <= 3; ++forced)  // 3: none
    for (Precision p : {Precision::FP16, Precision::BF16}) {
      for (int i = 0; i < 3; ++i) setenv(switches[i], i == forced ? "1" : "0", 1);
      const Engine e = build(stem_model(), "cuda", p);
      std::string kernels;
      int pools = 0;
      for (const ir::Node& n : e.data()->graph.nodes) {
        pools += n.op_type == "MaxPool";
        // direct_mma pools as it computes: "down" and the MaxPool are one
        // FusedConvPool then (passes/fuse_conv_pool.cpp).
        if (n.name == "down") {
          EXPECT_EQ(n.op_type == "FusedConvPool", forced == 0) << n.op_type;
        }
        if (n.op_type == "FusedConvPool") {  // direct_mma (stem_mma takes 7x7/2 over 3 channels alone)
          const ir::Attribute* k = n.attr("kiln.kernel");
          EXPECT_TRUE(k && k->s == "direct_mma") << (k ? k->s : "no kiln.kernel");
          kernels += n.name + ":direct_mma(FusedConvPool) ";
          continue;
        }
        if ((n.name != "stem" && n.name != "down") || !n.attr("kiln.kernel")) continue;
        const std::string k = n.attr("kiln.kernel")->s;
        kernels += n.name + ":" + k + " ";
        for (int i = 0; i < 3; ++i)
          EXPECT_EQ(k.rfind(kernels_of[i], 0) == 0, i == forced) << n.name << " ran " << k;
      }
      EXPECT_NE(kernels.find("stem:"), std::string::npos) << kernels;
      EXPECT_NE(kernels.find("down:"), std::string::npos) << kernels;
      EXPECT_EQ(pools, forced == 0 ? 0 : 1) << kernels;
      const Tensor got = Session(e).run({{"x", x}})[0].tensor;
      const float tol = (p == Precision::FP16 ? 4e-3f : 3e-2f) * std::max(range, 1.f);
      const float worst = max_abs_diff(got, &want);
      EXPECT_LE(worst, tol) << kernels << precision_name(p) << ": max |diff| " << worst;
      std::printf("stem: %s%s max |diff| %.3g (range %.3g)\n", kernels.c_str(),
                  std::string(precision_name(p)).c_str(), worst, range);
    }
  for (const char* s : switches) unsetenv(s);
}

// A ResNet block's tail with a stride-2 projection shortcut, between
// convolutions (so that every activation is channels last):
//   x = Relu(Conv3x3(in)); a = Relu(Conv1x1/2(x)); d = Conv1x1/2(x)
//   y = Relu(Conv1x1(a) + d); out = GlobalAveragePool(Conv3x3(y))
std::string shortcut_model() {
  ModelBuilder mb(13);
  mb.input("in", ::onnx::TensorProto::FLOAT, {int64_t{2}, int64_t{8}, int64_t{14}, int64_t{18}});
  mb.output("out", ::onnx::TensorProto::FLOAT, {int64_t{2}, int64_t{16}, int64_t{1}, int64_t{1}});
  const auto init = [&](const char* name, std::vector<int64_t> shape, float f, float scale) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::vector<float> v(static_cast<size_t>(n));
    for (size_t i = 0; i < v.size(); ++i) v[i] = std::sin(static_cast<float>(i) * f) * scale;
    mb.init_floats(name, shape, v);
  };
  init("W0", {32, 8, 3, 3}, 0.37f, 0.2f);
  init("W1", {16, 32, 1, 1}, 0.71f, 0.25f);
  init("W3", {64, 16, 1, 1}, 0.53f, 0.2f);
  init("B3", {64}, 0.9f, 0.1f);
  init("Wd", {64, 32, 1, 1}, 0.29f, 0.2f);
  init("Bd", {64}, 1.3f, 0.1f);
  init("W4", {16, 64, 3, 3}, 0.61f, 0.05f);
  auto& c0 = mb.node("Conv", {"in", "W0"}, {"c0"}, "stem");
  add_ints_attr(c0, "pads", {1, 1, 1, 1});
  mb.node("Relu", {"c0"}, {"x"}, "relu0");
  auto& c1 = mb.node("Conv", {"x", "W1"}, {"c1"}, "conv1");
  add_ints_attr(c1, "strides", {2, 2});
  mb.node("Relu", {"c1"}, {"a"}, "relu1");
  mb.node("Conv", {"a", "W3", "B3"}, {"c3"}, "conv3");
  auto& cd = mb.node("Conv", {"x", "Wd", "Bd"}, {"d"}, "shortcut");
  add_ints_attr(cd, "strides", {2, 2});
  mb.node("Add", {"c3", "d"}, {"s"}, "add");
  mb.node("Relu", {"s"}, {"y"}, "relu3");
  auto& c4 = mb.node("Conv", {"y", "W4"}, {"c4"}, "conv4");
  add_ints_attr(c4, "pads", {1, 1, 1, 1});
  mb.node("GlobalAveragePool", {"c4"}, {"out"}, "gap");
  return mb.bytes();
}

// The block's last convolution and its shortcut run as one FusedConvPair
// (passes/fuse_conv_pair.cpp), channels last, on a timed kernel (default),
// on mma_pair (KILN_CONV_PAIR=1), or stay apart (=0), and agree with the
// fp32 CPU engine to fp16/bf16 accuracy.
TEST(CudaRuntime, ProjectionShortcutMatchesTheCpu) {
  REQUIRE_GPU();
  Tensor x = Tensor::empty(DataType::Float32, {2, 8, 14, 18});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = std::cos(static_cast<float>(i) * 0.13f);
  Session cpu(build(shortcut_model(), "cpu"));
  const Tensor want = cpu.run({{"in", x}})[0].tensor;
  const float range = max_abs_diff(want);
  for (const char* sw : {"", "1", "0"})
    for (Precision p : {Precision::FP16, Precision::BF16}) {
      if (*sw) {
        setenv("KILN_CONV_PAIR", sw, 1);
      } else {
        unsetenv("KILN_CONV_PAIR");
      }
      const Engine e = build(shortcut_model(), "cuda", p);
      int pairs = 0;
      std::string kernel = "-";
      for (const ir::Node& n : e.data()->graph.nodes) {
        if (n.op_type != "FusedConvPair") continue;
        ++pairs;
        const std::vector<int64_t> in = n.attr_ints("kiln_in_layouts");
        EXPECT_TRUE(in.size() >= 4 && in[0] == 1 && in[3] == 1 && n.attr_i("kiln_out_layout", 0) == 1)
            << "the pair is not channels last";
        if (const ir::Attribute* k = n.attr("kiln.kernel")) kernel = k->s;
        // KILN_CONV_PAIR=1 leaves mma_pair alone: recorded untimed.
        if (std::string(sw) == "1") {
          EXPECT_EQ(kernel, "mma_pair");
        }
      }
      EXPECT_EQ(pairs, std::string(sw) == "0" ? 0 : 1) << "KILN_CONV_PAIR=" << sw;
      const Tensor got = Session(e).run({{"in", x}})[0].tensor;
      const float tol = (p == Precision::FP16 ? 4e-3f : 3e-2f) * std::max(range, 1.f);
      const float worst = max_abs_diff(got, &want);
      EXPECT_LE(worst, tol) << "KILN_CONV_PAIR=" << sw << " " << precision_name(p) << ": max |diff| " << worst;
      std::printf("shortcut: KILN_CONV_PAIR=%s %s pairs %d kernel %s max |diff| %.3g (range %.3g)\n", sw,
                  std::string(precision_name(p)).c_str(), pairs, kernel.c_str(), worst, range);
    }
  unsetenv("KILN_CONV_PAIR");
}

// x[2,3,64,64] -> Conv 7x7 s2 p3 (3 -> 64, bias) -> Relu -> MaxPool 3x3 s2
// p1 -> Conv 1x1 (64 -> 16) -> y[2,16,16,16]: ResNet's stem over the graph's
// image, its pooled output channels last (read by a convolution).
std::string resnet_stem_model() {
  ModelBuilder mb(13);
  mb.input("x", ::onnx::TensorProto::FLOAT, {int64_t{2}, int64_t{3}, int64_t{64}, int64_t{64}});
  mb.output("y", ::onnx::TensorProto::FLOAT, {int64_t{2}, int64_t{16}, int64_t{16}, int64_t{16}});
  std::vector<float> w1(64 * 3 * 7 * 7), b1(64), w2(16 * 64);
  for (size_t i = 0; i < w1.size(); ++i) w1[i] = std::sin(static_cast<float>(i) * 0.37f) * 0.1f;
  for (size_t i = 0; i < b1.size(); ++i) b1[i] = 0.05f * static_cast<float>(i % 5) - 0.1f;
  for (size_t i = 0; i < w2.size(); ++i) w2[i] = std::cos(static_cast<float>(i) * 0.53f) * 0.1f;
  mb.init_floats("W1", {64, 3, 7, 7}, w1);
  mb.init_floats("B1", {64}, b1);
  mb.init_floats("W2", {16, 64, 1, 1}, w2);
  auto& c1 = mb.node("Conv", {"x", "W1", "B1"}, {"c1"}, "stem");
  add_ints_attr(c1, "strides", {2, 2});
  add_ints_attr(c1, "pads", {3, 3, 3, 3});
  mb.node("Relu", {"c1"}, {"r1"}, "relu1");
  auto& mp = mb.node("MaxPool", {"r1"}, {"m"}, "maxpool");
  add_ints_attr(mp, "kernel_shape", {3, 3});
  add_ints_attr(mp, "strides", {2, 2});
  add_ints_attr(mp, "pads", {1, 1, 1, 1});
  mb.node("Conv", {"m", "W2"}, {"y"}, "conv2");
  return mb.bytes();
}

// ResNet's stem runs as one FusedConvPool, X plain and Y channels last, on
// the faster of stem_mma and direct_mma (default), stem_mma alone
// (KILN_CONV_STEM=1) or direct_mma alone (=0), and agrees with the fp32 CPU
// engine to fp16/bf16 accuracy.
TEST(CudaRuntime, ResNetStemMatchesTheCpu) {
  REQUIRE_GPU();
  Tensor x = Tensor::empty(DataType::Float32, {2, 3, 64, 64});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = std::cos(static_cast<float>(i) * 0.11f);
  Session cpu(build(resnet_stem_model(), "cpu"));
  const Tensor want = cpu.run({{"x", x}})[0].tensor;
  const float range = max_abs_diff(want);
  for (const char* sw : {"", "1", "0"})
    for (Precision p : {Precision::FP16, Precision::BF16}) {
      if (*sw) {
        setenv("KILN_CONV_STEM", sw, 1);
      } else {
        unsetenv("KILN_CONV_STEM");
      }
      const Engine e = build(resnet_stem_model(), "cuda", p);
      int pools = 0;
      std::string kernel = "-";
      for (const ir::Node& n : e.data()->graph.nodes) {
        if (n.op_type != "FusedConvPool") continue;
        ++pools;
        const std::vector<int64_t> in = n.attr_ints("kiln_in_layouts");
        EXPECT_TRUE((in.empty() || in[0] == 0) && n.attr_i("kiln_out_layout", 0) == 1)
            << "the stem is not plain X, channels-last Y";
        if (const ir::Attribute* k = n.attr("kiln.kernel")) kernel = k->s;
      }
      EXPECT_EQ(pools, 1) << "KILN_CONV_STEM=" << sw;
      // =1 and =0 leave one candidate, which the builder records untimed.
      if (std::string(sw) == "0") {
        EXPECT_EQ(kernel, "direct_mma");
      } else if (std::string(sw) == "1") {
        EXPECT_EQ(kernel, "stem_mma");
      } else {
        EXPECT_TRUE(kernel == "stem_mma" || kernel == "direct_mma") << kernel;
      }
      const Tensor got = Session(e).run({{"x", x}})[0].tensor;
      const float tol = (p == Precision::FP16 ? 4e-3f : 3e-2f) * std::max(range, 1.f);
      const float worst = max_abs_diff(got, &want);
      EXPECT_LE(worst, tol) << "KILN_CONV_STEM=" << sw << " " << precision_name(p) << ": max |diff| " << worst;
      std::printf("resnet stem: KILN_CONV_STEM=%s %s kernel %s max |diff| %.3g (range %.3g)\n", sw,
                  std::string(precision_name(p)).c_str(), kernel.c_str(), worst, range);
    }
  unsetenv("KILN_CONV_STEM");
}

// A switch that removes kernel candidates is part of the device's
// fingerprint: an engine built without it is refused, with both
// fingerprints named, by a process that sets it (and a cache keyed by the
// fingerprint rebuilds), rather than failing on a kernel the switch refuses.
TEST(CudaRuntime, CandidateSwitchesAreInTheFingerprint) {
  REQUIRE_GPU();
  const Engine e = build(small_model(), "cuda");
  setenv("KILN_CONV_POOL", "0", 1);
  try {
    Session s(e);
    ADD_FAILURE() << "an engine built without KILN_CONV_POOL=0 ran under it";
  } catch (const Error& err) {
    EXPECT_EQ(err.code(), ErrorCode::Incompatible) << err.what();
    EXPECT_NE(std::string(err.what()).find("KILN_CONV_POOL=0"), std::string::npos) << err.what();
  }
  unsetenv("KILN_CONV_POOL");
  Session s(e);
  EXPECT_EQ(s.run({{"x", input_x()}}).size(), 1u);
}

// The builder's timing counts the device's work, not the host's time
// submitting it (stream_hold.h): 5 ms of host time between two tiny copies
// (more than the hold's 2 ms timeout, so a hold that never saw its release
// would still time 3 ms) is not measured; work that throws mid-submission
// leaves the stream's later holds working.
TEST(CudaRuntime, TimingCountsTheDeviceNotTheHost) {
  REQUIRE_GPU();
  backend::Backend& be = backend::backend_for("cuda:0");
  auto s = be.create_stream();
  Tensor a = be.empty(DataType::Float32, {256}), b = be.empty(DataType::Float32, {256});
  const auto copies = [&](bool pause) {
    be.copy(b.raw(), b.device(), a.raw(), a.device(), a.nbytes(), *s);
    if (pause) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    be.copy(a.raw(), a.device(), b.raw(), b.device(), a.nbytes(), *s);
  };
  be.time_ms(*s, [&] { copies(false); });  // warm-up: the hold's flag, the copies' first launch
  double quiet = 1e9, paused = 1e9;
  for (int i = 0; i < 3; ++i) {
    quiet = std::min(quiet, be.time_ms(*s, [&] { copies(false); }));
    paused = std::min(paused, be.time_ms(*s, [&] { copies(true); }));
  }
  std::printf("two copies timed: %.4f ms, with 5 ms of host time between them: %.4f ms\n", quiet, paused);
  EXPECT_LT(paused, 1.0) << "the host's 5 ms pause was timed";
  EXPECT_LT(quiet, 1.0);
  EXPECT_THROW(be.time_ms(*s, [&] {
    copies(false);
    throw Error(ErrorCode::Internal, "refused mid-submission");
  }), Error);
  s->synchronize();  // the hold was released: this returns
  EXPECT_LT(be.time_ms(*s, [&] { copies(true); }), 1.0);
}

TEST(CudaRuntime, WeightsAreSharedBetweenSessions) {
  REQUIRE_GPU();
  const Engine e = build(small_model(), "cuda");
  Session a(e), b(e);
  a.run({{"x", input_x()}});
  b.run({{"x", input_x()}});
  EXPECT_GT(a.stats().weight_bytes, 0u);
  EXPECT_EQ(a.stats().weight_bytes, b.stats().weight_bytes);
}

// s (int64[2]) -> ConstantOfShape -> Relu -> y: an output whose size the
// caller chooses at run time.
std::string sized_model() {
  ModelBuilder mb(13);
  mb.input("s", ::onnx::TensorProto::INT64, {int64_t{2}});
  mb.output("y", ::onnx::TensorProto::FLOAT, {std::string("a"), std::string("b")});
  auto& c = mb.node("ConstantOfShape", {"s"}, {"z"}, "fill");
  auto* a = c.add_attribute();
  a->set_name("value");
  a->set_type(::onnx::AttributeProto::TENSOR);
  a->mutable_t()->set_data_type(::onnx::TensorProto::FLOAT);
  a->mutable_t()->add_dims(1);
  a->mutable_t()->add_float_data(2.f);
  mb.node("Relu", {"z"}, {"y"}, "relu");
  return mb.bytes();
}

TEST(CudaRuntime, OutOfDeviceMemoryLeavesTheSessionUsable) {
  REQUIRE_GPU();
  Session s(build(sized_model(), "cuda"));
  size_t f = 0, t = 0;
  cudaMemGetInfo(&f, &t);
  const int64_t rows = static_cast<int64_t>(t / (size_t{1} << 22)) * 4;  // 4x the card
  try {
    s.run({{"s", Tensor::from_vector<int64_t>(DataType::Int64, {2}, {rows, int64_t{1} << 20})}});
    ADD_FAILURE() << "allocated " << rows << " MiB x 4 on the device";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::OutOfMemory) << e.what();
    EXPECT_NE(std::string(e.what()).find("cuda:0"), std::string::npos) << e.what();
  }
  const Tensor y = s.run({{"s", Tensor::from_vector<int64_t>(DataType::Int64, {2}, {2, 3})}})[0].tensor;
  ASSERT_EQ(y.shape(), (Shape{2, 3}));
  for (int64_t i = 0; i < 6; ++i) EXPECT_EQ(y.data<float>()[i], 2.f);
}

TEST(CudaRuntime, SessionsOnThreadsAgree) {
  REQUIRE_GPU();
  const Engine e = build(small_model(), "cuda");
  Session ref(e);
  const Tensor want = ref.run({{"x", input_x()}})[0].tensor;
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      Session s(e);
      for (int i = 0; i < 50; ++i) {
        const Tensor y = s.run({{"x", input_x()}})[0].tensor;
        for (int64_t k = 0; k < y.numel(); ++k) bad += y.data<float>()[k] != want.data<float>()[k];
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(bad.load(), 0);
}

TEST(CudaRuntime, ProfileUsesDeviceEvents) {
  REQUIRE_GPU();
  SessionOptions o;
  o.profile = true;
  Session s(build(small_model(), "cuda"), o);
  for (int i = 0; i < 3; ++i) s.run({{"x", input_x()}});
  const auto prof = s.profile();
  ASSERT_FALSE(prof.empty());
  double total = 0;
  for (const auto& n : prof) {
    EXPECT_EQ(n.runs, 3) << n.node;
    total += n.total_ms;
    if (n.op_type == "Conv" || n.op_type == "com.kiln.FusedConv") {
      EXPECT_EQ(n.device, "cuda:0");
    }
  }
  EXPECT_GT(total, 0.0);
}

TEST(CudaRuntime, MemoryComesBackAfterSessionsEnd) {
  REQUIRE_GPU();
  auto& be = dynamic_cast<backend::cuda::CudaBackend&>(backend::backend_for("cuda:0"));
  {
    Session warm(build(small_model(), "cuda"));  // loads the kernels' modules once
    warm.run({{"x", input_x()}});
  }
  be.pool().trim();
  const size_t base = free_bytes();
  for (int i = 0; i < 20; ++i) {
    Session s(build(small_model(), "cuda"));
    s.run({{"x", input_x()}});
  }
  be.pool().trim();
  EXPECT_GE(free_bytes() + (size_t{4} << 20), base);
}
#else
TEST(CudaRuntime, NotBuilt) { GTEST_SKIP() << "this kiln is built without CUDA (tests/skips.txt)"; }
#endif

}  // namespace
}  // namespace kiln::test
