// Session's private state, shared by session.cpp (binding, contexts, the
// plain run path, inspection) and session_run.cpp (Session::run: batch
// bucketing and the graph-cache path).
#pragma once

#include <chrono>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "kiln/graph_cache.h"
#include "kiln/session.h"
#include "runtime/execution_context.h"
#include "runtime/graph_cache_impl.h"
#include "runtime/weight_store.h"

namespace kiln {

struct Session::Impl {
  Engine engine;
  SessionOptions options;
  backend::Backend* backend = nullptr;
  std::shared_ptr<runtime::WeightStore> weights;  // null on the host
  backend::StreamConfig stream_config;
  std::mutex run_mutex;
  // Contexts per input signature, most recently used first (under run_mutex).
  std::list<std::pair<std::string, std::unique_ptr<runtime::ExecutionContext>>> contexts;

  mutable std::mutex inspect_mutex;  // guards what follows: copies made after each run
  SessionStats stats;
  std::vector<NodeProfile> profile;

  std::shared_ptr<GraphCache::Impl> graphs;     // null: no graph cache

  std::vector<Tensor> bind(const std::map<std::string, Tensor>& named) const;
  std::unique_ptr<runtime::ExecutionContext> make_context(const std::vector<Tensor>& inputs) const;
  runtime::ExecutionContext& context_for(const std::vector<Tensor>& inputs, bool* made);
  // Copies inputs in (or binds them), runs, copies outputs out and waits.
  std::vector<NamedTensor> execute(runtime::ExecutionContext& ctx, const std::vector<Tensor>& inputs,
                                   const RunOptions& options, bool bind_inputs, std::chrono::steady_clock::time_point t0,
                                   RunTiming* timing);
  // The graph-cache path; nullopt when this key's capture failed before.
  std::optional<std::vector<NamedTensor>> run_graphs(const std::vector<Tensor>& inputs, const RunOptions& options,
                                                     std::chrono::steady_clock::time_point t0);
  void publish(runtime::ExecutionContext& ctx, bool made, const RunTiming& timing, bool graph,
               CaptureMode mode = CaptureMode::None);
};

}  // namespace kiln
