#include "runtime/weight_store.h"

#include "kiln/error.h"

namespace kiln::runtime {

Tensor upload(const Tensor& host, backend::Backend& device, backend::Stream& stream) {
  Tensor d = device.empty(host.dtype(), host.shape());
  device.copy(d.raw(), d.device(), host.raw(), host.device(), host.nbytes(), stream);
  stream.synchronize();
  return d;
}

WeightStore::WeightStore(std::shared_ptr<const detail::EngineData> engine, backend::Backend& device)
    : m_engine(std::move(engine)), m_device(device) {
  for (const ir::Value& v : m_engine->graph.values)
    if (v.constant && v.constant->raw()) m_engine_constants.insert(v.constant->raw());
}

Tensor WeightStore::get(const Tensor& host) {
  std::lock_guard<std::mutex> lock(m_mutex);
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
