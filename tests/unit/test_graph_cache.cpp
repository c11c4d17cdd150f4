// GraphCache on the CPU, where an entry is the per-shape prepared plan: LRU
// order and eviction, inspection, removal and purge, binding to one Session,
// enabling and bypassing, counters, batch bucketing, shapes captured up
// front, and thread safety (runs on 8 threads while another purges). The
// same cache holds CUDA graphs on a GPU (test_cuda_graphs on the GPU machine).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <random>
#include <thread>

#include "kiln/builder.h"
#include "kiln/graph_cache.h"
#include "kiln/session.h"
#include "graph_cache_test_util.h"
#include "onnx_test_util.h"

namespace kiln::test {
namespace {

// x[N,6] -> Relu -> MatMul(W[6,4]) -> y[N,4], N dynamic.
Engine batch_engine() {
  ModelBuilder mb(13);
  mb.input("x", ::onnx::TensorProto::FLOAT, {std::string("N"), int64_t{6}});
  mb.output("y", ::onnx::TensorProto::FLOAT, {std::string("N"), int64_t{4}});
  std::vector<float> w(24);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i % 5) - 2.f;
  mb.init_floats("W", {6, 4}, w);
  mb.node("Relu", {"x"}, {"r"}, "relu");
  mb.node("MatMul", {"r", "W"}, {"y"}, "matmul");
  TempDir dir;
  return build_engine(Model::load(dir.write("m.onnx", mb.bytes())));
}

Tensor rows(int64_t n, float base = 0) {
  Tensor t = Tensor::empty(DataType::Float32, {n, 6});
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = base + static_cast<float>(i % 7) - 3.f;
  return t;
}

GraphKey key(int64_t n) { return GraphKey{{{n, 6}}, {DataType::Float32}, Device{}}; }

std::vector<float> values(const Tensor& t) { return std::vector<float>(t.data<float>(), t.data<float>() + t.numel()); }

TEST(GraphCache, LeastRecentlyUsedGoesFirst) {
  auto cache = std::make_shared<GraphCache>(2);
  Session s(batch_engine(), with(cache));
  for (int64_t n : {1, 2, 3}) s.run({{"x", rows(n)}});
  EXPECT_EQ(cache->size(), 2u);
  EXPECT_EQ(cache->keys(), (std::vector<GraphKey>{key(2), key(3)}));  // 1 was evicted
  s.run({{"x", rows(2)}});                                            // a hit makes 2 the newest
  EXPECT_EQ(cache->keys(), (std::vector<GraphKey>{key(3), key(2)}));
  EXPECT_TRUE(cache->contains(key(3)));
  EXPECT_FALSE(cache->contains(key(1)));
  const GraphCacheStats st = cache->stats();
  EXPECT_EQ(st.misses, 3u);
  EXPECT_EQ(st.hits, 1u);
  EXPECT_EQ(st.captures, 3u);
  EXPECT_EQ(st.evictions, 1u);
  EXPECT_EQ(s.stats().graph_runs, 4u);
}

TEST(GraphCache, RemoveAndPurge) {
  auto cache = std::make_shared<GraphCache>(8);
  Session s(batch_engine(), with(cache));
  for (int64_t n : {1, 2, 3, 4}) s.run({{"x", rows(n)}});
  cache->remove(key(9));  // absent: nothing happens
  EXPECT_EQ(cache->size(), 4u);
  cache->remove(key(2));
  EXPECT_EQ(cache->keys(), (std::vector<GraphKey>{key(1), key(3), key(4)}));
  cache->purge(2);  // the two oldest
  EXPECT_EQ(cache->keys(), (std::vector<GraphKey>{key(4)}));
  cache->purge();
  EXPECT_EQ(cache->size(), 0u);
  EXPECT_EQ(cache->stats().device_bytes, 0u);
  // A purged key is captured again on its next use, with the same result.
  const auto a = values(s.run({{"x", rows(4)}})[0].tensor);
  EXPECT_TRUE(cache->contains(key(4)));
  EXPECT_EQ(a, values(Session(batch_engine()).run({{"x", rows(4)}})[0].tensor));
}

TEST(GraphCache, EntriesDescribeThemselves) {
  auto cache = std::make_shared<GraphCache>(4);
  Session s(batch_engine(), with(cache));
  for (int i = 0; i < 3; ++i) s.run({{"x", rows(5)}});
  const auto entries = cache->entries();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].key, key(5));
  EXPECT_EQ(entries[0].hits, 2u);
  EXPECT_EQ(entries[0].mode, CaptureMode::None);  // the CPU replays the prepared plan
  EXPECT_GT(entries[0].device_bytes, 0u);
  EXPECT_EQ(entries[0].key.str(), "[5,6]:float32 @ cpu");
}

TEST(GraphCache, ServesOneEngineOnly) {
  auto cache = std::make_shared<GraphCache>(4);
  const Engine e = batch_engine();
  Session a(e, with(cache)), b(e, with(cache));
  a.run({{"x", rows(1)}});
  b.run({{"x", rows(1)}});  // the same engine: b replays a's entry
  EXPECT_EQ(cache->stats().hits, 1u);
  Session other(batch_engine(), with(cache));  // an equal model, but another engine
  EXPECT_KILN_ERROR(other.run({{"x", rows(1)}}), ErrorCode::InvalidArgument, "another engine");
  // It can still run without graphs.
  RunOptions o;
  o.disable_cuda_graphs = true;
  EXPECT_NO_THROW(other.run({{"x", rows(1)}}, o));
}

