#include "engine/format.h"

#include <cstring>

#include "core/bytes.h"
#include "core/sha256.h"
#include "ir/serialize.h"

namespace kiln::engine {

namespace {

void put_dims(ByteWriter& w, const std::vector<int64_t>& d) {
  w.put<uint64_t>(d.size());
  for (int64_t v : d) w.put<int64_t>(v);
}

std::vector<int64_t> get_dims(ByteReader& r) {
  std::vector<int64_t> d(r.get_count(8));
  for (auto& v : d) v = r.get<int64_t>();
  return d;
}

void put_specs(ByteWriter& w, const std::vector<TensorSpec>& specs) {
  w.put<uint64_t>(specs.size());
  for (const TensorSpec& s : specs) {
    w.put_str(s.name);
    w.put<int32_t>(static_cast<int32_t>(s.dtype));
    put_dims(w, s.shape);
    put_dims(w, s.min);
    put_dims(w, s.opt);
    put_dims(w, s.max);
  }
}

std::vector<TensorSpec> get_specs(ByteReader& r) {
  std::vector<TensorSpec> specs(r.get_count(40));
  for (TensorSpec& s : specs) {
    s.name = r.get_str();
    s.dtype = static_cast<DataType>(r.get<int32_t>());
    s.shape = get_dims(r);
    s.min = get_dims(r);
    s.opt = get_dims(r);
    s.max = get_dims(r);
  }
  return specs;
}

}  // namespace

std::vector<uint8_t> write_engine(const detail::EngineData& e) {
  ByteWriter p;
  p.put<uint32_t>((e.plan_valid ? 1u : 0u) | (e.weightless ? 2u : 0u) | (e.needs_output_allocator ? 4u : 0u) |
                    (e.weight_streaming ? 8u : 0u));
  p.put<int32_t>(e.optimization_level);
  p.put<int32_t>(e.cpu_threads);
  p.put<uint64_t>(e.config.size());
  for (const auto& c : e.config) p.put_str(c);
  put_specs(p, e.inputs);
  put_specs(p, e.outputs);
  if (e.plan_valid) {
    p.put<uint64_t>(e.plan.arena_bytes);
    p.put<uint64_t>(e.plan.host_arena_bytes);
    p.put<uint64_t>(e.plan.naive_bytes);
    p.put<uint64_t>(e.plan.slots.size());
    for (const auto& [v, slot] : e.plan.slots) {
      p.put<int32_t>(v);
      p.put<uint8_t>(static_cast<uint8_t>(slot.arena));
      p.put<uint64_t>(slot.offset);
      p.put<uint64_t>(slot.bytes);
    }
  }
  ir::SerializeOptions so;
  if (e.weightless) so.strip = &e.weights;
  ir::write_graph(p, e.graph, so);

  ByteWriter w;
  w.put_bytes(k_magic, sizeof(k_magic));
  w.put<uint32_t>(k_format_version);
  w.put_str(e.producer);
  w.put_str(e.backend);
  w.put_str(e.fingerprint);
  w.put<uint64_t>(p.size());
  Sha256 h;
  h.update(w.bytes().data(), w.size());
  h.update(p.bytes().data(), p.size());
  const auto digest = h.finish();
  w.put_bytes(digest.data(), digest.size());
  w.put_bytes(p.bytes().data(), p.size());
  return std::move(w.bytes());
}

detail::EngineData read_engine(const uint8_t* data, size_t size, const std::string& label, bool verify_checksum) {
  ByteReader r(data, size, label);
  if (size < sizeof(k_magic) || std::memcmp(r.take(sizeof(k_magic)), k_magic, sizeof(k_magic)) != 0)
    throw Error(ErrorCode::Corrupt, label + ": not a kiln engine (bad magic)");
  const uint32_t version = r.get<uint32_t>();
  if (version != k_format_version)
    throw Error(ErrorCode::Incompatible, label + ": engine format version " + std::to_string(version) +
                                             ", this kiln reads version " + std::to_string(k_format_version) +
                                             "; rebuild the engine");
  detail::EngineData e;
  e.producer = r.get_str();
  e.backend = r.get_str();
  e.fingerprint = r.get_str();
  const uint64_t payload_bytes = r.get<uint64_t>();
  const size_t header_bytes = r.pos();
  const uint8_t* digest = r.take(32);
  if (payload_bytes != r.remaining())
    throw Error(ErrorCode::Corrupt, label + ": payload is " + std::to_string(r.remaining()) +
                                        " bytes, header says " + std::to_string(payload_bytes));
  const uint8_t* payload = r.take(payload_bytes);
  Sha256 h;
  if (verify_checksum) {
    h.update(data, header_bytes);
    h.update(payload, payload_bytes);
  }
  if (verify_checksum && std::memcmp(h.finish().data(), digest, 32) != 0)
    throw Error(ErrorCode::Corrupt, label + ": checksum mismatch (the file is damaged)");

  ByteReader p(payload, payload_bytes, label);
  const uint32_t flags = p.get<uint32_t>();
  e.plan_valid = flags & 1u;
  e.weightless = flags & 2u;
  e.needs_output_allocator = flags & 4u;
  e.weight_streaming = flags & 8u;
  e.optimization_level = p.get<int32_t>();
  e.cpu_threads = p.get<int32_t>();
  if (e.optimization_level < 0 || e.optimization_level > 3 || e.cpu_threads < 0) p.fail("implausible build settings");
  e.config.resize(p.get_count(4));
  for (auto& c : e.config) c = p.get_str();
  e.inputs = get_specs(p);
  e.outputs = get_specs(p);
  if (e.plan_valid) {
    e.plan.arena_bytes = p.get<uint64_t>();
    e.plan.host_arena_bytes = p.get<uint64_t>();
    e.plan.naive_bytes = p.get<uint64_t>();
    for (uint64_t i = 0, n = p.get_count(21); i < n; ++i) {
      const ir::ValueId v = p.get<int32_t>();
      const uint8_t arena = p.get<uint8_t>();
      if (arena > 1) p.fail("memory plan slot in an unknown arena");
      engine::MemoryPlan::Slot slot;
      slot.arena = static_cast<engine::MemoryPlan::Arena>(arena);
      slot.offset = p.get<uint64_t>();
      slot.bytes = p.get<uint64_t>();
      if (!e.plan.slots.emplace(v, slot).second) p.fail("memory plan names a value twice");
    }
  }
  e.graph = ir::read_graph(p, &e.weights);
  if (p.remaining()) p.fail("trailing bytes after the graph");
  if (e.plan_valid) engine::check_plan(e.graph, e.plan, label);
  return e;
}

}  // namespace kiln::engine
