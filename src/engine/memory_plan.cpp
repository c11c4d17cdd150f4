#include "engine/memory_plan.h"

#include <algorithm>
#include <numeric>

#include "ir/op_schema.h"
#include "kiln/error.h"

namespace kiln::engine {

Lifetimes value_lifetimes(const ir::Graph& g) {
  Lifetimes l;
  l.first.assign(g.values.size(), -1);
  l.last.assign(g.values.size(), -1);
  const int end = static_cast<int>(g.nodes.size());
  for (ir::ValueId v : g.inputs) {
    l.first[static_cast<size_t>(v)] = -1;
    l.last[static_cast<size_t>(v)] = std::max(l.last[static_cast<size_t>(v)], 0);
  }
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const int idx = static_cast<int>(i);
    for (ir::ValueId v : g.nodes[i].outputs) {
      if (v == ir::k_no_value) continue;
      l.first[static_cast<size_t>(v)] = idx;
      l.last[static_cast<size_t>(v)] = std::max(l.last[static_cast<size_t>(v)], idx);
    }
    for (ir::ValueId v : g.nodes[i].inputs)
      if (v != ir::k_no_value) l.last[static_cast<size_t>(v)] = std::max(l.last[static_cast<size_t>(v)], idx);
  }
  for (ir::ValueId v : g.outputs) l.last[static_cast<size_t>(v)] = end;
  return l;
}

std::vector<size_t> inplace_groups(const ir::Graph& g, const Lifetimes& life, const std::vector<bool>& eligible) {
  std::vector<size_t> group(g.values.size());
  std::iota(group.begin(), group.end(), size_t{0});
  const auto root = [&](size_t v) {
    while (group[v] != v) v = group[v] = group[group[v]];
    return v;
  };
  std::vector<bool> is_input(g.values.size(), false);
  for (ir::ValueId v : g.inputs) is_input[static_cast<size_t>(v)] = true;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const ir::Node& n = g.nodes[i];
    const ir::OpSchema* s = ir::SchemaRegistry::global().find(n.domain, n.op_type);
    if (!s || s->inplace_input < 0 || !n.has_input(static_cast<size_t>(s->inplace_input)) || n.outputs.empty() ||
        n.outputs[0] == ir::k_no_value)
      continue;
    const size_t in = static_cast<size_t>(n.inputs[static_cast<size_t>(s->inplace_input)]);
    const size_t out = static_cast<size_t>(n.outputs[0]);
    const bool sole_reader = life.last[in] == static_cast<int>(i) &&
                             std::count(n.inputs.begin(), n.inputs.end(), static_cast<ir::ValueId>(in)) == 1;
    if (!eligible[in] || !eligible[out] || is_input[in] || !sole_reader) continue;
    group[out] = root(in);
  }
  for (size_t v = 0; v < group.size(); ++v) group[v] = root(v);
  return group;
}

void check_plan(const ir::Graph& g, const MemoryPlan& plan, const std::string& label) {
  const auto fail = [&](const std::string& what) { throw Error(ErrorCode::Corrupt, label + ": memory plan " + what); };
  std::vector<bool> planned(g.values.size(), false);
  for (const auto& [v, slot] : plan.slots) {
    if (v < 0 || static_cast<size_t>(v) >= g.values.size()) fail("names an unknown value");
    const size_t arena = plan.bytes_of(slot.arena);
    if (slot.offset > arena || slot.bytes > arena - slot.offset) fail("slot outside its arena");
    const ir::Value& val = g.value(v);
    if (val.shape && ir::shape_known(*val.shape) && dtype_size(val.dtype) &&
        static_cast<uint64_t>(shape_numel(ir::to_shape(*val.shape))) * dtype_size(val.dtype) > slot.bytes)
      fail("slot of '" + val.name + "' is smaller than the value");
    planned[static_cast<size_t>(v)] = true;
  }
  const Lifetimes life = value_lifetimes(g);
  const std::vector<size_t> group = inplace_groups(g, life, planned);
  struct Item {
    ir::ValueId v;
    MemoryPlan::Slot s;
  };
  std::vector<Item> items;
  for (const auto& [v, slot] : plan.slots)
    if (slot.bytes) items.push_back({v, slot});
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    return a.s.arena != b.s.arena ? a.s.arena < b.s.arena : a.s.offset < b.s.offset;
  });
  // Sweep by offset: each slot against those that start before it ends.
  for (size_t i = 0; i < items.size(); ++i) {
    const Item& a = items[i];
    for (size_t j = i + 1; j < items.size() && items[j].s.arena == a.s.arena &&
                           items[j].s.offset < a.s.offset + a.s.bytes;
         ++j) {
      const Item& b = items[j];
      const size_t va = static_cast<size_t>(a.v), vb = static_cast<size_t>(b.v);
      const bool apart = life.last[va] < life.first[vb] || life.last[vb] < life.first[va];
      if (!apart && group[va] != group[vb])
        fail("puts '" + g.value(a.v).name + "' and '" + g.value(b.v).name + "', alive at the same time, in one place");
    }
  }
}

}  // namespace kiln::engine
