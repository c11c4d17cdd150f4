#include "kiln/engine.h"

#include <filesystem>
#include <fstream>

#include "core/atomic_file.h"
#include "core/file_util.h"
#include "engine/engine_data.h"
#include "engine/format.h"
#include "kiln/error.h"

namespace kiln {

namespace {
const detail::EngineData& checked(const std::shared_ptr<const detail::EngineData>& d) {
  if (!d) throw Error(ErrorCode::InvalidArgument, "use of an empty kiln::Engine");
  return *d;
}
}  // namespace

std::vector<uint8_t> Engine::serialize() const { return engine::write_engine(checked(m_data)); }

Engine Engine::deserialize(const uint8_t* data, size_t size, const std::string& label) {
  return Engine(std::make_shared<const detail::EngineData>(engine::read_engine(data, size, label)));
}

void Engine::save(const std::string& path) const {
  const std::vector<uint8_t> bytes = serialize();
  write_file_atomic(path, bytes);
}

Engine Engine::load(const std::string& path) {
  const std::string bytes = read_file(path, "engine", uint64_t{1} << 40);
  return deserialize(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), path);
}

const std::vector<TensorSpec>& Engine::inputs() const { return checked(m_data).inputs; }
const std::vector<TensorSpec>& Engine::outputs() const { return checked(m_data).outputs; }
const std::string& Engine::backend() const { return checked(m_data).backend; }
const std::string& Engine::fingerprint() const { return checked(m_data).fingerprint; }
const std::string& Engine::producer() const { return checked(m_data).producer; }
std::vector<NodePlacement> Engine::host_nodes() const {
  std::vector<NodePlacement> out;
  for (const ir::Node& n : checked(m_data).graph.nodes) {
    const ir::Attribute* d = n.attr("kiln.device");
    if (!d || d->s != "cpu") continue;
    const ir::Attribute* why = n.attr("kiln.fallback");
    out.push_back({n.name, n.domain.empty() ? n.op_type : n.domain + "." + n.op_type,
                   why ? why->s : "shape computation, read on the host"});
  }
  return out;
}

size_t Engine::num_nodes() const { return checked(m_data).graph.nodes.size(); }
bool Engine::weightless() const { return checked(m_data).weightless; }
bool Engine::needs_output_allocator() const { return checked(m_data).needs_output_allocator; }
size_t Engine::arena_bytes() const { return checked(m_data).plan.arena_bytes; }

size_t Engine::weights_bytes() const {
  size_t n = 0;
  for (const auto& v : checked(m_data).graph.values)
    if (v.constant) n += v.constant->nbytes();
  return n;
}

}  // namespace kiln
