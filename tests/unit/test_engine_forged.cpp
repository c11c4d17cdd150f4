// Forged engines: a valid engine whose memory plan was edited so that two
// values alive at the same time share memory, with the SHA-256 recomputed
// (what an attacker with write access to a shared cache can do). Loading it
// must fail with kiln::Error(Corrupt) naming the plan (engine::check_plan),
// while a legitimate in-place pair (FusedConv's output over its residual Z)
// still loads. Layout: src/engine/format.h.
#include <gtest/gtest.h>

#include <cstring>

#include "core/bytes.h"
#include "core/sha256.h"
#include "engine/engine_data.h"
#include "engine/format.h"
#include "engine/memory_plan.h"
#include "kiln/builder.h"
#include "kiln/session.h"
#include "onnx_test_util.h"

namespace kiln::test {
namespace {

constexpr int32_t k_f32 = ::onnx::TensorProto::FLOAT;

// Where things are in a serialized engine (format.h's grammar).
struct Layout {
  size_t header_bytes = 0;  // hashed header: everything before the digest
  size_t digest = 0;        // offset of the SHA-256
  size_t payload = 0;       // offset of the payload
  std::map<ir::ValueId, size_t> slot_offset;  // value -> offset of its slot's `offset:u64`
};

void skip_dims(ByteReader& r) {
  const uint64_t n = r.get<uint64_t>();
  r.take(n * 8);
}

Layout parse(const std::vector<uint8_t>& bytes) {
  Layout l;
  ByteReader r(bytes.data(), bytes.size(), "forge");
  r.take(8);              // magic
  r.get<uint32_t>();      // format_version
  for (int i = 0; i < 3; ++i) r.get_str();  // producer, backend, fingerprint
  r.get<uint64_t>();      // payload_bytes
  l.header_bytes = l.digest = r.pos();
  r.take(32);
  l.payload = r.pos();
  const uint32_t flags = r.get<uint32_t>();
  EXPECT_TRUE(flags & 1u) << "the engine must have a plan";
  r.get<int32_t>();  // optimization_level
  r.get<int32_t>();  // cpu_threads
  for (uint64_t i = 0, n = r.get<uint64_t>(); i < n; ++i) r.get_str();  // config
  for (int io = 0; io < 2; ++io)                                        // inputs, outputs
    for (uint64_t i = 0, n = r.get<uint64_t>(); i < n; ++i) {
      r.get_str();
      r.get<int32_t>();
      for (int d = 0; d < 4; ++d) skip_dims(r);
    }
  for (int i = 0; i < 3; ++i) r.get<uint64_t>();  // arena_bytes, host_arena_bytes, naive_bytes
  for (uint64_t i = 0, n = r.get<uint64_t>(); i < n; ++i) {
    const ir::ValueId v = r.get<int32_t>();
    r.get<uint8_t>();  // arena
    l.slot_offset[v] = r.pos();
    r.get<uint64_t>();  // offset
    r.get<uint64_t>();  // bytes
  }
  return l;
}

void rehash(std::vector<uint8_t>& bytes, const Layout& l) {
  Sha256 h;
  h.update(bytes.data(), l.header_bytes);
  h.update(bytes.data() + l.payload, bytes.size() - l.payload);
  const auto digest = h.finish();
  std::memcpy(bytes.data() + l.digest, digest.data(), digest.size());
}

// x [2, 8] → Relu → a → Neg → b → Add(a, b) → y: `a` stays alive while b is written.
std::string chain_model(TempDir& dir) {
  ModelBuilder mb(13);
  mb.input("x", k_f32, {int64_t{2}, int64_t{8}});
  mb.output("y", k_f32, {int64_t{2}, int64_t{8}});
  mb.node("Relu", {"x"}, {"a"}, "relu");
  mb.node("Neg", {"a"}, {"b"}, "neg");
  mb.node("Add", {"a", "b"}, {"y"}, "add");
  return dir.write("chain.onnx", mb.bytes());
}

TEST(ForgedEngine, LiveSlotsMadeToOverlapAreRefusedEvenWithAValidChecksum) {
  TempDir dir;
  const Engine built = build_engine(Model::load(chain_model(dir)));
  const std::vector<uint8_t> good = built.serialize();
  const Layout l = parse(good);
  const engine::MemoryPlan& plan = built.data()->plan;
  ASSERT_EQ(l.slot_offset.size(), plan.slots.size());
  const ir::Graph& g = built.data()->graph;

  // The unpatched bytes, re-hashed, load: the forging itself is sound.
  std::vector<uint8_t> same = good;
  rehash(same, l);
  EXPECT_NO_THROW(Engine::deserialize(same.data(), same.size(), "same"));

  // Every pair of planned values alive at one time, not an in-place group:
  // moving the second onto the first must be refused.
  const engine::Lifetimes life = engine::value_lifetimes(g);
  size_t forged = 0;
  for (const auto& [a, sa] : plan.slots)
    for (const auto& [b, sb] : plan.slots) {
      const size_t ia = static_cast<size_t>(a), ib = static_cast<size_t>(b);
      const bool together = !(life.last[ia] < life.first[ib] || life.last[ib] < life.first[ia]);
      if (a == b || !together || sa.arena != sb.arena || sa.offset == sb.offset || sb.bytes == 0 ||
          sa.offset + sb.bytes > plan.bytes_of(sa.arena))
        continue;
      std::vector<uint8_t> bad = good;
      const uint64_t offset = sa.offset;
      std::memcpy(bad.data() + l.slot_offset.at(b), &offset, 8);
      rehash(bad, l);
      const std::string label = "forged " + g.value(a).name + "/" + g.value(b).name;
      try {
        Engine::deserialize(bad.data(), bad.size(), label);
        ADD_FAILURE() << label << " loaded";
      } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::Corrupt) << e.what();
        // It names the moved value (and whichever value it first collides
        // with: maybe another one sharing `a`'s place in time).
        for (const std::string& needle :
             {label, std::string("memory plan"), "'" + g.value(b).name + "'", std::string("alive at the same time")})
          EXPECT_NE(e.message().find(needle), std::string::npos) << e.what();
      }
      ++forged;
    }
  // x/a, a/b and b/y are alive together at least (in both orders).
  EXPECT_GE(forged, 6u);
}

