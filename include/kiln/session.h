// A Session runs an Engine. It owns the per-run state (memory arena, kernel
// instances, per-shape plans). Threading: one run at a time per Session (calls
// are serialized by an internal mutex); for concurrency make one Session per
// thread over the same Engine, which is shared read-only.
#pragma once

#include <memory>
#include <map>
#include <string>
#include <vector>

#include "kiln/engine.h"
#include "kiln/tensor.h"

namespace kiln {

struct NamedTensor {
  std::string name;
  Tensor tensor;
};

struct SessionOptions {
  // Per-input-shape plans kept (each holds an arena); least recently used go.
  size_t max_shape_plans = 8;
  // Threads the CPU kernels (oneDNN) use for this Session's runs; 0 = all cores
  // (or OMP_NUM_THREADS when set).
  int threads = 0;
};

class Session {
 public:
  explicit Session(Engine engine, SessionOptions options = {});
  ~Session();
  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;

  // Binds inputs by name and returns the outputs in the engine's output order.
  // kiln::Error(InvalidArgument) naming the tensor for a missing or unknown
  // input, a dtype mismatch, or a shape outside the engine's profile.
  std::vector<NamedTensor> run(const std::map<std::string, Tensor>& inputs);

  const Engine& engine() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace kiln
