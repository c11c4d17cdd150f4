// An engine's constants in one device's memory: uploaded once per engine and
// device, and shared by every Session and every input shape on that device
// (a per-shape context only adds the constants its own specialization folded).
// Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "backends/backend.h"
#include "engine/engine_data.h"

namespace kiln::runtime {

class WeightStore {
 public:
  WeightStore(std::shared_ptr<const detail::EngineData> engine, backend::Backend& device);
  WeightStore(const WeightStore&) = delete;
  WeightStore& operator=(const WeightStore&) = delete;

  // Whether `host` is one of the engine's constants (by storage).
  bool holds(const Tensor& host) const { return m_engine_constants.count(host.raw()) > 0; }
  // The device copy of one of the engine's constants, uploaded on first use.
  Tensor get(const Tensor& host);
  size_t device_bytes() const;
  backend::Backend& device() const { return m_device; }

 private:
  std::shared_ptr<const detail::EngineData> m_engine;  // keeps the host data the keys point into
  backend::Backend& m_device;
  std::unordered_set<const void*> m_engine_constants;
  mutable std::mutex m_mutex;
  std::unordered_map<const void*, Tensor> m_uploaded;
  std::unique_ptr<backend::Stream> m_stream;
  size_t m_bytes = 0;
};

// The store of (engine, device), made on first use and shared while any
// Session holds it.
std::shared_ptr<WeightStore> weights_for(const std::shared_ptr<const detail::EngineData>& engine,
                                         backend::Backend& device);

// Uploads a host tensor to `device` (a fresh allocation), waiting for the copy.
Tensor upload(const Tensor& host, backend::Backend& device, backend::Stream& stream);

}  // namespace kiln::runtime
