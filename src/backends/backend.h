// The backend interface: the few things the builder and runtime need from a
// device. Kept small on purpose (ggml-backend style): memory, streams, copies,
// timing, a kernel table, the passes it wants and an optional capture.
// Backends are found through a registry by device ("cpu", "cuda:1"); there is
// one instance per device, so cuda:0 and cuda:1 coexist.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backends/kernel.h"
#include "kiln/tensor.h"

namespace kiln::backend {

class Stream;

// Device memory. allocate() returns memory any stream may use at once;
// deallocate() must come after every use has finished. The *_async pair is
// stream-ordered (CUDA's stream-ordered allocator): the memory is usable by
// work submitted to `stream` afterwards, and freed once the stream reaches the
// free, so a run can drop a value after submitting its last reader.
class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual void* allocate(size_t bytes) = 0;  // 256-byte aligned; throws OutOfMemory
  virtual void deallocate(void* p) = 0;
  virtual void* allocate_async(size_t bytes, Stream&) { return allocate(bytes); }
  virtual void deallocate_async(void* p, Stream&) { deallocate(p); }
  // Hands cached memory back to the system (a device pool keeps freed blocks).
  virtual void trim() {}
};

// Settings a stream's runs honour.
struct StreamConfig {
  int cpu_threads = 0;  // threads of the CPU kernels run on this stream; 0 = all cores
};

// How a run gets onto its stream's device when the calling thread's current
// device is another one (CUDA's current device is per thread). Internal work
// (building, timing, uploads) always switches; a Session's runs switch only in
// multi-device safe mode, serialized, and otherwise refuse (session.h).
enum class DeviceSwitch { Always, Serialized, Never };

// A point in a stream's work, for profiling (a CUDA event, a host clock).
class Marker {
 public:
  virtual ~Marker() = default;
};

// Work submitted to a stream runs in order; synchronize() waits for all of it.
class Stream {
 public:
  virtual ~Stream() = default;
  virtual void synchronize() = 0;
  // Profiling: mark the work submitted so far; elapsed_ms() between two marks
  // once the stream has reached both (after synchronize()). Host streams use
  // the wall clock.
  virtual std::unique_ptr<Marker> mark();
  virtual double elapsed_ms(const Marker& from, const Marker& to);
  // Makes later work on this stream wait until another stream of the same
  // device reaches `marker` (host streams run in order anyway).
  virtual void wait_for(const Marker& marker) {}
  // Bracket the kernel submissions of one run, on the thread making them (the
  // CPU stream sets its thread count there).
  virtual void begin_run(DeviceSwitch how = DeviceSwitch::Always) {}
  virtual void end_run() {}
};

class RunScope {
 public:
  explicit RunScope(Stream& s, DeviceSwitch how = DeviceSwitch::Always) : m_stream(s) { m_stream.begin_run(how); }
  ~RunScope() { m_stream.end_run(); }
  RunScope(const RunScope&) = delete;
  RunScope& operator=(const RunScope&) = delete;

 private:
  Stream& m_stream;
};

// A captured run that can be replayed with the same buffers (CUDA graph).
class Capture {
 public:
  virtual ~Capture() = default;
  virtual void replay(Stream& stream) = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;  // "cpu", "cuda": the device kind's name
  virtual Device device() const = 0;
  // What shapes the kernels a build picks: ISA or GPU model and library
  // versions (never a device index). Part of the engine-cache key.
  virtual std::string fingerprint() const = 0;
  // What keys the timing cache: the fingerprint, and the speed switches that
  // change which candidate wins but not what an engine may run (so are not
  // in the fingerprint): a run under one does not reuse another's winners.
  virtual std::string timing_fingerprint() const { return fingerprint(); }

  virtual Allocator& allocator() = 0;  // this device's memory
  virtual std::unique_ptr<Stream> create_stream(const StreamConfig& config = {}) = 0;
  // Copies bytes between host memory and this device's memory (either side may
  // be either), in stream order. Pageable host memory is safe to reuse when the
  // call returns; the destination is ready once the stream reaches the copy.
  virtual void copy(void* dst, const Device& dst_device, const void* src, const Device& src_device, size_t bytes,
                    Stream& stream) = 0;
  // Milliseconds `work` (which submits to `stream`) takes on the device, from
  // submission to completion: device events where the device has them.
  virtual double time_ms(Stream& stream, const std::function<void()>& work);

  virtual const KernelRegistry& kernels() const = 0;
  // Whether this backend can run the node; `why` says why not.
  virtual bool supports(const ir::Graph& graph, const ir::Node& node, std::string* why) const;
  // Whether this backend's kernel for `node` reads input i on the host (shape
  // and index inputs such as Reshape's shape): the runtime then hands it a host
  // tensor, copying it back when another node made it on the device.
  virtual bool host_input(const ir::Node& node, size_t i) const { return false; }
  // Names of the backend-specific passes (see passes/registry.h) to run over
  // this backend's nodes at an optimization level, in order.
  virtual std::vector<std::string> passes(int optimization_level) const { return {}; }

  // Optional: record everything submitted to `stream` between begin and end
  // (CUDA graphs, in thread-local capture mode). abort_capture() ends a
  // capture that failed half way and drops what it recorded.
  virtual bool can_capture() const { return false; }
  virtual void begin_capture(Stream& stream);
  virtual std::unique_ptr<Capture> end_capture(Stream& stream);
  virtual void abort_capture(Stream& stream) {}

  // A tensor in this device's memory (not zeroed; zeroed on the host), freed
  // through allocator(): stream-ordered on `stream` when given (which must
  // then outlive the tensor), else usable on any stream.
  Tensor empty(DataType dtype, const Shape& shape, Stream* stream = nullptr);
  // Host memory the device copies from and to asynchronously (page-locked on
  // a GPU; plain memory on the CPU), zeroed.
  virtual Tensor empty_pinned(DataType dtype, const Shape& shape) { return Tensor::empty(dtype, shape); }
};

// ---- registry ----
using BackendFactory = std::function<std::unique_ptr<Backend>(int device_index)>;
// Later registrations of a name replace earlier ones (tests register fakes).
void register_backend(const std::string& name, BackendFactory factory);
// The backend of a device, made on first use and kept for the process.
// kiln::Error(Unsupported) when no backend of that kind is built in; the
// backend's own error (no such device, ...) when it cannot start.
Backend& backend_for(const Device& device);
Backend& backend_for(const std::string& device);  // "cpu", "cuda", "cuda:1"
// Whether a backend of that name is built in (its device may still be absent).
bool backend_registered(const std::string& name);
// The host (CPU) backend, always available.
Backend& host_backend();

// Runs one node's kernel once on `backend`, outside any plan: inputs must be in
// the memory the kernel expects; outputs come from `alloc`, or are fresh
// allocations in the memory the node writes (constant folding, kernel timing,
// the If interpreter and tests use it). Returns once the work is submitted.
std::vector<Tensor> run_node(Backend& backend, Kernel& kernel, const ir::Graph& graph, const ir::Node& node,
                             const std::vector<const Tensor*>& inputs, Stream* stream,
                             const KernelContext::AllocFn& alloc = {});

}  // namespace kiln::backend
