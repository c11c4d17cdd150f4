// A static memory plan: offsets of values in arenas. Made by the builder
// (builder/memory_planner.h), stored in the engine, used by the runtime. Every
// value of known shape that a node writes has a slot, and so do the graph
// inputs and outputs: an execution context's I/O buffers are fixed, so a run
// allocates nothing outside the plan (what CUDA-graph capture needs).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace kiln::engine {

inline size_t align_up(size_t n, size_t to = 256) { return (n + to - 1) / to * to; }

struct MemoryPlan {
  static constexpr size_t k_alignment = 256;  // cuDNN/cuBLASLt like 256-byte alignment
  // Device: the engine's device (host memory for a CPU engine). Host: the
  // values of host-fallback nodes in an engine built for a device.
  enum class Arena : uint8_t { Device = 0, Host = 1 };
  struct Slot {
    size_t offset = 0;
    size_t bytes = 0;
    Arena arena = Arena::Device;
  };
  std::map<ir::ValueId, Slot> slots;
  size_t arena_bytes = 0;       // the device arena
  size_t host_arena_bytes = 0;  // the host arena (mixed engines)
  size_t naive_bytes = 0;       // sum of all planned values: what reuse saved

  size_t bytes_of(Arena a) const { return a == Arena::Device ? arena_bytes : host_arena_bytes; }
};

// The lifetime of every value in node indices: written at `first`, last read
// at `last`; graph inputs from -1 (before the first node), graph outputs to
// nodes.size() (after the last). -1/-1 for values no node touches.
struct Lifetimes {
  std::vector<int> first, last;
};
Lifetimes value_lifetimes(const ir::Graph& graph);

// In-place groups (OpSchema::inplace_input): group[v] is the representative
// of the values that may share one buffer.
std::vector<size_t> inplace_groups(const ir::Graph& graph, const Lifetimes& life,
                                   const std::vector<bool>& eligible);

// Defence in depth for plans read from files: every slot names a value of the
// graph, fits its arena, holds the value's bytes when the shape is known, and
// no two values alive at the same time overlap unless they are one in-place
// group. kiln::Error(Corrupt) naming `label` otherwise.
void check_plan(const ir::Graph& graph, const MemoryPlan& plan, const std::string& label);

}  // namespace kiln::engine
