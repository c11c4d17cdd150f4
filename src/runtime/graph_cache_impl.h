// GraphCache's state (include/kiln/graph_cache.h), shared by the cache handle
// and the Sessions of the engine it serves. One mutex guards the LRU, the keys being
// captured and the counters; each entry has its own run lock, so replays of
// different keys go on in parallel and inspection never waits for a run.
#pragma once

#include <condition_variable>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "backends/backend.h"
#include "kiln/graph_cache.h"
#include "runtime/execution_context.h"

namespace kiln::runtime {

struct GraphEntry {
  GraphKey key;
  std::unique_ptr<ExecutionContext> ctx;
  std::mutex run_mutex;  // one run at a time on this entry's buffers
  backend::Allocator* allocator = nullptr;
  uint64_t hits = 0;     // under the cache's mutex
  double capture_ms = 0;
  size_t device_bytes = 0;
  CaptureMode mode = CaptureMode::None;
  int graphs = 0;
  // Set when the cache drops the entry: the last user frees it, then trims
  // the device's pool so the memory really goes back.
  bool trim_on_free = false;

  ~GraphEntry();
};

}  // namespace kiln::runtime

namespace kiln {

struct GraphCache::Impl {
  size_t capacity = 8, max_bytes = 0;
  mutable std::mutex mutex;
  std::condition_variable capture_done;
  std::list<std::shared_ptr<runtime::GraphEntry>> lru;  // least recently used first
  std::set<std::string> capturing;                      // keys a thread is capturing now
  std::map<std::string, std::string> failed;            // key -> why its capture failed
  std::weak_ptr<const void> engine;                     // the engine it serves (none yet: expired)
  bool bound = false;
  GraphCacheStats counters;

  // Binds the cache to the engine of its first Session; kiln::Error for a
  // Session of another engine.
  void bind(const std::shared_ptr<const void>& engine_data);

  enum class Lookup { Hit, Build, Failed };
  // Hit: `entry` is the entry, now most recently used. Build: the caller
  // must make and capture it, then insert() or abandon(). Failed: its capture
  // failed before (`why`); run without a graph. A thread asking for a key
  // another is capturing waits for that capture.
  Lookup acquire(const GraphKey& key, std::shared_ptr<runtime::GraphEntry>* entry, std::string* why);
  void insert(std::shared_ptr<runtime::GraphEntry> entry);
  void abandon(const GraphKey& key, const std::string& why);

  // Removes entries matching `pick` (called in LRU order, with the count
  // removed so far); frees those no run holds, then trims each device's pool
  // once.
  template <typename Pick>
  void drop(Pick pick);
};

}  // namespace kiln
