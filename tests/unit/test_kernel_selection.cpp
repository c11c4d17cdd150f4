// Kernel choice by timing, through the timing cache; weightless engines and refit.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "backends/cpu/cpu_backend.h"
#include "builder/kernel_selection.h"
#include "kiln/builder.h"
#include "kiln/compile.h"
#include "kiln/session.h"
#include "builder/memory_planner.h"
#include "runtime/execution_context.h"
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

// A burst of load: every kernel run in the first 40 ms after the first call
// takes 10 ms longer, whichever candidate it is.
struct Burst {
  std::chrono::steady_clock::time_point end{};
  void delay() {
    const auto now = std::chrono::steady_clock::now();
    if (end == std::chrono::steady_clock::time_point{}) end = now + std::chrono::milliseconds(40);
    if (now < end) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
};
Burst g_burst;
void burst_fast_kernel(backend::KernelContext& ctx) { g_burst.delay(); copy_kernel(ctx); }
void burst_slow_kernel(backend::KernelContext& ctx) { g_burst.delay(); slow_copy_kernel(ctx); }

int g_hopeless_runs = 0;
void hopeless_kernel(backend::KernelContext& ctx) {
  ++g_hopeless_runs;
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  copy_kernel(ctx);
}

using Candidates = std::vector<std::pair<void (*)(backend::KernelContext&), std::string>>;

// A CPU backend whose "Identity" has candidates of known speed.
class ChoiceBackend : public backend::Backend {
 public:
  explicit ChoiceBackend(const Candidates& candidates = {{slow_copy_kernel, "slow"},
                                                         {copy_kernel, "fast"},
                                                         {failing_kernel, "broken"}}) {
    for (const auto& [fn, name] : candidates) m_kernels.add_fn("Identity", fn, name);
  }
  std::string name() const override { return "cpu"; }
  Device device() const override { return {}; }
  std::string fingerprint() const override { return "test-device"; }
  backend::Allocator& allocator() override { return backend::cpu_backend().allocator(); }
  std::unique_ptr<backend::Stream> create_stream(const backend::StreamConfig& c) override {
    return backend::cpu_backend().create_stream(c);
  }
  void copy(void* d, const Device& dd, const void* s, const Device& sd, size_t n, backend::Stream& st) override {
    backend::cpu_backend().copy(d, dd, s, sd, n, st);
  }
  const backend::KernelRegistry& kernels() const override { return m_kernels; }
  backend::KernelRegistry& registry() { return m_kernels; }

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
  const auto timings = cache.lookup(builder::kernel_signature(g, g.nodes[0], be.kernels()), builder::timing_device(be, 0));
  ASSERT_EQ(timings.size(), 2u);  // the refusing candidate is not recorded
  EXPECT_EQ(timings[0].candidate, "fast");

