#include "runtime/weight_store.h"

#include <algorithm>
#include <cstring>

#include "builder/partition.h"
#include "kiln/error.h"

namespace kiln::runtime {

Tensor upload(const Tensor& host, backend::Backend& device, backend::Stream& stream) {
  Tensor d = device.empty(host.dtype(), host.shape());
  device.copy(d.raw(), d.device(), host.raw(), host.device(), host.nbytes(), stream);
  stream.synchronize();
  return d;
}

WeightStore::WeightStore(std::shared_ptr<const detail::EngineData> engine, backend::Backend& device)
    : m_engine(std::move(engine)), m_device(device), m_streaming(m_engine->weight_streaming) {
  const ir::Graph& g = m_engine->graph;
  for (const ir::Value& v : g.values)
    if (v.constant && v.constant->raw()) m_engine_constants.insert(v.constant->raw());
  std::unordered_set<const void*> seen;
  for (const ir::Node& n : g.nodes) {
    if (builder::runs_on_host(n, device)) continue;
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      if (n.inputs[k] == ir::k_no_value || device.host_input(n, k)) continue;
      const ir::Value& v = g.value(n.inputs[k]);
      if (!v.constant || !seen.insert(v.constant->raw()).second) continue;
      m_order.push_back(&*v.constant);
      m_streamable_bytes += v.constant->nbytes();
    }
  }
  place_locked();
}

void WeightStore::place_locked() {
  m_resident.clear();
  size_t used = 0;
  for (const Tensor* w : m_order) {
    if (m_budget >= 0 && used + w->nbytes() > static_cast<size_t>(m_budget)) continue;
    used += w->nbytes();
    m_resident.insert(w->raw());
  }
  // Weights that stream now give their device copies up (contexts drop
  // theirs when they see the new generation).
  for (auto it = m_uploaded.begin(); it != m_uploaded.end();) {
    if (m_streaming && !m_resident.count(it->first)) {
      m_bytes -= std::min(m_bytes, it->second.nbytes());
      it = m_uploaded.erase(it);
    } else {
      ++it;
    }
  }
  ++m_generation;
}

Tensor WeightStore::get(const Tensor& host) {
  std::lock_guard<std::mutex> lock(m_mutex);
  if (m_streaming && m_engine_constants.count(host.raw()) && !m_resident.count(host.raw())) {
    // Constants no device node reads in the engine's own graph (a
    // specialization's) are resident; the rest of a streamed set streams.
    bool listed = false;
    for (const Tensor* w : m_order) listed |= w->raw() == host.raw();
    if (listed) return Tensor();
  }
  auto it = m_uploaded.find(host.raw());
  if (it != m_uploaded.end()) return it->second;
  if (!m_stream) m_stream = m_device.create_stream();
  Tensor d = upload(host, m_device, *m_stream);
  m_bytes += host.nbytes();
  m_uploaded.emplace(host.raw(), d);
  return d;
}

size_t WeightStore::device_bytes() const {
  std::lock_guard<std::mutex> lock(m_mutex);
  return m_bytes;
}

void WeightStore::set_budget(int64_t bytes) {
  if (!m_streaming)
    throw Error(ErrorCode::InvalidArgument, "the engine was not built for weight streaming (BuildConfig::weight_streaming)");
  std::lock_guard<std::mutex> lock(m_mutex);
  if (bytes == m_budget) return;
  m_budget = bytes < 0 ? -1 : bytes;
  place_locked();
}

int64_t WeightStore::budget() const {
  std::lock_guard<std::mutex> lock(m_mutex);
  return m_budget;
}

uint64_t WeightStore::generation() const {
  std::lock_guard<std::mutex> lock(m_mutex);
  return m_generation;
}

Tensor WeightStore::pinned(const Tensor& host) {
  std::lock_guard<std::mutex> lock(m_mutex);
  Tensor& p = m_pinned[host.raw()];
  if (!p.defined()) {
    p = m_device.empty_pinned(host.dtype(), host.shape());
    if (host.nbytes()) std::memcpy(p.raw(), host.raw(), host.nbytes());
  }
  return p;
}

std::shared_ptr<WeightStore> weights_for(const std::shared_ptr<const detail::EngineData>& engine,
                                         backend::Backend& device) {
  static std::mutex mutex;
  static std::map<std::pair<const void*, std::string>, std::weak_ptr<WeightStore>> stores;
  std::lock_guard<std::mutex> lock(mutex);
  for (auto it = stores.begin(); it != stores.end();) it = it->second.expired() ? stores.erase(it) : std::next(it);
  auto& slot = stores[{engine.get(), device.device().str()}];
  if (auto s = slot.lock()) return s;
  auto s = std::make_shared<WeightStore>(engine, device);
  slot = s;
  return s;
}

}  // namespace kiln::runtime
