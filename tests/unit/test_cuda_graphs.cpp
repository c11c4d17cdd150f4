// The graph cache with real CUDA graphs (GPU machine): whole-engine and
// per-segment capture, replays bitwise equal to runs without graphs, eight
// threads against a purger for KILN_GRAPH_SOAK_S seconds (60 by default on
// the GPU run), capture/evict cycles giving the memory back, and a failed
// capture leaving no entry. Without a GPU every test skips (tests/skips.txt).
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <random>
#include <thread>

#include "backends/backend.h"
#include "kiln/builder.h"
#include "kiln/graph_cache.h"
#include "kiln/session.h"
#include "graph_cache_test_util.h"
#include "onnx_test_util.h"
#ifdef KILN_WITH_CUDA
#include <cuda_runtime_api.h>

#include "backends/cuda/cuda_backend.h"
#include "backends/cuda/cuda_memory.h"
#endif

namespace kiln::test {
namespace {

#ifdef KILN_WITH_CUDA
#define REQUIRE_GPU() \
  if (backend::cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device on this machine (tests/skips.txt)"

// x[N,3,16,16] -> Conv -> Relu -> Conv -> Add(x-ish residual) -> GlobalAveragePool -> Flatten -> Gemm -> y[N,10],
// N dynamic; with `nonzero`, a NonZero branch as a second output (not capturable: segments).
Engine build(bool nonzero = false) {
  ModelBuilder mb(13);
  mb.input("x", ::onnx::TensorProto::FLOAT, {std::string("N"), int64_t{3}, int64_t{16}, int64_t{16}});
  mb.output("y", ::onnx::TensorProto::FLOAT, {std::string("N"), int64_t{10}});
  auto weights = [&](const std::string& name, std::vector<int64_t> dims, float scale) {
    int64_t n = 1;
    for (int64_t d : dims) n *= d;
    std::vector<float> w(static_cast<size_t>(n));
    for (size_t i = 0; i < w.size(); ++i) w[i] = std::sin(static_cast<float>(i) * 0.37f + static_cast<float>(n)) * scale;
    mb.init_floats(name, dims, w);
  };
  weights("W1", {8, 3, 3, 3}, 0.3f);
  weights("W2", {8, 8, 3, 3}, 0.2f);
  weights("G", {10, 8}, 0.4f);
  weights("c", {10}, 0.1f);
  auto& c1 = mb.node("Conv", {"x", "W1"}, {"a"}, "conv1");
  add_ints_attr(c1, "pads", {1, 1, 1, 1});
  mb.node("Relu", {"a"}, {"r"}, "relu");
  auto& c2 = mb.node("Conv", {"r", "W2"}, {"b"}, "conv2");
  add_ints_attr(c2, "pads", {1, 1, 1, 1});
  mb.node("Add", {"b", "r"}, {"s"}, "residual");
  mb.node("GlobalAveragePool", {"s"}, {"p"}, "pool");
  mb.node("Flatten", {"p"}, {"f"}, "flatten");
  auto& g = mb.node("Gemm", {"f", "G", "c"}, {"y"}, "gemm");
  add_int_attr(g, "transB", 1);
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

Tensor input(int64_t n, float phase = 0) {
  Tensor t = Tensor::empty(DataType::Float32, {n, 3, 16, 16});
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = std::cos(static_cast<float>(i) * 0.11f + phase);
  return t;
}

TEST(CudaGraphs, WholeEngineReplaysBitwiseEqual) {
  REQUIRE_GPU();
  const Engine e = build();
  auto cache = std::make_shared<GraphCache>(4);
  Session g(e, with(cache)), plain(e);
  for (int64_t n : {1, 4}) {
    const auto want = bytes_of(plain.run({{"x", input(n)}})[0].tensor);
    EXPECT_EQ(bytes_of(g.run({{"x", input(n)}})[0].tensor), want) << "capture run, batch " << n;
    for (int i = 0; i < 3; ++i) EXPECT_EQ(bytes_of(g.run({{"x", input(n)}})[0].tensor), want) << "replay, batch " << n;
    // New values through the same graph.
    EXPECT_EQ(bytes_of(g.run({{"x", input(n, 1.f)}})[0].tensor), bytes_of(plain.run({{"x", input(n, 1.f)}})[0].tensor));
  }
  const auto entries = cache->entries();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].mode, CaptureMode::Whole);
  EXPECT_EQ(entries[0].graphs, 1);
  EXPECT_EQ(g.stats().last_capture_mode, CaptureMode::Whole);
  EXPECT_EQ(cache->stats().capture_failures, 0u);
}

TEST(CudaGraphs, UncapturableNodesSplitTheEngineIntoSegments) {
  REQUIRE_GPU();
  const Engine e = build(/*nonzero=*/true);
  auto cache = std::make_shared<GraphCache>(4);
  Session g(e, with(cache)), plain(e);
  for (int i = 0; i < 3; ++i) {
    const auto got = g.run({{"x", input(2, static_cast<float>(i))}});
    const auto want = plain.run({{"x", input(2, static_cast<float>(i))}});
    EXPECT_EQ(bytes_of(got[0].tensor), bytes_of(want[0].tensor));
    EXPECT_EQ(got[1].tensor.shape(), want[1].tensor.shape());
    EXPECT_EQ(bytes_of(got[1].tensor), bytes_of(want[1].tensor));
  }
  const auto entries = cache->entries();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].mode, CaptureMode::Segments);
  EXPECT_GE(entries[0].graphs, 1);
}

