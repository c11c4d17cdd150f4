#include "builder/memory_planner.h"

#include <algorithm>
#include <numeric>

#include "ir/op_schema.h"

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

  std::vector<size_t> bytes(n_values, 0);  // 0: not planned
  for (size_t v = 0; v < n_values; ++v) {
    const ir::Value& val = g.values[v];
    if (excluded[v] || val.constant || first[v] < 0 || !val.shape || !ir::shape_known(*val.shape)) continue;
    bytes[v] = static_cast<size_t>(shape_numel(ir::to_shape(*val.shape))) * dtype_size(val.dtype);
  }

  // In-place outputs (OpSchema::inplace_input) join their input's group: one
  // buffer, alive from the group's first write to its last read.
  std::vector<size_t> group(n_values);
  std::iota(group.begin(), group.end(), size_t{0});
  const auto root = [&](size_t v) {
    while (group[v] != v) v = group[v] = group[group[v]];
    return v;
  };
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const ir::Node& n = g.nodes[i];
    const ir::OpSchema* s = ir::SchemaRegistry::global().find(n.domain, n.op_type);
    if (!s || s->inplace_input < 0 || !n.has_input(static_cast<size_t>(s->inplace_input)) || n.outputs.empty() ||
        n.outputs[0] == ir::k_no_value)
      continue;
    const size_t in = static_cast<size_t>(n.inputs[static_cast<size_t>(s->inplace_input)]);
    const size_t out = static_cast<size_t>(n.outputs[0]);
    const bool sole_reader = last[in] == static_cast<int>(i) &&
                             std::count(n.inputs.begin(), n.inputs.end(), static_cast<ir::ValueId>(in)) == 1;
    if (bytes[in] == 0 || bytes[in] != bytes[out] || !sole_reader) continue;
    group[out] = root(in);
  }

  std::vector<Interval> intervals;
  std::vector<int> group_interval(n_values, -1);
  for (size_t v = 0; v < n_values; ++v) {
    if (bytes[v] == 0) continue;
    const size_t r = root(v);
    if (group_interval[r] < 0) {
      group_interval[r] = static_cast<int>(intervals.size());
      intervals.push_back({static_cast<ir::ValueId>(r), align_up(bytes[v]), first[v], last[v]});
    } else {
      Interval& iv = intervals[static_cast<size_t>(group_interval[r])];
      iv.first = std::min(iv.first, first[v]);
      iv.last = std::max(iv.last, last[v]);
    }
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
  }
  // Every member of a group at its root's offset.
  for (size_t v = 0; v < n_values; ++v) {
    if (bytes[v] == 0) continue;
    plan.slots[static_cast<ir::ValueId>(v)] = plan.slots.at(static_cast<ir::ValueId>(root(v)));
    plan.naive_bytes += align_up(bytes[v]);
  }
  return plan;
}

}  // namespace kiln::builder