  ir::Graph again = identity_graph();
  auto s2 = builder::select_kernels(again, be, &cache);
  EXPECT_EQ(s2.from_cache, 1);
  EXPECT_EQ(s2.timed, 0);
  EXPECT_EQ(again.nodes[0].attr_s("kiln.kernel", ""), "fast");
}

// A speed switch that changes which candidate wins without changing what an
// engine may run keys the timing cache (a run under it does not reuse the
// winners timed without it) but not the engine fingerprint (engines stay
// loadable either way).
TEST(KernelSelection, SpeedSwitchesKeyTheTimingCacheNotTheEngine) {
  backend::CpuBackend cpu;
  unsetenv("KILN_DNNL_CONV_ANY");
  const std::string plain = builder::timing_device(cpu, 0), fingerprint = cpu.fingerprint();
  setenv("KILN_DNNL_CONV_ANY", "1", 1);
  const std::string forced = builder::timing_device(cpu, 0);
  EXPECT_NE(forced, plain);
  EXPECT_NE(forced.find("KILN_DNNL_CONV_ANY=1"), std::string::npos) << forced;
  EXPECT_EQ(cpu.fingerprint(), fingerprint);
  setenv("KILN_DNNL_CONV_ANY", "0", 1);
  EXPECT_NE(builder::timing_device(cpu, 0).find("KILN_DNNL_CONV_ANY=0"), std::string::npos);
  unsetenv("KILN_DNNL_CONV_ANY");
  EXPECT_EQ(builder::timing_device(cpu, 0), plain);
}

// Timing one candidate after the other would measure the fast one inside the
// burst and the slow one after it, and persist the wrong choice.
TEST(KernelSelection, ABurstOfLoadDoesNotCrownTheSlowerCandidate) {
  ChoiceBackend be({{burst_fast_kernel, "fast"}, {burst_slow_kernel, "slow"}});
  ir::Graph g = identity_graph();
  builder::select_kernels(g, be, nullptr);
  EXPECT_EQ(g.nodes[0].attr_s("kiln.kernel", ""), "fast");
}

// A candidate 10x slower than the best and over 5 ms is not timed again:
// slow reference convolutions made cold builds take seconds.
TEST(KernelSelection, HopelessCandidatesAreNotRetimed) {
  ChoiceBackend be({{copy_kernel, "fast"}, {hopeless_kernel, "hopeless"}});
  TimingCache cache;
  ir::Graph g = identity_graph();
  g_hopeless_runs = 0;
  builder::select_kernels(g, be, &cache);
  EXPECT_EQ(g.nodes[0].attr_s("kiln.kernel", ""), "fast");
  EXPECT_EQ(g_hopeless_runs, 2);  // warm-up and one timed run
  EXPECT_EQ(cache.lookup(builder::kernel_signature(g, g.nodes[0], be.kernels()), builder::timing_device(be, 0)).size(), 2u);  // still recorded
}

// A timing cache (from another kiln build, say) whose best candidate now
// refuses the node: the node is chosen again rather than left unrunnable
// (here untimed, one candidate being left).
TEST(KernelSelection, ACachedChoiceThatNowRefusesIsRetimed) {
  ChoiceBackend be({{copy_kernel, "fast"}});
  be.registry().add(
      "Identity", [](const ir::Node& n, const ir::Graph&) -> std::unique_ptr<backend::Kernel> {
        throw Error(ErrorCode::Unsupported, n.label() + ": not this one");
      },
      "picky");
  ir::Graph g = identity_graph();
  TimingCache cache;
  cache.record(builder::kernel_signature(g, g.nodes[0], be.kernels()), builder::timing_device(be, 0), "picky", 1e-6);
  const auto stats = builder::select_kernels(g, be, &cache);
  EXPECT_EQ(stats.from_cache, 0);
  EXPECT_EQ(stats.single, 1);  // "fast" alone takes it: chosen without timing
  EXPECT_EQ(stats.timed, 0);
  EXPECT_EQ(g.nodes[0].attr_s("kiln.kernel", ""), "fast");
  // Nothing was timed, so nothing new is remembered: only the stale entry.
  const auto timings = cache.lookup(builder::kernel_signature(g, g.nodes[0], be.kernels()), builder::timing_device(be, 0));
  ASSERT_EQ(timings.size(), 1u);
  EXPECT_EQ(timings[0].candidate, "picky");
}

// An engine whose recorded choice refuses the node runs it on the preferred
// candidate (with a warning) instead of failing.
TEST(KernelSelection, ContextFallsBackWhenTheChoiceRefuses) {
  ChoiceBackend be{Candidates{}};
  be.registry().add(
      "Identity", [](const ir::Node& n, const ir::Graph&) -> std::unique_ptr<backend::Kernel> {
        throw Error(ErrorCode::Unsupported, n.label() + ": not this one");
      },
      "picky");
  be.registry().add_fn("Identity", copy_kernel, "fast");  // last: the preferred one
  auto g = std::make_shared<ir::Graph>(identity_graph());
  ir::Attribute a;
  a.kind = ir::Attribute::Kind::String;
  a.s = "picky";
  g->nodes[0].attrs["kiln.kernel"] = a;
  runtime::ExecutionContext ctx(g, builder::plan_memory(*g, be), be, nullptr, {});
  const Tensor x = Tensor::from_vector<float>(DataType::Float32, {4, 4}, std::vector<float>(16, 2.5f));
  ctx.bind_input(0, x);
  ctx.run();
  const std::vector<Tensor> out = ctx.outputs();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FLOAT_EQ(out[0].data<float>()[15], 2.5f);
}

TEST(KernelSelection, SignatureDependsOnShape) {
  ir::Graph a = identity_graph(), b = identity_graph();
  b.value(0).shape = ir::SymShape{4, 5};
  ChoiceBackend be;
  EXPECT_NE(builder::kernel_signature(a, a.nodes[0], be.kernels()), builder::kernel_signature(b, b.nodes[0], be.kernels()));
  // A new candidate for the op: a new key, so it gets timed.
  ChoiceBackend more({{copy_kernel, "fast"}, {slow_copy_kernel, "slow"}, {copy_kernel, "newer"}});
  EXPECT_NE(builder::kernel_signature(a, a.nodes[0], be.kernels()), builder::kernel_signature(a, a.nodes[0], more.kernels()));
}

// y = x @ W with W a 16x16 diagonal (1 KiB: big enough to count as a weight),
// W[0][0] = w0 and 1 elsewhere on the diagonal.
std::string weighted_model(TempDir& dir, float w0, const std::string& wname = "W", int64_t n = 16) {
  ModelBuilder mb(13);
  mb.input("x", ::onnx::TensorProto::FLOAT, {int64_t{1}, n});
  mb.output("y", ::onnx::TensorProto::FLOAT, {int64_t{1}, int64_t{16}});
  std::vector<float> w(static_cast<size_t>(n * 16), 0.f);
  for (int64_t i = 0; i < std::min<int64_t>(n, 16); ++i) w[static_cast<size_t>(i * 16 + i)] = 1.f;
  w[0] = w0;
  mb.init_floats(wname, {n, 16}, w);
  mb.node("MatMul", {"x", wname}, {"y"}, "mm");
  return dir.write("w" + std::to_string(w0) + wname + std::to_string(n) + ".onnx", mb.bytes());
}

Tensor ones(int64_t n) { return Tensor::from_vector<float>(DataType::Float32, {1, n}, std::vector<float>(static_cast<size_t>(n), 1.f)); }

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
  auto out = s.run({{"x", ones(16)}});
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
  EXPECT_KILN_ERROR(stored.refit(Model::load(weighted_model(dir, 2.f, "W", 17))), ErrorCode::InvalidArgument,
                    "'W'", "[17,16]", "[16,16]");
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
  auto out = s.run({{"x", ones(16)}});
  EXPECT_FLOAT_EQ(out[0].tensor.data<float>()[0], 3.f);
  // Another model with the same structure and other weights: same key, and
  // the hit computes with the new weights.
  CompileResult other = compile(Model::load(weighted_model(dir, 7.f)), o);
  EXPECT_TRUE(other.cache_hit);
  Session s2(other.engine);
  EXPECT_FLOAT_EQ(s2.run({{"x", ones(16)}})[0].tensor.data<float>()[0], 7.f);
}

