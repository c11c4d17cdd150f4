// TimingCache: lookup/record/best, merge, JSON save/load (atomic, tolerant of
// missing and corrupt files), thread safety.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <thread>

#include "cache_test_util.h"
#include "core/atomic_file.h"
#include "kiln/timing_cache.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;

const std::string k_conv = "Conv f32 x[1,64,56,56] w[64,64,3,3] pads=1,1,1,1 strides=1,1";
const std::string k_gemm = "Gemm f16 a[128,768] b[768,3072]";
const std::string k_h100 = "cuda sm_90 NVIDIA H100";
const std::string k_cpu = "cpu avx512";

TEST(TimingCache, RecordLookupBest) {
  TimingCache tc;
  EXPECT_TRUE(tc.empty());
  EXPECT_TRUE(tc.lookup(k_conv, k_h100).empty());
  EXPECT_EQ(tc.best(k_conv, k_h100), std::nullopt);
  tc.record(k_conv, k_h100, "cudnn_implicit_gemm", 0.30);
  tc.record(k_conv, k_h100, "cudnn_winograd", 0.12);
  tc.record(k_conv, k_h100, "direct", 0.95);
  const auto all = tc.lookup(k_conv, k_h100);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0], (TimingMeasurement{"cudnn_winograd", 0.12}));
  EXPECT_EQ(all[1], (TimingMeasurement{"cudnn_implicit_gemm", 0.30}));
  EXPECT_EQ(all[2], (TimingMeasurement{"direct", 0.95}));
  EXPECT_EQ(tc.best(k_conv, k_h100)->candidate, "cudnn_winograd");
  // The device is part of the key.
  EXPECT_TRUE(tc.lookup(k_conv, k_cpu).empty());
  tc.record(k_conv, k_cpu, "onednn", 2.5);
  EXPECT_EQ(tc.size(), 2u);
  EXPECT_EQ(tc.best(k_conv, k_cpu)->candidate, "onednn");
}

TEST(TimingCache, RecordKeepsTheFasterTimeAndTiesByName) {
  TimingCache tc;
  tc.record(k_gemm, k_h100, "a", 1.0);
  tc.record(k_gemm, k_h100, "a", 0.5);
  tc.record(k_gemm, k_h100, "a", 0.8);
  EXPECT_EQ(tc.lookup(k_gemm, k_h100), (std::vector<TimingMeasurement>{{"a", 0.5}}));
  tc.record(k_gemm, k_h100, "b", 0.5);
  EXPECT_EQ(tc.best(k_gemm, k_h100)->candidate, "a");  // equal times: by name
}

TEST(TimingCache, RejectsNonsenseTimes) {
  TimingCache tc;
  for (double bad : {-1.0, std::nan(""), std::numeric_limits<double>::infinity()}) {
    try {
      tc.record(k_gemm, k_h100, "x", bad);
      ADD_FAILURE() << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
    }
  }
  EXPECT_TRUE(tc.empty());
  tc.record(k_gemm, k_h100, "zero", 0.0);  // a zero time is allowed
  EXPECT_EQ(tc.size(), 1u);
}

TEST(TimingCache, MergeIsAUnionKeepingTheFaster) {
  TimingCache a, b;
  a.record(k_conv, k_h100, "x", 1.0);
  a.record(k_conv, k_h100, "y", 2.0);
  b.record(k_conv, k_h100, "x", 0.7);
  b.record(k_conv, k_h100, "y", 3.0);
  b.record(k_conv, k_h100, "z", 0.9);
  b.record(k_gemm, k_cpu, "w", 4.0);
  a.merge(b);
  EXPECT_EQ(a.lookup(k_conv, k_h100),
            (std::vector<TimingMeasurement>{{"x", 0.7}, {"z", 0.9}, {"y", 2.0}}));
  EXPECT_EQ(a.lookup(k_gemm, k_cpu), (std::vector<TimingMeasurement>{{"w", 4.0}}));
  EXPECT_EQ(b.lookup(k_conv, k_h100).size(), 3u) << "the source is unchanged";
  a.merge(a);  // self-merge: no change, no deadlock
  EXPECT_EQ(a.size(), 2u);
}

TEST(TimingCache, SaveLoadRoundTrip) {
  test::TempDir dir;
  TimingCache tc;
  tc.record(k_conv, k_h100, "winograd", 0.123456789);
  tc.record(k_conv, k_h100, "gemm \"quoted\" \\ name", 1e-6);
  tc.record(k_gemm, k_cpu, "onednn", 1234.5);
  const fs::path path = dir.path() / "timing.json";
  tc.save(path);
  TimingCache back;
  back.record("stale", "stale", "stale", 1);  // load replaces contents
  EXPECT_TRUE(back.load(path));
  EXPECT_EQ(back.size(), 2u);
  EXPECT_EQ(back.lookup(k_conv, k_h100), tc.lookup(k_conv, k_h100));
  EXPECT_EQ(back.lookup(k_gemm, k_cpu), tc.lookup(k_gemm, k_cpu));
  EXPECT_TRUE(back.lookup("stale", "stale").empty());
  // The file is the documented JSON, and nothing else was left in the directory.
  std::ifstream in(path);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("\"format\": \"kiln-timing-cache\""), std::string::npos) << text;
  size_t files = 0;
  for (auto it = fs::directory_iterator(dir.path()); it != fs::directory_iterator(); ++it) ++files;
  EXPECT_EQ(files, 1u);
  // Saving again replaces the file atomically.
  back.record(k_gemm, k_cpu, "onednn", 1000.0);
  back.save(path);
  TimingCache again;
  ASSERT_TRUE(again.load(path));
  EXPECT_EQ(again.best(k_gemm, k_cpu)->ms, 1000.0);
}

