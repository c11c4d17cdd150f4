// The CUDA-graph cache: captured executables of one engine's Sessions, one per
// input (shapes, dtypes, device), in an LRU — what inference_models' TRTCudaGraphCache
// does for TensorRT. An entry owns its execution context (kernels, arenas with
// fixed input and output buffers, stream) and, on a GPU, the CUDA graphs
// captured from it: one for an engine that runs wholly on the GPU, one per GPU
// segment when some nodes run on the CPU. A miss runs the engine once (warm-up),
// captures, instantiates and stores; a hit copies the inputs in, replays and
// copies the outputs out. On the CPU an entry is the prepared plan itself, so
// the cache behaves the same on every backend.
//
// Thread safety: every member may be called from any thread while the Session
// runs. An entry in use is never freed under its replay (removal drops it from
// the cache; the run in flight finishes with it); two threads missing the same
// key capture it once (the second waits); capture uses CUDA's thread-local
// mode, so other threads' CUDA work goes on meanwhile. A capture that fails
// (out of memory, a kernel that cannot be captured) leaves no entry, is logged
// once per key, and the call still returns correct outputs, without a graph.
//
// A cache serves the engine of the first Session that uses it: Sessions of
// that engine may share it (on one GPU or several, each device's entries its
// own); a Session of another engine using it is a kiln::Error (never one
// model's graph replayed for another's input).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kiln/tensor.h"

namespace kiln {

// The key of an entry: the shapes and dtypes of a Session's inputs in the
// engine's input order, and the device.
struct GraphKey {
  std::vector<Shape> shapes;
  std::vector<DataType> dtypes;
  Device device;
  bool operator==(const GraphKey&) const = default;
  std::string str() const;  // "[1,3,224,224]:float32 @ cuda:0"
};

// How an entry runs: the prepared plan as it is (the CPU, or nothing could be
// captured), one graph of the whole engine, or one graph per GPU segment with
// the CPU nodes and the copies run between replays.
enum class CaptureMode { None, Whole, Segments };
std::string_view capture_mode_name(CaptureMode mode);  // "none", "whole", "segments"

struct GraphEntryInfo {
  GraphKey key;
  CaptureMode mode = CaptureMode::None;
  int graphs = 0;           // captured graphs (segments)
  size_t device_bytes = 0;  // arenas and buffers this entry holds on the device
  uint64_t hits = 0;
  double capture_ms = 0;    // warm-up, capture and instantiation
};

struct GraphCacheStats {
  uint64_t hits = 0, misses = 0, captures = 0, capture_failures = 0, evictions = 0;
  double capture_ms = 0;    // summed over captures
  size_t device_bytes = 0;  // held by the entries now
};

class GraphCache {
 public:
  // capacity: entries kept (>= 1). max_bytes: optional budget of device bytes
  // for the entries together (0: none); past either, least recently used
  // entries go.
  explicit GraphCache(size_t capacity = 8, size_t max_bytes = 0);
  ~GraphCache();
  GraphCache(const GraphCache&) = delete;
  GraphCache& operator=(const GraphCache&) = delete;

  size_t capacity() const;
  size_t max_bytes() const;
  size_t size() const;
  // Least recently used first: the eviction order.
  std::vector<GraphKey> keys() const;
  bool contains(const GraphKey& key) const;
  // Drops the entry (a no-op when absent); its memory goes back once no run
  // uses it, and the device's pool is trimmed.
  void remove(const GraphKey& key);
  // Drops the n least recently used entries (all when not given); device
  // memory is handed back once, at the end.
  void purge(std::optional<size_t> n_oldest = std::nullopt);
  // Drops every entry of one device; the other devices' stay.
  void purge_device(const Device& device);
  std::vector<GraphEntryInfo> entries() const;  // least recently used first
  GraphCacheStats stats() const;

  struct Impl;
  const std::shared_ptr<Impl>& impl() const { return m_impl; }

 private:
  std::shared_ptr<Impl> m_impl;
};

// As the seeds' establish_trt_cuda_graph_cache: returns `cache` when given;
// otherwise a new cache of `default_capacity` when the environment variable
// KILN_AUTO_CUDA_GRAPHS is true (1, true, yes, on), else null.
std::shared_ptr<GraphCache> establish_graph_cache(size_t default_capacity,
                                                  std::shared_ptr<GraphCache> cache = nullptr);

// The global cudagraphs switch (torch_tensorrt.runtime.set_cudagraphs_mode):
// while off, Sessions run without their graph caches. On by default; a Session
// uses graphs only when it has a cache.
void set_cuda_graphs_mode(bool enabled);
bool cuda_graphs_mode();

}  // namespace kiln
