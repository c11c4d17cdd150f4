// compile / compile_file through a disk engine cache: hits, misses, corrupt
// entries and the direct-mode manifest.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
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

TEST(Compile, NoCacheAlwaysBuilds) {
  TempDir dir;
  CompileOptions o;
  const std::string path = dir.write("m.onnx", model_bytes(2));
  EXPECT_FALSE(compile_file(path, o).cache_hit);
  EXPECT_FALSE(compile_file(path, o).cache_hit);
}

}  // namespace
}  // namespace kiln::test