TEST(GraphCache, BypassPerCallAndGlobally) {
  auto cache = std::make_shared<GraphCache>(4);
  Session s(batch_engine(), with(cache));
  RunOptions off;
  off.disable_cuda_graphs = true;
  s.run({{"x", rows(3)}}, off);
  EXPECT_EQ(cache->size(), 0u);
  set_cuda_graphs_mode(false);
  EXPECT_FALSE(cuda_graphs_mode());
  s.run({{"x", rows(3)}});
  EXPECT_EQ(cache->size(), 0u);
  set_cuda_graphs_mode(true);
  s.run({{"x", rows(3)}});
  EXPECT_EQ(cache->size(), 1u);
}

TEST(GraphCache, EstablishedAsTheSeedsDo) {
  auto mine = std::make_shared<GraphCache>(3);
  EXPECT_EQ(establish_graph_cache(16, mine), mine);
  unsetenv("KILN_AUTO_CUDA_GRAPHS");
  EXPECT_EQ(establish_graph_cache(16), nullptr);
  setenv("KILN_AUTO_CUDA_GRAPHS", "true", 1);
  auto made = establish_graph_cache(16);
  ASSERT_NE(made, nullptr);
  EXPECT_EQ(made->capacity(), 16u);
  setenv("KILN_AUTO_CUDA_GRAPHS", "ON", 1);  // any case
  EXPECT_NE(establish_graph_cache(16), nullptr);
  setenv("KILN_AUTO_CUDA_GRAPHS", "0", 1);
  EXPECT_EQ(establish_graph_cache(16), nullptr);
  setenv("KILN_AUTO_CUDA_GRAPHS", "maybe", 1);  // not a switch: the default (off)
  EXPECT_EQ(establish_graph_cache(16), nullptr);
  unsetenv("KILN_AUTO_CUDA_GRAPHS");
}

TEST(GraphCache, ByteBudgetEvicts) {
  const Engine e = batch_engine();
  auto probe = std::make_shared<GraphCache>(8);
  Session p(e, with(probe));
  p.run({{"x", rows(64)}});
  const size_t one = probe->stats().device_bytes;
  ASSERT_GT(one, 0u);
  auto cache = std::make_shared<GraphCache>(8, one * 2 + one / 2);  // room for two of that size
  Session s(e, with(cache));
  for (int i = 0; i < 4; ++i) s.run({{"x", rows(64 - i)}});
  EXPECT_LE(cache->stats().device_bytes, one * 2 + one / 2);
  EXPECT_EQ(cache->size(), 2u);
  EXPECT_EQ(cache->stats().evictions, 2u);
}

TEST(GraphCache, BatchBucketsShareEntries) {
  auto cache = std::make_shared<GraphCache>(8);
  SessionOptions o = with(cache);
  o.batch_buckets = {8, 2, 4};
  Session s(batch_engine(), o);
  Session plain(batch_engine());
  for (int64_t n : {1, 3, 4, 7, 2}) {
    const Tensor y = s.run({{"x", rows(n, 0.5f)}})[0].tensor;
    EXPECT_EQ(y.shape(), (Shape{n, 4}));
    EXPECT_EQ(values(y), values(plain.run({{"x", rows(n, 0.5f)}})[0].tensor)) << n;
  }
  EXPECT_EQ(cache->keys(), (std::vector<GraphKey>{key(4), key(8), key(2)}));
}

TEST(GraphCache, ShapesCapturedWhenTheSessionIsMade) {
  auto cache = std::make_shared<GraphCache>(8);
  SessionOptions o = with(cache);
  o.capture_shapes = {{{"x", {5, 6}}}, {{"x", {7, 6}}}};
  Session s(batch_engine(), o);
  EXPECT_EQ(cache->size(), 2u);
  s.run({{"x", rows(5)}});
  EXPECT_EQ(cache->stats().hits, 1u);
  EXPECT_EQ(cache->stats().misses, 2u);
}

// 8 threads run 5 shapes through a cache of 3 while another thread removes
// and purges at random: no errors, every output equal to a run without the
// cache, and each (key, miss) captured once.
TEST(GraphCache, ThreadsRunWhileAnotherPurges) {
  auto cache = std::make_shared<GraphCache>(3);
  const Engine e = batch_engine();
  Session s(e, with(cache));
  Session ref(e);
  std::vector<std::vector<float>> want;
  for (int64_t n = 1; n <= 5; ++n) want.push_back(values(ref.run({{"x", rows(n)}})[0].tensor));
  std::atomic<bool> stop{false};
  std::atomic<int> errors{0}, mismatches{0}, runs{0};
  std::thread purger([&] {
    std::mt19937 rng(7);
    while (!stop) {
      if (rng() % 3 == 0) cache->purge(rng() % 3);
      else cache->remove(key(1 + static_cast<int64_t>(rng() % 5)));
      (void)cache->keys();
      (void)cache->stats();
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
  std::vector<std::thread> workers;
  for (int t = 0; t < 8; ++t)
    workers.emplace_back([&, t] {
      std::mt19937 rng(static_cast<uint32_t>(t));
      const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(2);
      while (std::chrono::steady_clock::now() < end) {
        const int64_t n = 1 + static_cast<int64_t>(rng() % 5);
        try {
          if (values(s.run({{"x", rows(n)}})[0].tensor) != want[static_cast<size_t>(n - 1)]) ++mismatches;
        } catch (const std::exception&) {
          ++errors;
        }
        ++runs;
      }
    });
  for (auto& w : workers) w.join();
  stop = true;
  purger.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_GT(runs.load(), 100);
  const GraphCacheStats st = cache->stats();
  EXPECT_EQ(st.misses, st.captures);  // no failures, and each miss captured once
  EXPECT_EQ(st.hits + st.misses, static_cast<uint64_t>(runs.load()));
}

}  // namespace
}  // namespace kiln::test
