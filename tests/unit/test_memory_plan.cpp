#include <gtest/gtest.h>

#include "backends/backend.h"
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
  const auto plan = builder::plan_memory(g, backend::host_backend());
  // The input, 9 intermediates and the output: fixed I/O buffers are planned too.
  EXPECT_EQ(plan.slots.size(), 11u);
  const size_t one = 16 * 64 * 4;
  EXPECT_EQ(plan.naive_bytes, 11 * one);
  EXPECT_EQ(plan.arena_bytes, 2 * one);  // ping-pong
  EXPECT_NO_THROW(engine::check_plan(g, plan, "test"));
}

TEST(MemoryPlan, LiveValuesNeverOverlap) {
  // Diamond-ish graph: v0 is read by every later node, so it stays alive.
  ir::Graph g = chain(6, 8);
  for (auto& n : g.nodes)
    if (n.name != "n0" && n.name != "n1") n.inputs.push_back(g.nodes[0].outputs[0]);
  const auto plan = builder::plan_memory(g, backend::host_backend());
  const ir::ValueId v0 = g.nodes[0].outputs[0];
  for (const auto& [v, slot] : plan.slots) {
    EXPECT_EQ(slot.offset % engine::MemoryPlan::k_alignment, 0u);
    if (v != v0) {
      EXPECT_FALSE(overlaps(slot, plan.slots.at(v0))) << "value " << v << " overlaps v0";
    }
  }
}

TEST(MemoryPlan, SkipsUnknownShapesAndConstants) {
  ir::Graph g = chain(3, 4);
  g.value(g.nodes[0].outputs[0]).shape = ir::SymShape{ir::Dim::sym("n"), 64};
  const auto plan = builder::plan_memory(g, backend::host_backend());
  EXPECT_EQ(plan.slots.count(g.nodes[0].outputs[0]), 0u);
  EXPECT_EQ(plan.slots.size(), 3u);  // in, v1, out
}

// in → Relu → z;  FusedConv(in, W, _, Z=z) → y;  Relu(y) → out, and with
// `z_read_later` one more node reading z after the conv.
ir::Graph residual(bool z_read_later) {
  ir::Graph g;
  g.opsets[""] = 13;
  g.opsets["com.kiln"] = 1;
  auto value = [&](const std::string& name, ir::SymShape shape = ir::SymShape{1, 4, 8, 8}) {
    ir::Value v;
    v.name = name;
    v.dtype = DataType::Float32;
    v.shape = shape;
    return g.add_value(v);
  };
  auto node = [&](const std::string& op, std::vector<ir::ValueId> ins, ir::ValueId out, const std::string& domain = "") {
    ir::Node n;
    n.name = op + std::to_string(g.nodes.size());
    n.op_type = op;
    n.domain = domain;
    n.inputs = std::move(ins);
    n.outputs = {out};
    g.add_node(n);
  };
  const ir::ValueId in = value("in"), z = value("z"), y = value("y"), out = value("out");
  const ir::ValueId w = value("W", ir::SymShape{4, 4, 1, 1});
  g.value(w).constant = Tensor::empty(DataType::Float32, {4, 4, 1, 1});
  g.inputs = {in};
  node("Relu", {in}, z);
  node("FusedConv", {in, w, ir::k_no_value, z}, y, "com.kiln");
  if (z_read_later) {
    const ir::ValueId r = value("r");
    node("Relu", {y}, r);
    node("Add", {r, z}, out);
  } else {
    node("Relu", {y}, out);
  }
  g.outputs = {out};
  return g;
}

TEST(MemoryPlan, ResidualOutputTakesTheDeadResidualsBuffer) {
  const ir::Graph g = residual(false);
  const auto plan = builder::plan_memory(g, backend::host_backend());
  const ir::ValueId z = g.nodes[0].outputs[0], y = g.nodes[1].outputs[0];
  EXPECT_EQ(plan.slots.at(z).offset, plan.slots.at(y).offset);
  // The input's buffer (alive while the conv reads it) and one for both.
  EXPECT_EQ(plan.arena_bytes, 2 * 4 * 8 * 8 * 4u);
  EXPECT_NO_THROW(engine::check_plan(g, plan, "test"));
}

TEST(MemoryPlan, ResidualStillReadLaterKeepsItsOwnBuffer) {
  const ir::Graph g = residual(true);
  const auto plan = builder::plan_memory(g, backend::host_backend());
  const ir::ValueId z = g.nodes[0].outputs[0], y = g.nodes[1].outputs[0];
  EXPECT_FALSE(overlaps(plan.slots.at(z), plan.slots.at(y)));
  // and z stays clear of everything alive while it is
  for (const auto& [v, slot] : plan.slots)
    if (v != z) {
      EXPECT_FALSE(overlaps(slot, plan.slots.at(z))) << g.value(v).name;
    }
}

// in → Relu → a → Flatten → f → Relu → out: Flatten keeps the bytes, so f
// takes a's buffer (a dies there); with `a_read_later`, a Relu reads a after
// and f gets its own.
TEST(MemoryPlan, ReshapeOutputTakesItsDeadInputsBuffer) {
  for (const bool a_read_later : {false, true}) {
    ir::Graph g = chain(1, 8);  // in → n0 → v0 (the output, replaced below)
    const ir::ValueId a = g.nodes[0].outputs[0];
    ir::Value fv;
    fv.name = "f";
    fv.dtype = DataType::Float32;
    fv.shape = ir::SymShape{8 * 64};
    const ir::ValueId f = g.add_value(fv);
    fv.name = "out";
    const ir::ValueId out = g.add_value(fv);
    ir::Node flat;
    flat.name = "flatten";
    flat.op_type = "Reshape";
    ir::Value sv;
    sv.name = "shape";
    sv.dtype = DataType::Int64;
    sv.shape = ir::SymShape{1};
    sv.constant = Tensor::from_vector(DataType::Int64, {1}, std::vector<int64_t>{8 * 64});
    flat.inputs = {a, g.add_value(sv)};
    flat.outputs = {f};
    g.add_node(flat);
    ir::Node relu;
    relu.name = "relu_out";
    relu.op_type = "Relu";
    relu.inputs = {f};
    relu.outputs = {out};
    g.add_node(relu);
    g.outputs = {out};
    if (a_read_later) {
      fv.name = "late";
      fv.shape = ir::SymShape{8, 64};
      const ir::ValueId late = g.add_value(fv);
      relu.name = "relu_late";
      relu.inputs = {a};
      relu.outputs = {late};
      g.add_node(relu);
      g.outputs.push_back(late);
    }
    const auto plan = builder::plan_memory(g, backend::host_backend());
    if (a_read_later) EXPECT_FALSE(overlaps(plan.slots.at(a), plan.slots.at(f)));
    else EXPECT_EQ(plan.slots.at(a).offset, plan.slots.at(f).offset);
    EXPECT_NO_THROW(engine::check_plan(g, plan, "test"));
  }
}

}  // namespace
}  // namespace kiln::test
