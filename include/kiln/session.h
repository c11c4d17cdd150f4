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

// Time spent in one node over the profiled runs (SessionOptions::profile).
struct NodeProfile {
  std::string node;     // node name (fused nodes are named after the first node they replaced)
  std::string op_type;  // "Conv", "com.kiln.FusedConv", ...
  std::string kernel;   // the candidate that ran: "reference", "onednn", ...
  int64_t runs = 0;     // runs in which the node finished
  double total_ms = 0;  // wall time inside the kernel, summed over runs
};

struct SessionOptions {
  // Per-input-shape plans kept (each holds an arena); least recently used go.
  size_t max_shape_plans = 8;
  // Threads the CPU kernels (oneDNN) use for this Session's runs; 0 = all cores
  // (or OMP_NUM_THREADS when set).
  int threads = 0;
  // Time every node of every run (two clock reads per node); read with
  // Session::profile().
  bool profile = false;
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

  // Per-node times for the most recently run input shape, in execution order;
  // empty unless SessionOptions::profile. reset_profile() zeroes them.
  std::vector<NodeProfile> profile() const;
  void reset_profile();

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace kiln
