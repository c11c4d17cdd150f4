// Two GPUs of one host (the multi-gpu issue): one Session used from threads
// bound to cuda:0 and cuda:1 with multi-device safe mode on and off, graph
// caches keyed by device, engines built for cuda:1 and an engine built on one
// GPU served from the cache on the other, and the figures (two GPUs against
// one, the cost of safe mode). With fewer than two GPUs every test skips
// (tests/skips.txt). KILN_MULTI_GPU_SOAK_S sets the soak (60 s on the
// two-GPU machine).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <thread>

#include "kiln/builder.h"
#include "kiln/compile.h"
#include "kiln/graph_cache.h"
#include "kiln/session.h"
#include "onnx_test_util.h"
#ifdef KILN_WITH_CUDA
#include <cuda_runtime_api.h>

#include "backends/cuda/cuda_backend.h"
#endif

namespace kiln::test {
namespace {

#ifdef KILN_WITH_CUDA
#define REQUIRE_TWO_GPUS() \
  if (backend::cuda::device_count() < 2) GTEST_SKIP() << "fewer than two CUDA devices (tests/skips.txt)"

using Clock = std::chrono::steady_clock;

// x[N,3,32,32] -> Conv -> Relu -> Conv -> GlobalAveragePool -> Flatten -> y[N,16]
std::string model_bytes() {
  ModelBuilder mb(13);
  mb.input("x", ::onnx::TensorProto::FLOAT, {std::string("N"), int64_t{3}, int64_t{32}, int64_t{32}});
  mb.output("y", ::onnx::TensorProto::FLOAT, {std::string("N"), int64_t{16}});
  std::vector<float> w1(16 * 3 * 3 * 3), w2(16 * 16 * 3 * 3);
  for (size_t i = 0; i < w1.size(); ++i) w1[i] = std::sin(static_cast<float>(i)) * 0.3f;
  for (size_t i = 0; i < w2.size(); ++i) w2[i] = std::cos(static_cast<float>(i)) * 0.1f;
  mb.init_floats("W1", {16, 3, 3, 3}, w1);
  mb.init_floats("W2", {16, 16, 3, 3}, w2);
  auto& c1 = mb.node("Conv", {"x", "W1"}, {"a"}, "conv1");
  add_ints_attr(c1, "pads", {1, 1, 1, 1});
  mb.node("Relu", {"a"}, {"r"}, "relu");
  auto& c2 = mb.node("Conv", {"r", "W2"}, {"b"}, "conv2");
  add_ints_attr(c2, "pads", {1, 1, 1, 1});
  mb.node("GlobalAveragePool", {"b"}, {"p"}, "pool");
  mb.node("Flatten", {"p"}, {"y"}, "flatten");
  return mb.bytes();
}

Engine build(const std::string& device) {
  TempDir dir;
  BuildConfig c;
  c.device = device;
  return build_engine(Model::load(dir.write("m.onnx", model_bytes())), c);
}

Tensor input(int64_t n) {
  Tensor t = Tensor::empty(DataType::Float32, {n, 3, 32, 32});
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = std::sin(static_cast<float>(i) * 0.013f);
  return t;
}

std::vector<float> values(const Tensor& t) { return std::vector<float>(t.data<float>(), t.data<float>() + t.numel()); }

int soak_seconds() { return std::getenv("KILN_MULTI_GPU_SOAK_S") ? std::atoi(std::getenv("KILN_MULTI_GPU_SOAK_S")) : 5; }

// Threads bound to cuda:0 and cuda:1 use one Session on cuda:0.
TEST(MultiGpu, OneSessionFromThreadsOnBothDevicesInSafeMode) {
  REQUIRE_TWO_GPUS();
  const Engine e = build("cuda:0");
  Session s(e);
  const std::vector<float> want = values(s.run({{"x", input(2)}})[0].tensor);
  set_multi_device_safe_mode(true);
  std::atomic<int> errors{0}, mismatches{0}, runs{0};
  std::vector<std::thread> threads;
  const auto end = Clock::now() + std::chrono::seconds(soak_seconds());
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      cudaSetDevice(t % 2);  // this thread's current device
      while (Clock::now() < end) {
        try {
          if (values(s.run({{"x", input(2)}})[0].tensor) != want) ++mismatches;
        } catch (const std::exception&) {
          ++errors;
        }
        ++runs;
        int current = -1;
        cudaGetDevice(&current);
        if (current != t % 2) ++errors;  // the switch was undone
      }
    });
  for (auto& t : threads) t.join();
  set_multi_device_safe_mode(false);
  std::printf("safe mode: %d runs from threads on cuda:0 and cuda:1 over %d s\n", runs.load(), soak_seconds());
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(mismatches.load(), 0);
}

// Without safe mode a run from a thread on the other device is refused with
// a clear error (nothing runs on the wrong device); on its own device it works.
TEST(MultiGpu, WithoutSafeModeTheOtherDevicesThreadIsRefused) {
  REQUIRE_TWO_GPUS();
  set_multi_device_safe_mode(false);
  Session s(build("cuda:0"));
  std::string error;
  std::thread t([&] {
    cudaSetDevice(1);
    try {
      s.run({{"x", input(1)}});
    } catch (const Error& e) {
      error = e.what();
    }
  });
  t.join();
  EXPECT_NE(error.find("current CUDA device is cuda:1"), std::string::npos) << error;
  EXPECT_NO_THROW(s.run({{"x", input(1)}}));
}

