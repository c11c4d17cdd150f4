// An engine's constants in one device's memory: uploaded once per engine and
// device, and shared by every Session and every input shape on that device
// (a per-shape context only adds the constants its own specialization folded).
//
// Weight streaming (engines built with BuildConfig::weight_streaming): a
// budget bounds the device bytes the weights take. The weights device nodes
// read, in the order the graph first reads them, are resident while they fit;
// the rest stay in page-locked host memory, and the execution context copies
// each into a staging buffer just before the node that reads it. The budget
// is the engine's on that device (as TensorRT's), so every Session of it sees
// a change; generation() tells contexts to look again. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <unordered_set>
#include <vector>

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
  // The device copy of one of the engine's constants, uploaded on first use;
  // undefined when it streams (not resident under the budget).
  Tensor get(const Tensor& host);
  size_t device_bytes() const;  // resident now
  backend::Backend& device() const { return m_device; }

  bool streaming() const { return m_streaming; }
  // -1: every weight resident. kiln::Error(InvalidArgument) for an engine not
  // built for weight streaming.
  void set_budget(int64_t bytes);
  int64_t budget() const;
  size_t streamable_bytes() const { return m_streamable_bytes; }
  uint64_t generation() const;
  // The page-locked host copy of a weight, made on first use.
  Tensor pinned(const Tensor& host);

 private:
  void place_locked();  // the resident set for the budget

  std::shared_ptr<const detail::EngineData> m_engine;  // keeps the host data the keys point into
  backend::Backend& m_device;
  std::unordered_set<const void*> m_engine_constants;
  bool m_streaming = false;
  std::vector<const Tensor*> m_order;  // weights device nodes read, in first-read order
  size_t m_streamable_bytes = 0;
  mutable std::mutex m_mutex;
  int64_t m_budget = -1;
  uint64_t m_generation = 0;
  std::unordered_set<const void*> m_resident;
  std::unordered_map<const void*, Tensor> m_uploaded, m_pinned;
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
