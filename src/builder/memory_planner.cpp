#include "builder/memory_planner.h"

#include <algorithm>

namespace kiln::builder {

namespace {
size_t align_up(size_t n) {
  return (n + engine::MemoryPlan::k_alignment - 1) / engine::MemoryPlan::k_alignment * engine::MemoryPlan::k_alignment;
}
}  // namespace

engine::MemoryPlan plan_memory(const ir::Graph& g) {
  struct Interval {
    ir::ValueId value;
    size_t bytes;
    int first, last;  // node indices: written at first, last read at last
  };
  const size_t n_values = g.values.size();
  std::vector<int> first(n_values, -1), last(n_values, -1);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const int idx = static_cast<int>(i);
    for (ir::ValueId v : g.nodes[i].outputs)
      if (v != ir::k_no_value) { first[static_cast<size_t>(v)] = idx; last[static_cast<size_t>(v)] = std::max(last[static_cast<size_t>(v)], idx); }
    for (ir::ValueId v : g.nodes[i].inputs)
      if (v != ir::k_no_value) last[static_cast<size_t>(v)] = std::max(last[static_cast<size_t>(v)], idx);
  }
  std::vector<bool> excluded(n_values, false);
  for (ir::ValueId v : g.inputs) excluded[static_cast<size_t>(v)] = true;
  for (ir::ValueId v : g.outputs) excluded[static_cast<size_t>(v)] = true;

  std::vector<Interval> intervals;
  for (size_t v = 0; v < n_values; ++v) {
    const ir::Value& val = g.values[v];
    if (excluded[v] || val.constant || first[v] < 0 || !val.shape || !ir::shape_known(*val.shape)) continue;
    const size_t bytes = static_cast<size_t>(shape_numel(ir::to_shape(*val.shape))) * dtype_size(val.dtype);
    if (bytes == 0) continue;
    intervals.push_back({static_cast<ir::ValueId>(v), align_up(bytes), first[v], last[v]});
  }
  // Largest first; ties by earlier definition keeps the plan deterministic.
  std::sort(intervals.begin(), intervals.end(), [](const Interval& a, const Interval& b) {
    return a.bytes != b.bytes ? a.bytes > b.bytes : a.first < b.first;
  });

  engine::MemoryPlan plan;
  std::vector<std::pair<const Interval*, size_t>> placed;  // interval, offset
  for (const Interval& iv : intervals) {
    // Gather placed blocks alive at the same time, sorted by offset; take the
    // first gap big enough (best-fit by smallest adequate gap).
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
    plan.slots[iv.value] = {best, iv.bytes};
    plan.arena_bytes = std::max(plan.arena_bytes, best + iv.bytes);
    plan.naive_bytes += iv.bytes;
  }
  return plan;
}

}  // namespace kiln::builder