// x → Relu → z;  Conv(x) + z → Relu → y: fused into FusedConv(x, W, B, Z=z),
// whose output may be written over z (OpSchema::inplace_input).
std::string residual_model(TempDir& dir) {
  ModelBuilder mb(13);
  mb.input("x", k_f32, {int64_t{1}, int64_t{4}, int64_t{8}, int64_t{8}});
  mb.output("y", k_f32, {int64_t{1}, int64_t{4}, int64_t{8}, int64_t{8}});
  std::vector<float> w(4 * 4);
  for (size_t i = 0; i < w.size(); ++i) w[i] = 0.25f * static_cast<float>(i % 5) - 0.5f;
  mb.init_floats("W", {4, 4, 1, 1}, w);
  mb.init_floats("B", {4}, {0.1f, -0.2f, 0.3f, -0.4f});
  mb.node("Relu", {"x"}, {"z"}, "relu_z");
  mb.node("Conv", {"x", "W", "B"}, {"c"}, "conv");
  mb.node("Add", {"c", "z"}, {"s"}, "add");
  mb.node("Relu", {"s"}, {"y"}, "relu_y");
  return dir.write("residual.onnx", mb.bytes());
}

TEST(ForgedEngine, ALegitimateInPlacePairStillLoads) {
  TempDir dir;
  const Model model = Model::load(residual_model(dir));
  const Engine built = build_engine(model);
  const ir::Graph& g = built.data()->graph;
  const engine::MemoryPlan& plan = built.data()->plan;
  // The plan really shares Z's buffer with the fused conv's output...
  bool shared = false;
  for (const ir::Node& n : g.nodes)
    if (n.op_type == "FusedConv" && n.has_input(3) && plan.slots.count(n.inputs[3]) && plan.slots.count(n.outputs[0]))
      shared |= plan.slots.at(n.inputs[3]).offset == plan.slots.at(n.outputs[0]).offset;
  ASSERT_TRUE(shared) << "no FusedConv writing over its Z in this engine; the test lost its subject";
  // ...and that engine, saved and read back (through check_plan), loads and runs.
  const std::vector<uint8_t> bytes = built.serialize();
  Engine loaded;
  ASSERT_NO_THROW(loaded = Engine::deserialize(bytes.data(), bytes.size(), "residual"));
  Tensor x = Tensor::empty(DataType::Float32, {1, 4, 8, 8});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = static_cast<float>(i % 7) - 3;
  Session a(built), b(loaded);
  const auto ya = a.run({{"x", x}}), yb = b.run({{"x", x}});
  ASSERT_EQ(ya.size(), 1u);
  EXPECT_EQ(0, std::memcmp(ya[0].tensor.raw(), yb[0].tensor.raw(), ya[0].tensor.nbytes()));
}

}  // namespace
}  // namespace kiln::test
