// Runs one specialized graph on one backend: kernel instances made once, an
// arena laid out by the memory plan, values the plan does not cover (unknown
// shapes, data-dependent outputs) allocated as they come and freed after their
// last reader. Not thread-safe: a Session serializes its runs.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "engine/memory_plan.h"
#include "ir/graph.h"
#include "kiln/session.h"

namespace kiln::runtime {

class Executor {
 public:
  Executor(std::shared_ptr<const ir::Graph> graph, engine::MemoryPlan plan, backend::Backend& backend);
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // `inputs` in graph-input order, already validated; outputs in graph-output
  // order, each owning its memory.
  std::vector<Tensor> run(const std::vector<Tensor>& inputs);

  size_t arena_bytes() const { return m_plan.arena_bytes; }

  // Per-node timing of later runs (CPU kernels are synchronous, so the wall
  // time around run() is the node's; a device backend will need events).
  void enable_profile();
  std::vector<NodeProfile> profile() const;
  void reset_profile();

 private:
  std::shared_ptr<const ir::Graph> m_graph;
  engine::MemoryPlan m_plan;
  backend::Backend& m_backend;
  std::unique_ptr<backend::Stream> m_stream;
  std::vector<std::unique_ptr<backend::Kernel>> m_kernels;  // per node
  std::vector<int32_t> m_last_use;   // per value: index of the last node reading it
  std::vector<bool> m_keep;          // per value: graph output or input (never freed early)
  void* m_arena = nullptr;
  std::vector<std::string> m_kernel_names;  // per node: the candidate that runs it
  std::vector<double> m_node_ms;            // per node, when profiling
  std::vector<int64_t> m_node_runs;         // per node: runs it finished, when profiling
};

}  // namespace kiln::runtime
