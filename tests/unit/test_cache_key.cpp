// The engine-cache key changes exactly when the engine would.
#include <gtest/gtest.h>

#include "cache/cache_key.h"
#include "onnx/import.h"
#include "onnx_test_util.h"

namespace kiln::test {
namespace {

ir::Graph model(const std::string& in_name = "x", float w0 = 1.f, const std::string& node_name = "mm") {
  ModelBuilder mb(13);
  mb.input(in_name, ::onnx::TensorProto::FLOAT, {std::string("N"), int64_t{2}});
  mb.output("y", ::onnx::TensorProto::FLOAT, {std::string("N"), int64_t{2}});
  mb.init_floats("W", {2, 2}, {w0, 2, 3, 4});
  mb.node("MatMul", {in_name, "W"}, {"y"}, node_name);
  return onnx::import_bytes(mb.bytes(), "", "test");
}

std::string key(const ir::Graph& g, const BuildConfig& c = {}, const std::string& env = "cpu x86_64-avx2") {
  return cache::engine_cache_key(g, c, env).hex;
}

TEST(CacheKey, StableAndHex) {
  EXPECT_EQ(key(model()), key(model()));
  EXPECT_EQ(key(model()).size(), 64u);
}

TEST(CacheKey, RenamingTensorsOrNodesKeepsTheKey) {
  EXPECT_EQ(key(model("x")), key(model("images")));
  EXPECT_EQ(key(model("x", 1.f, "mm")), key(model("x", 1.f, "other_name")));
}

TEST(CacheKey, ChangingOneWeightChangesTheKey) { EXPECT_NE(key(model("x", 1.f)), key(model("x", 1.5f))); }

TEST(CacheKey, WeightlessIgnoresWeightValues) {
  BuildConfig c;
  c.weightless = true;
  EXPECT_EQ(key(model("x", 1.f), c), key(model("x", 1.5f), c));
  EXPECT_NE(key(model(), c), key(model()));
}

TEST(CacheKey, ShapeRangePrecisionAndFingerprintChangeTheKey) {
  const ir::Graph g = model();
  BuildConfig a, b;
  a.profiles["x"] = {{1, 2}, {4, 2}, {8, 2}};
  b.profiles["x"] = {{1, 2}, {4, 2}, {16, 2}};
  EXPECT_NE(key(g, a), key(g, b));
  BuildConfig fp16;
  fp16.precision = Precision::FP16;
  EXPECT_NE(key(g), key(g, fp16));
  BuildConfig o1;
  o1.optimization_level = 1;
  EXPECT_NE(key(g), key(g, o1));
  EXPECT_NE(key(g, {}, "cpu x86_64-avx2"), key(g, {}, "cpu x86_64-avx512"));
}

TEST(CacheKey, NonInvariantSettingsStayOut) {
  const ir::Graph g = model();
  BuildConfig c;
  c.on_progress = [](const BuildProgress&) {};
  EXPECT_EQ(key(g), key(g, c));
}

TEST(CacheKey, ExplainListsEveryField) {
  const auto k = cache::engine_cache_key(model(), {}, "env");
  std::vector<std::string> names;
  for (const auto& f : k.fields) names.push_back(f.name);
  EXPECT_EQ(names, (std::vector<std::string>{"format", "env", "graph", "weights", "inputs", "config"}));
}

}  // namespace
}  // namespace kiln::test