TEST(TimingCache, MissingFileStartsEmptyQuietly) {
  test::TempDir dir;
  test::LogCapture log;
  TimingCache tc;
  tc.record(k_conv, k_cpu, "x", 1);
  EXPECT_FALSE(tc.load(dir.path() / "absent.json"));
  EXPECT_TRUE(tc.empty());
  EXPECT_TRUE(log.lines().empty()) << log.all();
}

TEST(TimingCache, CorruptFilesWarnAndStartEmpty) {
  test::TempDir dir;
  const fs::path path = dir.path() / "timing.json";
  TimingCache good;
  good.record(k_conv, k_cpu, "x", 1);
  const std::string valid = good.to_json();
  const std::vector<std::string> bad = {
      "",
      "\x00\x01\x02 binary",
      valid.substr(0, valid.size() / 2),  // truncated
      "[1,2,3]",
      R"({"format":"something-else","version":1,"entries":[]})",
      R"({"format":"kiln-timing-cache","version":99,"entries":[]})",
      R"({"format":"kiln-timing-cache","version":1,"entries":{}})",
      R"({"format":"kiln-timing-cache","version":1,"entries":[{"kernel":1,"device":"d","timings":{}}]})",
      R"({"format":"kiln-timing-cache","version":1,"entries":[{"kernel":"k","device":"d","timings":{"a":"fast"}}]})",
      R"({"format":"kiln-timing-cache","version":1,"entries":[{"kernel":"k","device":"d","timings":{"a":-3}}]})",
      R"({"format":7,"version":1,"entries":[]})",
  };
  for (const auto& text : bad) {
    std::ofstream(path, std::ios::binary) << text;
    test::LogCapture log;
    TimingCache tc;
    tc.record(k_gemm, k_cpu, "y", 2);
    EXPECT_FALSE(tc.load(path)) << text;
    EXPECT_TRUE(tc.empty()) << text;
    EXPECT_TRUE(log.contains("starting empty")) << text << "\n" << log.all();
  }
  // A directory where the file should be.
  fs::remove(path);
  fs::create_directories(path);
  TimingCache tc;
  test::LogCapture log;
  EXPECT_FALSE(tc.load(path));
  EXPECT_FALSE(log.lines().empty());
}

TEST(TimingCache, SaveToAnUnwritablePlaceThrowsIo) {
  test::TempDir dir;
  std::ofstream(dir.path() / "file") << "x";
  TimingCache tc;
  tc.record(k_conv, k_cpu, "x", 1);
  try {
    tc.save(dir.path() / "file" / "timing.json");
    FAIL() << "expected an I/O error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::IO);
    EXPECT_NE(e.message().find("timing.json"), std::string::npos) << e.message();
  }
}

TEST(TimingCache, ConcurrentRecordersAndReaders) {
  TimingCache tc;
  constexpr int k_threads = 4, k_per_thread = 500;
  std::vector<std::thread> threads;
  std::atomic<bool> inconsistent{false};
  for (int t = 0; t < k_threads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < k_per_thread; ++i) {
        tc.record("kernel" + std::to_string(i % 50), k_cpu, "cand" + std::to_string(t), 1.0 + t + i * 0.001);
        // Readers see sorted lists.
        const auto all = tc.lookup("kernel" + std::to_string(i % 50), k_cpu);
        for (size_t j = 1; j < all.size(); ++j)
          if (all[j - 1].ms > all[j].ms) inconsistent = true;
      }
    });
  }
  TimingCache other;
  other.record("kernel0", k_cpu, "fast", 0.001);
  threads.emplace_back([&] {
    for (int i = 0; i < 100; ++i) {
      tc.merge(other);
      TimingCache copy = tc;  // copying under concurrent writes
      (void)copy.size();
    }
  });
  for (auto& th : threads) th.join();
  EXPECT_FALSE(inconsistent);
  EXPECT_EQ(tc.size(), 50u);
  for (int k = 0; k < 50; ++k) {
    const auto all = tc.lookup("kernel" + std::to_string(k), k_cpu);
    EXPECT_EQ(all.size(), static_cast<size_t>(k_threads) + (k == 0 ? 1 : 0));
    // Each thread's smallest time for kernel k is its first one: 1 + t + k * 0.001.
    for (const auto& m : all) {
      if (m.candidate == "fast") continue;
      const int t = std::stoi(m.candidate.substr(4));
      EXPECT_DOUBLE_EQ(m.ms, 1.0 + t + k * 0.001) << m.candidate;
    }
  }
  EXPECT_EQ(tc.best("kernel0", k_cpu)->candidate, "fast");
}

}  // namespace
}  // namespace kiln