TEST(CudaGraphs, EightThreadsWhileAnotherPurges) {
  REQUIRE_GPU();
  const char* soak = std::getenv("KILN_GRAPH_SOAK_S");
  const int seconds = soak ? std::atoi(soak) : 3;
  const Engine e = build();
  auto cache = std::make_shared<GraphCache>(3);
  Session g(e, with(cache)), plain(e);
  std::vector<std::vector<uint8_t>> want;
  for (int64_t n = 1; n <= 5; ++n) want.push_back(bytes_of(plain.run({{"x", input(n)}})[0].tensor));
  std::atomic<bool> stop{false};
  std::atomic<int> errors{0}, mismatches{0}, runs{0};
  std::string first_error;
  std::mutex error_mutex;
  std::thread purger([&] {
    std::mt19937 rng(3);
    while (!stop) {
      if (rng() % 2) cache->purge(rng() % 3);
      else cache->remove(GraphKey{{{1 + static_cast<int64_t>(rng() % 5), 3, 16, 16}}, {DataType::Float32}, Device{DeviceKind::CUDA, 0}});
      std::this_thread::sleep_for(std::chrono::milliseconds(1 + rng() % 5));
    }
  });
  std::vector<std::thread> workers;
  for (int t = 0; t < 8; ++t)
    workers.emplace_back([&, t] {
      std::mt19937 rng(static_cast<uint32_t>(t + 11));
      const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
      while (std::chrono::steady_clock::now() < end) {
        const int64_t n = 1 + static_cast<int64_t>(rng() % 5);
        try {
          if (bytes_of(g.run({{"x", input(n)}})[0].tensor) != want[static_cast<size_t>(n - 1)]) ++mismatches;
        } catch (const std::exception& ex) {
          if (errors++ == 0) {
            std::lock_guard<std::mutex> lock(error_mutex);
            first_error = ex.what();
          }
        }
        ++runs;
      }
    });
  for (auto& w : workers) w.join();
  stop = true;
  purger.join();
  const GraphCacheStats st = cache->stats();
  std::printf("soak %d s: %d runs, %llu captures, %llu replays, %llu evictions\n", seconds, runs.load(),
              static_cast<unsigned long long>(st.captures), static_cast<unsigned long long>(st.hits),
              static_cast<unsigned long long>(st.evictions));
  EXPECT_EQ(errors.load(), 0) << first_error;
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_EQ(st.capture_failures, 0u);
}

size_t free_bytes() {
  size_t f = 0, t = 0;
  cudaMemGetInfo(&f, &t);
  return f;
}

TEST(CudaGraphs, CaptureEvictCyclesGiveTheMemoryBack) {
  REQUIRE_GPU();
  const Engine e = build();
  auto& be = dynamic_cast<backend::cuda::CudaBackend&>(backend::backend_for("cuda:0"));
  auto cache = std::make_shared<GraphCache>(1);
  Session g(e, with(cache));
  // Both shapes once: kernels' modules loaded (lazily, on first launch),
  // weights uploaded, library handles made — costs paid once, not per cycle.
  g.run({{"x", input(1)}});
  g.run({{"x", input(2)}});
  cache->purge();
  be.pool().trim();
  const size_t base = free_bytes();
  const uint64_t captures0 = cache->stats().captures;
  const int cycles = std::getenv("KILN_GRAPH_CYCLES") ? std::atoi(std::getenv("KILN_GRAPH_CYCLES")) : 100;
  for (int i = 0; i < cycles; ++i) g.run({{"x", input(1 + i % 2)}});  // capacity 1: every run captures and evicts
  EXPECT_EQ(cache->stats().captures - captures0, static_cast<uint64_t>(cycles));
  cache->purge();
  be.pool().trim();
  const size_t after = free_bytes();
  std::printf("free device memory: %zu MiB before, %zu MiB after %d capture/evict cycles\n", base >> 20, after >> 20,
              cycles);
  EXPECT_GE(after + (size_t{2} << 20), base);  // within one pool block (2 MiB)
}

TEST(CudaGraphs, FailedCaptureLeavesNoEntryAndTheCallWorks) {
  REQUIRE_GPU();
  const Engine e = build();
  auto cache = std::make_shared<GraphCache>(4);
  Session g(e, with(cache)), plain(e);
  setenv("KILN_FAULT", "capture", 1);  // CudaBackend::end_capture fails once per capture
  const auto got = g.run({{"x", input(3)}});
  unsetenv("KILN_FAULT");
  EXPECT_EQ(bytes_of(got[0].tensor), bytes_of(plain.run({{"x", input(3)}})[0].tensor));
  EXPECT_EQ(cache->size(), 0u);
  EXPECT_EQ(cache->stats().capture_failures, 1u);
  // The key runs without a graph from now on (said once), correctly.
  EXPECT_EQ(bytes_of(g.run({{"x", input(3)}})[0].tensor), bytes_of(plain.run({{"x", input(3)}})[0].tensor));
  // Other keys still capture.
  g.run({{"x", input(2)}});
  EXPECT_TRUE(cache->contains(GraphKey{{{2, 3, 16, 16}}, {DataType::Float32}, Device{DeviceKind::CUDA, 0}}));
}
#else
TEST(CudaGraphs, NotBuilt) { GTEST_SKIP() << "this kiln is built without CUDA (tests/skips.txt)"; }
#endif

}  // namespace
}  // namespace kiln::test
