// compile / compile_file through a disk engine cache: hits, misses, corrupt
// entries and the direct-mode manifest.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "kiln/compile.h"
#include "kiln/session.h"
#include "onnx_test_util.h"

namespace kiln::test {
namespace {

std::string model_bytes(float w) {
  ModelBuilder mb(13);
  mb.input("x", ::onnx::TensorProto::FLOAT, {int64_t{1}, int64_t{2}});
  mb.output("y", ::onnx::TensorProto::FLOAT, {int64_t{1}, int64_t{2}});
  mb.init_floats("W", {2}, {w, w});
  mb.node("Mul", {"x", "W"}, {"y"}, "mul");
  return mb.bytes();
}

float run_first(const Engine& e) {
  Session s(e);
  return s.run({{"x", Tensor::from_vector<float>(DataType::Float32, {1, 2}, {1, 1})}})[0].tensor.data<float>()[0];
}

TEST(Compile, MissThenHit) {
  TempDir dir;
  DiskEngineCache cache(dir.file("cache"));
  CompileOptions o;
  o.cache = &cache;
  const std::string path = dir.write("m.onnx", model_bytes(2));
  CompileResult a = compile_file(path, o);
  EXPECT_FALSE(a.cache_hit);
  CompileResult b = compile_file(path, o);
  EXPECT_TRUE(b.cache_hit);
  EXPECT_EQ(a.key, b.key);
  EXPECT_EQ(run_first(b.engine), 2.f);
  // Through compile() (full key, no manifest) too.
  EXPECT_TRUE(compile(Model::load(path), o).cache_hit);
}

TEST(Compile, ChangedModelFileIsNotServedAStaleEngine) {
  TempDir dir;
  DiskEngineCache cache(dir.file("cache"));
  CompileOptions o;
  o.cache = &cache;
  const std::string path = dir.write("m.onnx", model_bytes(2));
  compile_file(path, o);
  EXPECT_TRUE(compile_file(path, o).cache_hit);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  dir.write("m.onnx", model_bytes(3));  // same size, other weights
  CompileResult r = compile_file(path, o);
  EXPECT_FALSE(r.cache_hit);
  EXPECT_EQ(run_first(r.engine), 3.f);
}

TEST(Compile, CorruptEntryIsAMissAndIsRewritten) {
  TempDir dir;
  DiskEngineCache cache(dir.file("cache"));
  CompileOptions o;
  o.cache = &cache;
  const std::string path = dir.write("m.onnx", model_bytes(2));
  const std::string key = compile_file(path, o).key;
  const auto blob = std::filesystem::path(dir.file("cache")) / key / "blob.bin";
  ASSERT_TRUE(std::filesystem::exists(blob));
  {
    std::fstream f(blob, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(std::filesystem::file_size(blob) - 3));
    f.put('\x5a');
  }
  CompileResult r = compile_file(path, o);
  EXPECT_FALSE(r.cache_hit);
  EXPECT_EQ(run_first(r.engine), 2.f);
  EXPECT_TRUE(compile_file(path, o).cache_hit);  // rewritten
}

// A far tier kept in memory, counting loads.
class MemoryCache final : public EngineCache {
 public:
  void save(const std::string& h, const std::vector<uint8_t>& b) override { m_blobs[h] = b; }
  std::optional<std::vector<uint8_t>> load(const std::string& h) override {
    ++loads;
    auto it = m_blobs.find(h);
    if (it == m_blobs.end()) return std::nullopt;
    return it->second;
  }
  int loads = 0;

 private:
  std::map<std::string, std::vector<uint8_t>> m_blobs;
};

// With a shared tier behind the disk cache (kiln --redis), warm starts keep
// the direct-mode fast path: the manifest lives in the disk tier's directory.
TEST(Compile, ManifestFastPathWorksBehindATieredCache) {
  TempDir dir;
  DiskEngineCache disk(dir.file("cache"));
  MemoryCache far;
  TieredEngineCache tiered(disk, far);
  ASSERT_TRUE(tiered.local_dir().has_value());
  CompileOptions o;
  o.cache = &tiered;
  const std::string path = dir.write("m.onnx", model_bytes(2));
  EXPECT_FALSE(compile_file(path, o).cache_hit);
  size_t manifests = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir.file("cache")))
    manifests += e.path().string().find(".manifests") != std::string::npos && e.is_regular_file();
  EXPECT_GE(manifests, 1u) << "no direct-mode manifest written through the tiered cache";
  const int far_loads = far.loads;
  const CompileResult r = compile_file(path, o);
  EXPECT_TRUE(r.cache_hit);
  EXPECT_EQ(far.loads, far_loads) << "a warm start went past the disk tier";
  EXPECT_EQ(run_first(r.engine), 2.f);
}

TEST(Compile, NoCacheAlwaysBuilds) {
  TempDir dir;
  CompileOptions o;
  const std::string path = dir.write("m.onnx", model_bytes(2));
  EXPECT_FALSE(compile_file(path, o).cache_hit);
  EXPECT_FALSE(compile_file(path, o).cache_hit);
}

}  // namespace
}  // namespace kiln::test
