// The backend interface: the few things the builder and runtime need from a
// device. Kept small on purpose (ggml-backend style): memory, streams, copies,
// a kernel table and an optional whole-run capture. CPU implements capture as
// "not available"; CUDA will implement it with CUDA graphs.
#pragma once

#include <memory>
#include <string>

#include "backends/kernel.h"
#include "kiln/tensor.h"

namespace kiln::backend {

class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual void* allocate(size_t bytes) = 0;  // 256-byte aligned; throws OutOfMemory
  virtual void deallocate(void* p) = 0;
};

// Work submitted to a stream runs in order; synchronize() waits for all of it.
class Stream {
 public:
  virtual ~Stream() = default;
  virtual void synchronize() = 0;
};

// A captured run that can be replayed with the same buffers (CUDA graph).
class Capture {
 public:
  virtual ~Capture() = default;
  virtual void replay(Stream& stream) = 0;
};

enum class CopyKind { HostToDevice, DeviceToHost, DeviceToDevice };

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;     // "cpu", "cuda"
  virtual Device device() const = 0;
  // What shapes the kernels a build picks: ISA or SM arch and library versions.
  // Part of the engine-cache key.
  virtual std::string fingerprint() const = 0;

  virtual Allocator& allocator() = 0;  // device memory
  virtual std::unique_ptr<Stream> create_stream() = 0;
  virtual void copy(void* dst, const void* src, size_t bytes, CopyKind kind, Stream& stream) = 0;

  virtual const KernelRegistry& kernels() const = 0;
  // Whether this backend can run the node; `why` says why not.
  virtual bool supports(const ir::Graph& graph, const ir::Node& node, std::string* why) const;

  // Optional: record everything submitted to `stream` between begin and end.
  virtual bool can_capture() const { return false; }
  virtual void begin_capture(Stream& stream);
  virtual std::unique_ptr<Capture> end_capture(Stream& stream);
};

// The CPU backend, always available.
Backend& cpu_backend();
// Backend by name ("cpu", "cuda"); kiln::Error(Unsupported) if not built in.
Backend& backend_by_name(const std::string& name);

}  // namespace kiln::backend
