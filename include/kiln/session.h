// A Session runs an Engine on one device. It keeps input binding, checks and
// policy; the per-shape state (kernel instances, arenas with fixed input and
// output buffers, streams) lives in execution contexts it keeps in an LRU, one
// per input shape, as TensorRT's Engine -> ExecutionContext split. The
// engine's weights are uploaded once per engine and device and shared by every
// Session on that device.
// Threading: one run at a time per Session (runs are serialized by a mutex);
// stats() and profile() take a separate lock and answer while a run is in
// flight. For concurrency make one Session per thread over the same Engine,
// which is shared read-only.
#pragma once

#include <memory>
#include <map>
#include <string>
#include <vector>

#include "kiln/engine.h"
#include "kiln/graph_cache.h"
#include "kiln/tensor.h"

namespace kiln {

struct NamedTensor {
  std::string name;
  Tensor tensor;
};

// Time spent in one node over the profiled runs (SessionOptions::profile).
struct NodeProfile {
  std::string node;     // node name (fused nodes are named after the first node they replaced)
  std::string op_type;  // "Conv", "com.kiln.FusedConv", ...
  std::string kernel;   // the candidate that ran: "reference", "onednn", ...
  int64_t runs = 0;     // runs in which the node finished
  double total_ms = 0;  // time inside the kernel, summed over runs: device time
                        // (events) on a GPU, wall time on the CPU
  std::string device;   // "cpu", "cuda:0": where the node ran
};

// Memory for outputs whose size is known only once the run computes it
// (NonZero, NonMaxSuppression), as TensorRT's IOutputAllocator. The Session
// asks for each output's bytes in the memory it returns them in (the device
// with RunOptions::outputs_on_device, else the host), writes the output there
// and says its shape; the returned tensors wrap that memory, which stays the
// allocator's. Called from the thread running the Session.
class OutputAllocator {
 public:
  virtual ~OutputAllocator() = default;
  // Memory of at least `bytes` for output `name` on `device` (may be the
  // block of the last call when it is big enough); 256-byte aligned is best.
  virtual void* reallocate(const std::string& name, size_t bytes, const Device& device) = 0;
  virtual void notify_shape(const std::string& name, const Shape& shape) = 0;
};

struct SessionOptions {
  // Per-input-shape execution contexts kept (each holds its arenas); least
  // recently used go.
  size_t max_shape_plans = 8;
  // The device to run on: "" = the engine's device kind, index 0; "cuda:1"
  // runs an engine built for cuda on the second GPU (any GPU of the model
  // the engine was built for).
  std::string device;
  // Threads of the CPU kernels (oneDNN) in this Session's runs: -1 = what the
  // engine was built and timed with (BuildConfig::cpu_threads), 0 = all cores
  // (or OMP_NUM_THREADS when set).
  int threads = -1;
  // Time every node of every run (device events on a GPU, two clock reads on
  // the CPU); read with Session::profile().
  bool profile = false;
  // Time each run's compute on the device (two events per run) into
  // SessionStats::last (host enqueue time is measured always).
  bool time_runs = false;
  // Pre-allocated outputs: each run returns the same output buffers,
  // overwritten by the next run of the same input shape (copy what you keep);
  // the Session keeps one per shape and output (on the device with
  // RunOptions::outputs_on_device, else on the host). No per-call allocation
  // on the hot path; a returned tensor stays valid after its shape's context
  // is evicted.
  bool pre_allocated_outputs = false;
  // Where outputs go instead of fresh tensors (see OutputAllocator); cannot
  // be combined with a graph cache.
  std::shared_ptr<OutputAllocator> output_allocator;

  // ---- CUDA graphs (graph_cache.h) ----
  // The cache of captured runs for this Session: each input shape is
  // captured once and replayed after. Null: no graphs (establish_graph_cache
  // makes one when KILN_AUTO_CUDA_GRAPHS is set).
  std::shared_ptr<GraphCache> graph_cache;
  // Batch bucketing: the batch (dim 0 of every input) is padded with zeros up
  // to the smallest of these sizes that holds it, and the outputs (whose dim 0
  // must be the batch) cut back, so variable batches share a few graphs.
  // Empty: no padding. Sorted on use.
  std::vector<int64_t> batch_buckets;
  // Input shapes captured when the Session is made (with zero inputs), so the
  // first request of each is already a replay.
  std::vector<std::map<std::string, Shape>> capture_shapes;
};

struct RunOptions {
  // Return outputs in the session's device memory (no host round trip)
  // instead of host memory. Each output is a fresh tensor the caller owns.
  bool outputs_on_device = false;
  // Run this call without the graph cache (the seeds' disable_cuda_graphs).
  bool disable_cuda_graphs = false;
};

// Where the last run's time went, as trtexec reports it.
struct RunTiming {
  double enqueue_ms = 0;  // host time to bind, copy in, submit every kernel and copy out (before waiting)
  double device_ms = 0;   // compute on the device, inputs copied in to outputs ready (SessionOptions::time_runs)
  double total_ms = 0;    // the whole call, waiting included
};

// What a Session holds, for inspection while it serves.
struct SessionStats {
  Device device;
  size_t contexts = 0;          // execution contexts (input shapes) kept
  size_t device_bytes = 0;      // arenas of those contexts on the device
  size_t weight_bytes = 0;      // the engine's weights on the device (shared with other Sessions)
  uint64_t runs = 0;
  uint64_t context_misses = 0;  // runs that had to make a context (a new input shape)
  RunTiming last;               // of the last finished run
  uint64_t graph_runs = 0;      // runs served by the graph cache (replays and captures)
  CaptureMode last_capture_mode = CaptureMode::None;  // of the last run through the graph cache
};

// Multi-device safe mode (torch_tensorrt.runtime.set_multi_device_safe_mode),
// process-wide, off by default. CUDA's current device is per host thread.
// Off: a run from a thread whose current device is not the Session's is a
// kiln::Error saying so (make the device current first). On: such a run
// switches to the Session's device and back, and those switching runs are
// serialized process-wide; runs already on their device are not affected.
void set_multi_device_safe_mode(bool enabled);
bool multi_device_safe_mode();

class Session {
 public:
  explicit Session(Engine engine, SessionOptions options = {});
  ~Session();
  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;

  // Binds inputs by name and returns the outputs in the engine's output order.
  // Inputs may be in host memory or on the session's device (read there with
  // no copy). kiln::Error(InvalidArgument) naming the tensor for a missing or
  // unknown input, a dtype mismatch, a shape outside the engine's profile or a
  // tensor on another device; (OutOfMemory) when the device is full, after
  // which the Session stays usable.
  std::vector<NamedTensor> run(const std::map<std::string, Tensor>& inputs, const RunOptions& options = {});

  const Engine& engine() const;
  Device device() const;
  SessionStats stats() const;

  // Weight streaming (an engine built with BuildConfig::weight_streaming):
  // the device bytes its weights may take; the weights that do not fit stay in
  // page-locked host memory and are copied in before the layer that reads
  // them, on a second stream, overlapping the layer before. -1: all resident
  // (the default). The budget is the engine's on this device, shared by every
  // Session of it there (as TensorRT's); it may change between calls.
  // kiln::Error(InvalidArgument) for an engine not built for it.
  void set_weight_streaming_budget(int64_t bytes);
  int64_t weight_streaming_budget() const;
  size_t streamable_weights_bytes() const;  // every weight the device reads

  // Per-node times for the most recently run input shape, in execution order,
  // as of the last finished run; empty unless SessionOptions::profile.
  // reset_profile() zeroes them.
  std::vector<NodeProfile> profile() const;
  void reset_profile();

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace kiln
