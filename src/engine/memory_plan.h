// A static memory plan: offsets of intermediate values in one arena. Made by the
// builder (builder/memory_planner.h), stored in the engine, used by the runtime.
#pragma once

#include <cstddef>
#include <map>

#include "ir/graph.h"

namespace kiln::engine {

struct MemoryPlan {
  static constexpr size_t k_alignment = 256;  // cuDNN/cuBLASLt like 256-byte alignment
  struct Slot {
    size_t offset = 0;
    size_t bytes = 0;
  };
  std::map<ir::ValueId, Slot> slots;
  size_t arena_bytes = 0;
  size_t naive_bytes = 0;  // sum of all planned values: what reuse saved
};

}  // namespace kiln::engine
