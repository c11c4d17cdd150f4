// Kernel choice by timing, through the timing cache; weightless engines and refit.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "backends/cpu/cpu_backend.h"
#include "builder/kernel_selection.h"
#include "kiln/builder.h"
#include "kiln/compile.h"
#include "kiln/session.h"
#include "onnx_test_util.h"

namespace kiln::test {
namespace {

void copy_kernel(backend::KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0, x.dtype(), x.shape());
  std::memcpy(y.raw(), x.raw(), x.nbytes());
}
void slow_copy_kernel(backend::KernelContext& ctx) {
  std::this_thread::sleep_for(std::chrono::milliseconds(3));
  copy_kernel(ctx);
}
void failing_kernel(backend::KernelContext& ctx) { ctx.fail("this candidate cannot run here"); }

// A CPU backend whose "Identity" has three candidates of known speed.
class ChoiceBackend : public backend::Backend {
 public:
  ChoiceBackend() {
    m_kernels.add_fn("Identity", slow_copy_kernel, "slow");
    m_kernels.add_fn("Identity", copy_kernel, "fast");
    m_kernels.add_fn("Identity", failing_kernel, "broken");
  }
  std::string name() const override { return "cpu"; }
  Device device() const override { return {}; }
  std::string fingerprint() const override { return "test-device"; }
  backend::Allocator& allocator() override { return backend::cpu_backend().allocator(); }
  std::unique_ptr<backend::Stream> create_stream() override { return backend::cpu_backend().create_stream(); }
  void copy(void* d, const void* s, size_t n, backend::CopyKind k, backend::Stream& st) override {
    backend::cpu_backend().copy(d, s, n, k, st);
  }
  const backend::KernelRegistry& kernels() const override { return m_kernels; }

 private:
  backend::KernelRegistry m_kernels;
};

ir::Graph identity_graph() {
  ir::Graph g;
  g.opsets[""] = 13;
  ir::Value x;
  x.name = "x";
  x.dtype = DataType::Float32;
  x.shape = ir::SymShape{4, 4};
  ir::Value y = x;
  y.name = "y";
  const ir::ValueId xi = g.add_value(x), yi = g.add_value(y);
  g.inputs = {xi};
  g.outputs = {yi};
  ir::Node n;
  n.name = "id";
  n.op_type = "Identity";
  n.inputs = {xi};
  n.outputs = {yi};
  g.add_node(n);
  return g;
}

TEST(KernelSelection, PicksTheFastestAndRemembers) {
  ChoiceBackend be;
  TimingCache cache;
  ir::Graph g = identity_graph();
  auto s1 = builder::select_kernels(g, be, &cache);
  EXPECT_EQ(s1.nodes, 1);
  EXPECT_EQ(s1.timed, 1);
  EXPECT_EQ(g.nodes[0].attr_s("kiln.kernel", ""), "fast");
  const auto timings = cache.lookup(builder::kernel_signature(g, g.nodes[0]), "test-device");
  ASSERT_EQ(timings.size(), 2u);  // the refusing candidate is not recorded
  EXPECT_EQ(timings[0].candidate, "fast");

  ir::Graph again = identity_graph();
  auto s2 = builder::select_kernels(again, be, &cache);
  EXPECT_EQ(s2.from_cache, 1);
  EXPECT_EQ(s2.timed, 0);
  EXPECT_EQ(again.nodes[0].attr_s("kiln.kernel", ""), "fast");
}

TEST(KernelSelection, SignatureDependsOnShape) {
  ir::Graph a = identity_graph(), b = identity_graph();
  b.value(0).shape = ir::SymShape{4, 5};
  EXPECT_NE(builder::kernel_signature(a, a.nodes[0]), builder::kernel_signature(b, b.nodes[0]));
}

std::string weighted_model(TempDir& dir, float w0, const std::string& wname = "W") {
  ModelBuilder mb(13);
  mb.input("x", ::onnx::TensorProto::FLOAT, {int64_t{1}, int64_t{2}});
  mb.output("y", ::onnx::TensorProto::FLOAT, {int64_t{1}, int64_t{2}});
  mb.init_floats(wname, {2, 2}, {w0, 0, 0, 1});
  mb.node("MatMul", {"x", wname}, {"y"}, "mm");
  return dir.write("w" + std::to_string(w0) + wname + ".onnx", mb.bytes());
}

TEST(Weightless, StoredWithoutWeightsAndRefitted) {
  TempDir dir;
  const Model model = Model::load(weighted_model(dir, 2.f));
  BuildConfig c;
  c.weightless = true;
  const std::vector<uint8_t> bytes = build_engine(model, c).serialize();
  Engine stored = Engine::deserialize(bytes.data(), bytes.size());
  EXPECT_TRUE(stored.needs_refit());
  EXPECT_KILN_ERROR(Session{stored}, ErrorCode::InvalidArgument, "refit");

  // Refit from a model with other weight values: the engine computes with those.
  const Model other = Model::load(weighted_model(dir, 5.f));
  Session s(stored.refit(other));
  auto out = s.run({{"x", Tensor::from_vector<float>(DataType::Float32, {1, 2}, {1, 1})}});
  EXPECT_FLOAT_EQ(out[0].tensor.data<float>()[0], 5.f);
  EXPECT_FLOAT_EQ(out[0].tensor.data<float>()[1], 1.f);
}

TEST(Weightless, RefitMismatchesAreClearErrors) {
  TempDir dir;
  BuildConfig c;
  c.weightless = true;
  const std::vector<uint8_t> bytes = build_engine(Model::load(weighted_model(dir, 2.f)), c).serialize();
  Engine stored = Engine::deserialize(bytes.data(), bytes.size());
  EXPECT_KILN_ERROR(stored.refit(Model::load(weighted_model(dir, 2.f, "V"))), ErrorCode::InvalidArgument,
                    "no weight 'W'");
  ModelBuilder mb(13);
  mb.input("x", ::onnx::TensorProto::FLOAT, {int64_t{1}, int64_t{3}});
  mb.output("y", ::onnx::TensorProto::FLOAT, {int64_t{1}, int64_t{2}});
  mb.init_floats("W", {3, 2}, {1, 2, 3, 4, 5, 6});
  mb.node("MatMul", {"x", "W"}, {"y"}, "mm");
  EXPECT_KILN_ERROR(stored.refit(Model::load(dir.write("bad.onnx", mb.bytes()))), ErrorCode::InvalidArgument,
                    "'W'", "[3,2]", "[2,2]");
}

TEST(Weightless, CacheHitRefitsFromTheModel) {
  TempDir dir;
  DiskEngineCache cache(dir.file("cache"));
  CompileOptions o;
  o.cache = &cache;
  o.build.weightless = true;
  const Model m = Model::load(weighted_model(dir, 3.f));
  EXPECT_FALSE(compile(m, o).cache_hit);
  CompileResult hit = compile(m, o);
  EXPECT_TRUE(hit.cache_hit);
  Session s(hit.engine);
  auto out = s.run({{"x", Tensor::from_vector<float>(DataType::Float32, {1, 2}, {1, 0})}});
  EXPECT_FLOAT_EQ(out[0].tensor.data<float>()[0], 3.f);
}

}  // namespace
}  // namespace kiln::test
