#include <gtest/gtest.h>

#include "builder/memory_planner.h"

namespace kiln::test {
namespace {

// in → n0 → v1 → n1 → v2 → ... → out: a chain of `len` unary nodes over [rows, 64] floats.
ir::Graph chain(int len, int64_t rows) {
  ir::Graph g;
  g.opsets[""] = 13;
  auto value = [&](const std::string& name) {
    ir::Value v;
    v.name = name;
    v.dtype = DataType::Float32;
    v.shape = ir::SymShape{rows, 64};
    return g.add_value(v);
  };
  ir::ValueId prev = value("in");
  g.inputs.push_back(prev);
  for (int i = 0; i < len; ++i) {
    ir::ValueId next = value("v" + std::to_string(i));
    ir::Node n;
    n.name = "n" + std::to_string(i);
    n.op_type = "Relu";
    n.inputs = {prev};
    n.outputs = {next};
    g.add_node(n);
    prev = next;
  }
  g.outputs.push_back(prev);
  return g;
}

bool overlaps(const engine::MemoryPlan::Slot& a, const engine::MemoryPlan::Slot& b) {
  return a.offset < b.offset + b.bytes && b.offset < a.offset + a.bytes;
}

TEST(MemoryPlan, ChainReusesTwoBuffers) {
  const ir::Graph g = chain(10, 16);
  const auto plan = builder::plan_memory(g);
  // 9 intermediates (the last value is a graph output, not planned).
  EXPECT_EQ(plan.slots.size(), 9u);
  const size_t one = 16 * 64 * 4;
  EXPECT_EQ(plan.naive_bytes, 9 * one);
  EXPECT_EQ(plan.arena_bytes, 2 * one);  // ping-pong
}

TEST(MemoryPlan, LiveValuesNeverOverlap) {
  // Diamond-ish graph: v0 is read by every later node, so it stays alive.
  ir::Graph g = chain(6, 8);
  for (auto& n : g.nodes)
    if (n.name != "n0" && n.name != "n1") n.inputs.push_back(g.nodes[0].outputs[0]);
  const auto plan = builder::plan_memory(g);
  const ir::ValueId v0 = g.nodes[0].outputs[0];
  for (const auto& [v, slot] : plan.slots) {
    EXPECT_EQ(slot.offset % engine::MemoryPlan::k_alignment, 0u);
    if (v != v0) EXPECT_FALSE(overlaps(slot, plan.slots.at(v0))) << "value " << v << " overlaps v0";
  }
}

TEST(MemoryPlan, SkipsUnknownShapesAndConstants) {
  ir::Graph g = chain(3, 4);
  g.value(g.nodes[0].outputs[0]).shape = ir::SymShape{ir::Dim::sym("n"), 64};
  const auto plan = builder::plan_memory(g);
  EXPECT_EQ(plan.slots.count(g.nodes[0].outputs[0]), 0u);
  EXPECT_EQ(plan.slots.size(), 1u);
}

}  // namespace
}  // namespace kiln::test
