#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/env.h"
#include "core/log.h"
#include "kiln/error.h"
#include "runtime/graph_cache_impl.h"

namespace kiln {

namespace runtime {

GraphEntry::~GraphEntry() {
  ctx.reset();
  if (trim_on_free && allocator) {
    try {
      allocator->trim();
    } catch (const std::exception& e) {
      log_warning(std::string("trimming device memory: ") + e.what());
    }
  }
}

}  // namespace runtime

std::string GraphKey::str() const {
  std::string s;
  for (size_t i = 0; i < shapes.size(); ++i) {
    if (i) s += ", ";
    s += shape_str(shapes[i]) + ":" + std::string(dtype_name(i < dtypes.size() ? dtypes[i] : DataType::Undefined));
  }
  return s + " @ " + device.str();
}

std::string_view capture_mode_name(CaptureMode mode) {
  switch (mode) {
    case CaptureMode::None: return "none";
    case CaptureMode::Whole: return "whole";
    case CaptureMode::Segments: return "segments";
  }
  return "?";
}

void GraphCache::Impl::bind(const std::shared_ptr<const void>& engine_data) {
  std::lock_guard<std::mutex> lock(mutex);
  // Entries keep their engine alive, so a live bound engine is never
  // mistaken for a new one at the same address.
  const std::shared_ptr<const void> bound_engine = engine.lock();
  if (!bound || (!bound_engine && lru.empty() && capturing.empty())) {
    engine = engine_data;
    bound = true;
    return;
  }
  if (bound_engine != engine_data)
    throw Error(ErrorCode::InvalidArgument,
                "this graph cache serves another engine's sessions; give each engine its own GraphCache (never one "
                "model's graph replayed for another's input)");
}

GraphCache::Impl::Lookup GraphCache::Impl::acquire(const GraphKey& key, std::shared_ptr<runtime::GraphEntry>* entry,
                                                   std::string* why) {
  const std::string k = key.str();
  std::unique_lock<std::mutex> lock(mutex);
  for (;;) {
    for (auto it = lru.begin(); it != lru.end(); ++it) {
      if ((*it)->key != key) continue;
      lru.splice(lru.end(), lru, it);
      ++lru.back()->hits;
      ++counters.hits;
      *entry = lru.back();
      return Lookup::Hit;
    }
    if (auto f = failed.find(k); f != failed.end()) {
      *why = f->second;
      return Lookup::Failed;
    }
    if (!capturing.count(k)) break;
    capture_done.wait(lock);  // another thread is capturing this key
  }
  capturing.insert(k);
  ++counters.misses;
  return Lookup::Build;
}

template <typename Pick>
void GraphCache::Impl::drop(Pick pick) {
  std::vector<std::shared_ptr<runtime::GraphEntry>> dropped;
  {
    std::lock_guard<std::mutex> lock(mutex);
    size_t n = 0;
    for (auto it = lru.begin(); it != lru.end();) {
      if (!pick(**it, n)) {
        ++it;
        continue;
      }
      ++n;
      counters.device_bytes -= std::min(counters.device_bytes, (*it)->device_bytes);
      dropped.push_back(std::move(*it));
      it = lru.erase(it);
    }
  }
  // Outside the lock: freeing waits for the device. Entries a run still holds
  // are freed (and trim) when it lets go; the rest are freed here and each
  // device's pool is trimmed once.
  std::set<backend::Allocator*> to_trim;
  for (auto& e : dropped) {
    if (e.use_count() == 1) {
      to_trim.insert(e->allocator);
    } else {
      e->trim_on_free = true;
    }
    e.reset();
  }
  for (backend::Allocator* a : to_trim) {
    if (!a) continue;
    try {
      a->trim();
    } catch (const std::exception& ex) {
      log_warning(std::string("trimming device memory: ") + ex.what());
    }
  }
}

void GraphCache::Impl::insert(std::shared_ptr<runtime::GraphEntry> entry) {
  {
    std::lock_guard<std::mutex> lock(mutex);
    capturing.erase(entry->key.str());
    ++counters.captures;
    counters.capture_ms += entry->capture_ms;
    counters.device_bytes += entry->device_bytes;
    lru.push_back(std::move(entry));
  }
  capture_done.notify_all();
  // Past the entry count or the byte budget, the least recently used go.
  drop([this](const runtime::GraphEntry&, size_t) {
    // Called under the lock, in LRU order; the newest entry stays.
    const bool over = lru.size() > std::max<size_t>(capacity, 1) ||
                      (max_bytes && counters.device_bytes > max_bytes && lru.size() > 1);
    if (over) ++counters.evictions;
    return over;
  });
}

void GraphCache::Impl::abandon(const GraphKey& key, const std::string& why) {
  {
    std::lock_guard<std::mutex> lock(mutex);
    const std::string k = key.str();
    capturing.erase(k);
    ++counters.capture_failures;
    if (failed.emplace(k, why).second)
      log_warning("CUDA graph capture failed for " + k + " (" + why + "); this shape runs without a graph");
  }
  capture_done.notify_all();
}

GraphCache::GraphCache(size_t capacity, size_t max_bytes) : m_impl(std::make_shared<Impl>()) {
  if (capacity == 0) throw Error(ErrorCode::InvalidArgument, "a GraphCache needs a capacity of at least 1");
  m_impl->capacity = capacity;
  m_impl->max_bytes = max_bytes;
}

GraphCache::~GraphCache() = default;

size_t GraphCache::capacity() const { return m_impl->capacity; }
size_t GraphCache::max_bytes() const { return m_impl->max_bytes; }

size_t GraphCache::size() const {
  std::lock_guard<std::mutex> lock(m_impl->mutex);
  return m_impl->lru.size();
}

std::vector<GraphKey> GraphCache::keys() const {
  std::lock_guard<std::mutex> lock(m_impl->mutex);
  std::vector<GraphKey> out;
  for (const auto& e : m_impl->lru) out.push_back(e->key);
  return out;
}

bool GraphCache::contains(const GraphKey& key) const {
  std::lock_guard<std::mutex> lock(m_impl->mutex);
  for (const auto& e : m_impl->lru)
    if (e->key == key) return true;
  return false;
}

void GraphCache::remove(const GraphKey& key) {
  m_impl->drop([&](const runtime::GraphEntry& e, size_t) { return e.key == key; });
}

void GraphCache::purge_device(const Device& device) {
  m_impl->drop([&](const runtime::GraphEntry& e, size_t) { return e.key.device == device; });
}

void GraphCache::purge(std::optional<size_t> n_oldest) {
  m_impl->drop([&](const runtime::GraphEntry&, size_t removed) { return !n_oldest || removed < *n_oldest; });
}

std::vector<GraphEntryInfo> GraphCache::entries() const {
  std::lock_guard<std::mutex> lock(m_impl->mutex);
  std::vector<GraphEntryInfo> out;
  for (const auto& e : m_impl->lru) out.push_back({e->key, e->mode, e->graphs, e->device_bytes, e->hits, e->capture_ms});
  return out;
}

GraphCacheStats GraphCache::stats() const {
  std::lock_guard<std::mutex> lock(m_impl->mutex);
  return m_impl->counters;
}

namespace {
std::atomic<bool> g_cuda_graphs{true};
}  // namespace

std::shared_ptr<GraphCache> establish_graph_cache(size_t default_capacity, std::shared_ptr<GraphCache> cache) {
  if (cache) return cache;
  if (!env_flag("KILN_AUTO_CUDA_GRAPHS", false)) return nullptr;
  return std::make_shared<GraphCache>(default_capacity);
}

void set_cuda_graphs_mode(bool enabled) { g_cuda_graphs = enabled; }
bool cuda_graphs_mode() { return g_cuda_graphs; }

}  // namespace kiln