TEST(MultiGpu, GraphCachesAreKeyedByDevice) {
  REQUIRE_TWO_GPUS();
  const Engine e = build("cuda");
  auto cache = std::make_shared<GraphCache>(8);
  SessionOptions o0, o1;
  o0.graph_cache = o1.graph_cache = cache;
  o0.device = "cuda:0";
  o1.device = "cuda:1";
  set_multi_device_safe_mode(true);
  Session s0(e, o0), s1(e, o1);
  const std::vector<float> want = values(Session(e).run({{"x", input(3)}})[0].tensor);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(values(s0.run({{"x", input(3)}})[0].tensor), want);
    EXPECT_EQ(values(s1.run({{"x", input(3)}})[0].tensor), want);
  }
  const GraphKey k0{{{3, 3, 32, 32}}, {DataType::Float32}, Device{DeviceKind::CUDA, 0}};
  const GraphKey k1{{{3, 3, 32, 32}}, {DataType::Float32}, Device{DeviceKind::CUDA, 1}};
  EXPECT_TRUE(cache->contains(k0));
  EXPECT_TRUE(cache->contains(k1));
  cache->purge_device(Device{DeviceKind::CUDA, 0});
  EXPECT_FALSE(cache->contains(k0));
  EXPECT_TRUE(cache->contains(k1));
  EXPECT_EQ(values(s1.run({{"x", input(3)}})[0].tensor), want);
  set_multi_device_safe_mode(false);
}

TEST(MultiGpu, EnginesMoveBetweenGpusOfOneModel) {
  REQUIRE_TWO_GPUS();
  set_multi_device_safe_mode(true);
  // Built for cuda:1, run there.
  const Engine on1 = build("cuda:1");
  SessionOptions o1;
  o1.device = "cuda:1";
  const std::vector<float> want = values(Session(build("cpu")).run({{"x", input(2)}})[0].tensor);
  const std::vector<float> got = values(Session(on1, o1).run({{"x", input(2)}})[0].tensor);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-4);
  // Built on cuda:0 into a cache, then served from it for cuda:1 (one key:
  // the fingerprint names the GPU model, not the index).
  cudaDeviceProp p0 = {}, p1 = {};
  cudaGetDeviceProperties(&p0, 0);
  cudaGetDeviceProperties(&p1, 1);
  if (std::string(p0.name) != p1.name) GTEST_SKIP() << "the two GPUs are different models";
  TempDir dir;
  DiskEngineCache cache(dir.file("cache"));
  CompileOptions c;
  c.cache = &cache;
  c.build.device = "cuda:0";
  const std::string path = dir.write("m.onnx", model_bytes());
  EXPECT_FALSE(compile_file(path, c).cache_hit);
  c.build.device = "cuda:1";
  const CompileResult r = compile_file(path, c);
  EXPECT_TRUE(r.cache_hit);
  const std::vector<float> again = values(Session(r.engine, o1).run({{"x", input(2)}})[0].tensor);
  for (size_t i = 0; i < again.size(); ++i) EXPECT_NEAR(again[i], want[i], 1e-4);
  set_multi_device_safe_mode(false);
}

// The figures for docs/PERFORMANCE.md: images/s on one GPU and on two
// together (one Session each), and safe mode's cost per call.
TEST(MultiGpu, Figures) {
  REQUIRE_TWO_GPUS();
  set_multi_device_safe_mode(true);
  const Engine e = build("cuda");
  const int64_t batch = 64;
  const Tensor x = input(batch);
  const auto throughput = [&](int gpus) {
    std::atomic<int64_t> images{0};
    std::vector<std::thread> ts;
    const auto end = Clock::now() + std::chrono::seconds(3);
    for (int g = 0; g < gpus; ++g)
      ts.emplace_back([&, g] {
        cudaSetDevice(g);
        SessionOptions o;
        o.device = "cuda:" + std::to_string(g);
        Session s(e, o);
        s.run({{"x", x}});
        while (Clock::now() < end) {
          s.run({{"x", x}});
          images += batch;
        }
      });
    for (auto& t : ts) t.join();
    return static_cast<double>(images.load()) / 3.0;
  };
  const double one = throughput(1), two = throughput(2);
  // Safe mode's cost: calls from a thread on the session's device (no
  // switch) against calls that switch.
  Session s(e);
  const Tensor small = input(1);
  const auto per_call = [&](int device) {
    double ms = 0;
    std::thread t([&] {
      cudaSetDevice(device);
      for (int i = 0; i < 20; ++i) s.run({{"x", small}});
      const auto t0 = Clock::now();
      for (int i = 0; i < 500; ++i) s.run({{"x", small}});
      ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count() / 500;
    });
    t.join();
    return ms;
  };
  const double same = per_call(0), switched = per_call(1);
  std::printf("throughput batch %lld: one GPU %.0f images/s, two GPUs %.0f images/s (x%.2f)\n",
              static_cast<long long>(batch), one, two, two / one);
  std::printf("per call, batch 1: %.4f ms on its device, %.4f ms switching in safe mode (+%.4f ms)\n", same, switched,
              switched - same);
  set_multi_device_safe_mode(false);
  EXPECT_GT(two, one);
}
#else
TEST(MultiGpu, NotBuilt) { GTEST_SKIP() << "this kiln is built without CUDA (tests/skips.txt)"; }
#endif

}  // namespace
}  // namespace kiln::test