// Conv + BatchNormalization: a full build folds BN into the conv weights; a
// weightless build must not, or a refit with other weights would be wrong.
std::string conv_bn_model(TempDir& dir, float w) {
  ModelBuilder mb(13);
  mb.input("x", ::onnx::TensorProto::FLOAT, {int64_t{1}, int64_t{16}, int64_t{4}, int64_t{4}});
  mb.output("y", ::onnx::TensorProto::FLOAT, {int64_t{1}, int64_t{16}, int64_t{4}, int64_t{4}});
  std::vector<float> k(16 * 16, 0.f);
  for (int c = 0; c < 16; ++c) k[static_cast<size_t>(c * 16 + c)] = w + 0.1f * c;
  mb.init_floats("k", {16, 16, 1, 1}, k);
  std::vector<float> scale(16), bias(16), mean(16), var(16);
  for (int c = 0; c < 16; ++c) { scale[c] = 1.f + c; bias[c] = 0.5f; mean[c] = 0.25f; var[c] = 4.f; }
  mb.init_floats("scale", {16}, scale);
  mb.init_floats("bias", {16}, bias);
  mb.init_floats("mean", {16}, mean);
  mb.init_floats("var", {16}, var);
  mb.node("Conv", {"x", "k"}, {"c"}, "conv");
  mb.node("BatchNormalization", {"c", "scale", "bias", "mean", "var"}, {"y"}, "bn");
  return dir.write("convbn" + std::to_string(w) + ".onnx", mb.bytes());
}

TEST(Weightless, RefitIsCorrectThroughFoldablePatterns) {
  TempDir dir;
  Tensor x = Tensor::empty(DataType::Float32, {1, 16, 4, 4});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = 0.01f * static_cast<float>(i % 37);
  BuildConfig weightless;
  weightless.weightless = true;
  const std::vector<uint8_t> bytes = build_engine(Model::load(conv_bn_model(dir, 1.f)), weightless).serialize();
  Engine stored = Engine::deserialize(bytes.data(), bytes.size());
  const Model other = Model::load(conv_bn_model(dir, 3.f));
  Session refitted(stored.refit(other));
  Session full(build_engine(other));  // BN folded: the reference
  const Tensor a = refitted.run({{"x", x}})[0].tensor, b = full.run({{"x", x}})[0].tensor;
  for (int64_t i = 0; i < a.numel(); ++i) EXPECT_NEAR(a.data<float>()[i], b.data<float>()[i], 1e-4) << i;
}

}  // namespace
}  // namespace kiln::test
