#include "builder/memory_planner.h"

#include <algorithm>

#include "builder/partition.h"

namespace kiln::builder {

namespace {

size_t align_up(size_t n) {
  return (n + engine::MemoryPlan::k_alignment - 1) / engine::MemoryPlan::k_alignment * engine::MemoryPlan::k_alignment;
}

struct Interval {
  ir::ValueId value;
  size_t bytes;
  int first, last;
  engine::MemoryPlan::Arena arena;
};

// Greedy by size: largest first, each at the lowest offset that fits between
// the blocks alive at the same time. Returns the arena's size.
size_t place(std::vector<Interval>& intervals, engine::MemoryPlan& plan) {
  // Ties by earlier definition keep the plan deterministic.
  std::sort(intervals.begin(), intervals.end(), [](const Interval& a, const Interval& b) {
    return a.bytes != b.bytes ? a.bytes > b.bytes : a.first < b.first;
  });
  size_t arena = 0;
  std::vector<std::pair<const Interval*, size_t>> placed;  // interval, offset
  for (const Interval& iv : intervals) {
    std::vector<std::pair<size_t, size_t>> busy;  // offset, bytes
    for (const auto& [other, off] : placed)
      if (!(other->last < iv.first || iv.last < other->first)) busy.emplace_back(off, other->bytes);
    std::sort(busy.begin(), busy.end());
    size_t best = SIZE_MAX, best_gap = SIZE_MAX, cursor = 0;
    for (const auto& [off, bytes] : busy) {
      if (off >= cursor && off - cursor >= iv.bytes && off - cursor < best_gap) {
        best = cursor;
        best_gap = off - cursor;
      }
      cursor = std::max(cursor, off + bytes);
    }
    if (best == SIZE_MAX) best = cursor;
    placed.emplace_back(&iv, best);
    plan.slots[iv.value] = {best, iv.bytes, iv.arena};
    arena = std::max(arena, best + iv.bytes);
  }
  return arena;
}

}  // namespace

engine::MemoryPlan plan_memory(const ir::Graph& g, const backend::Backend& primary) {
  const size_t n_values = g.values.size();
  const engine::Lifetimes life = engine::value_lifetimes(g);
  const std::vector<bool> on_host = host_values(g, primary);
  const bool host_engine = primary.device().is_host();

  std::vector<size_t> bytes(n_values, 0);  // 0: not planned
  std::vector<bool> planned(n_values, false);
  for (size_t v = 0; v < n_values; ++v) {
    const ir::Value& val = g.values[v];
    if (val.constant || (life.first[v] < 0 && life.last[v] < 0)) continue;
    if (!val.shape || !ir::shape_known(*val.shape) || !dtype_size(val.dtype)) continue;
    bytes[v] = static_cast<size_t>(shape_numel(ir::to_shape(*val.shape))) * dtype_size(val.dtype);
    planned[v] = true;
  }
  // Only inputs, outputs and values a node writes (a value no node touches
  // has first = last = -1 and was skipped).
  std::vector<bool> eligible(n_values, false);
  for (size_t v = 0; v < n_values; ++v) eligible[v] = planned[v] && bytes[v] > 0;
  // In-place partners must also take the same bytes in the same memory.
  std::vector<size_t> group = engine::inplace_groups(g, life, eligible);
  for (size_t v = 0; v < n_values; ++v) {
    const size_t r = group[v];
    if (r != v && (bytes[r] != bytes[v] || on_host[r] != on_host[v])) group[v] = v;
  }

  std::vector<Interval> per_arena[2];
  std::vector<int> group_interval(n_values, -1);
  for (size_t v = 0; v < n_values; ++v) {
    if (!planned[v]) continue;
    const size_t r = group[v];
    const auto arena = !host_engine && on_host[v] ? engine::MemoryPlan::Arena::Host : engine::MemoryPlan::Arena::Device;
    auto& list = per_arena[static_cast<int>(arena)];
    if (group_interval[r] < 0) {
      group_interval[r] = static_cast<int>(list.size());
      list.push_back({static_cast<ir::ValueId>(r), align_up(std::max<size_t>(bytes[v], 1)), life.first[v], life.last[v], arena});
    } else {
      Interval& iv = list[static_cast<size_t>(group_interval[r])];
      iv.first = std::min(iv.first, life.first[v]);
      iv.last = std::max(iv.last, life.last[v]);
    }
  }
  engine::MemoryPlan plan;
  plan.arena_bytes = place(per_arena[0], plan);
  plan.host_arena_bytes = place(per_arena[1], plan);
  // Every member of a group at its representative's offset.
  for (size_t v = 0; v < n_values; ++v) {
    if (!planned[v]) continue;
    plan.slots[static_cast<ir::ValueId>(v)] = plan.slots.at(static_cast<ir::ValueId>(group[v]));
    plan.naive_bytes += align_up(std::max<size_t>(bytes[v], 1));
  }
  return plan;
}

}  // namespace kiln::builder
