// What an Engine holds. Immutable after the builder (or the loader) makes it.
#pragma once

#include <string>
#include <vector>

#include "engine/memory_plan.h"
#include "ir/graph.h"
#include "kiln/engine.h"

namespace kiln::detail {

struct EngineData {
  ir::Graph graph;  // optimized, shapes inferred (symbolic where dynamic)
  std::vector<TensorSpec> inputs, outputs;
  std::string backend;      // "cpu", "cuda"
  std::string fingerprint;  // backend fingerprint at build time
  std::string producer;     // "kiln <version>"
  std::vector<std::string> config;  // BuildConfig::invariant_fields() at build time
  int optimization_level = 3;       // the passes a specialization at run time repeats
  int cpu_threads = 0;              // CPU kernels were timed (and run) with this many threads; 0 = all
  bool plan_valid = false;  // plan covers the graph's (fully static) shapes
  engine::MemoryPlan plan;
  bool weightless = false;
  // Weightless engines: the values holding model weights, stored without data
  // and filled by Engine::refit from the model's initializers of the same name.
  std::vector<ir::ValueId> weights;
  bool needs_output_allocator = false;
  bool weight_streaming = false;  // built for it: a Session may keep weights on the host under a budget
};

}  // namespace kiln::detail
