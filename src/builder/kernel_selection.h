// Kernel choice: for every node whose op has several kernel candidates on the
// backend (e.g. the reference and the oneDNN convolution), time each candidate
// on the node's real shapes and keep the fastest, recording it in the node's
// "kiln.kernel" attribute (a node only one candidate takes gets that one,
// untimed). Timings go through a TimingCache keyed by (kernel
// signature, device), so a rebuild on the same machine times nothing it has
// timed before.
#pragma once

#include "backends/backend.h"
#include "ir/graph.h"
#include "kiln/timing_cache.h"

namespace kiln::builder {

struct SelectionStats {
  int nodes = 0;           // nodes with a choice to make
  int from_cache = 0;      // decided by the timing cache
  int timed = 0;           // decided by timing now
  int single = 0;          // one candidate takes the node: chosen untimed
  double timing_seconds = 0;
};

// Nodes need known input shapes; others keep the preferred candidate. Each
// node is timed on the backend that runs it (builder/partition.h): inputs in
// that device's memory, on a stream of it, with device events where it has
// them, and CPU kernels at `cpu_threads` (0 = all cores), the count the engine
// will run with. `cache` may be null (time everything, remember nothing).
SelectionStats select_kernels(ir::Graph& graph, backend::Backend& primary, TimingCache* cache, int cpu_threads = 0);

// The timing cache's device key for kernels of `backend` run at `cpu_threads`.
std::string timing_device(const backend::Backend& backend, int cpu_threads);

// The timing-cache key of a node: op, input dtypes and shapes, attributes,
// and the backend's candidates for the op, so that a kiln with a new
// candidate times it rather than trusting a choice made without it.
std::string kernel_signature(const ir::Graph& graph, const ir::Node& node, const backend::KernelRegistry& kernels);

}  // namespace kiln::builder
