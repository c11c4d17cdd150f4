// passes::fuse_skip_layer_norm on a transformer block's residual stream:
//   s = Add(x, r); y = LayerNormalization(s); z = Add(s, y)
// The Add and the norm become one com.kiln SkipLayerNormalization that also
// gives s to the next residual add; the fused graph, run node by node on the
// CPU kernels, gives the unfused graph's outputs; what must stay unfused
// (broadcasting adds, statistics asked for, a reader of s before the norm)
// does. The CUDA kernel is compared with the CPU's in test_backend_ops.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "ir/graph.h"
#include "ir/op_schema.h"
#include "kiln/error.h"
#include "passes/passes.h"
#include "kernel_harness.h"
#include "pass_test_util.h"

namespace kiln::test {
namespace {

struct Block : GraphBuilder {
  ir::ValueId x, r, s, y, z;
};

// r_shape: the residual's shape ({1,4,8} = no broadcast); `stats`: the norm
// also writes Mean; `early_reader`: a Neg of s placed before the norm.
Block block(Shape r_shape = {1, 4, 8}, bool stats = false, bool early_reader = false) {
  Block b;
  b.g.opsets[""] = 17;
  const Shape act{1, 4, 8};
  b.x = b.v("x", act);
  b.r = b.v("r", r_shape);
  b.s = b.v("s", act);
  b.y = b.v("y", act);
  b.z = b.v("z", act);
  const ir::ValueId scale = b.v("scale", {8}, filled({8}, 0.05f, 1.f)),
                    bias = b.v("bias", {8}, filled({8}, 0.1f, 0.f));
  b.g.inputs = {b.x, b.r};
  b.n("Add", {b.x, b.r}, {b.s});
  if (early_reader) {
    const ir::ValueId e = b.v("e", act);
    b.n("Neg", {b.s}, {e});
    b.g.outputs.push_back(e);
  }
  std::vector<ir::ValueId> ln_out{b.y};
  if (stats) {
    ln_out.push_back(b.v("mean", {1, 4, 1}));
    b.g.outputs.push_back(ln_out.back());
  }
  b.n("LayerNormalization", {b.s, scale, bias}, ln_out).attrs["epsilon"] = attr_f(1e-3f);
  b.n("Add", {b.s, b.y}, {b.z});
  b.g.outputs.insert(b.g.outputs.begin(), b.z);
  ir::infer_shapes(b.g);
  return b;
}

TEST(FuseSkipLayerNorm, ResidualAddAndNormBecomeOneNodeWithTheSum) {
  Block plain = block(), fused = block();
  EXPECT_EQ(passes::fuse_skip_layer_norm(fused.g), 1);
  ir::infer_shapes(fused.g);
  ASSERT_EQ(fused.g.nodes.size(), 2u);
  const ir::Node& f = fused.g.nodes[0];
  EXPECT_EQ(f.op_type, "SkipLayerNormalization");
  EXPECT_EQ(f.domain, "com.kiln");
  EXPECT_EQ(f.inputs.size(), 4u);  // x, r, scale, bias
  ASSERT_EQ(f.outputs.size(), 2u);
  // (pruning renumbers values: compare names)
  EXPECT_EQ(fused.g.value(f.outputs[0]).name, "y");
  EXPECT_EQ(fused.g.value(f.outputs[1]).name, "s");  // the next residual add reads it
  EXPECT_FLOAT_EQ(f.attr_f("epsilon", 0.f), 1e-3f);
  EXPECT_EQ(count_ops(fused.g, "Add"), 1);

  const std::vector<Tensor> in{filled({1, 4, 8}, 0.3f, 0.5f), filled({1, 4, 8}, -0.2f, 0.1f)};
  expect_near_all(run_on_cpu(fused.g, in)[0], run_on_cpu(plain.g, in)[0], 1e-5);
}

TEST(FuseSkipLayerNorm, TheSumIsDroppedWhenOnlyTheNormReadsIt) {
  Block b;
  b.g.opsets[""] = 17;
  b.x = b.v("x", {2, 8});
  b.r = b.v("r", {2, 8});
  b.s = b.v("s", {2, 8});
  b.y = b.v("y", {2, 8});
  b.g.inputs = {b.x, b.r};
  b.n("Add", {b.x, b.r}, {b.s});
  b.n("LayerNormalization", {b.s, b.v("scale", {8}, filled({8}, 0.05f, 1.f))}, {b.y});
  b.g.outputs = {b.y};
  ir::infer_shapes(b.g);
  EXPECT_EQ(passes::fuse_skip_layer_norm(b.g), 1);
  ASSERT_EQ(b.g.nodes.size(), 1u);
  ASSERT_EQ(b.g.nodes[0].outputs.size(), 1u);
  EXPECT_EQ(b.g.value(b.g.nodes[0].outputs[0]).name, "y");
  EXPECT_EQ(b.g.nodes[0].inputs.size(), 3u);
  // The CPU reference without a Sum output gives the norm of x + r.
  const Tensor x = filled({2, 8}, 0.3f, 0.5f), r = filled({2, 8}, -0.2f, 0.1f);
  const Tensor got = run_on_cpu(b.g, {x, r})[0];
  for (int64_t row = 0; row < 2; ++row) {
    double mean = 0, var = 0;
    for (int64_t j = 0; j < 8; ++j) mean += x.data<float>()[row * 8 + j] + r.data<float>()[row * 8 + j];
    mean /= 8;
    for (int64_t j = 0; j < 8; ++j) {
      const double d = x.data<float>()[row * 8 + j] + r.data<float>()[row * 8 + j] - mean;
      var += d * d / 8;
    }
    const Tensor scale = filled({8}, 0.05f, 1.f);
    for (int64_t j = 0; j < 8; ++j) {
      const double v = x.data<float>()[row * 8 + j] + r.data<float>()[row * 8 + j];
      EXPECT_NEAR(got.data<float>()[row * 8 + j], (v - mean) / std::sqrt(var + 1e-5) * scale.data<float>()[j], 1e-5);
    }
  }
}

TEST(FuseSkipLayerNorm, WhatMustStayUnfusedDoes) {
  Block broadcast = block({8});  // the Add broadcasts r
  EXPECT_EQ(passes::fuse_skip_layer_norm(broadcast.g), 0);
  Block stats = block({1, 4, 8}, true);  // Mean asked for
  EXPECT_EQ(passes::fuse_skip_layer_norm(stats.g), 0);
  Block early = block({1, 4, 8}, false, true);  // s read before the norm's place
  EXPECT_EQ(passes::fuse_skip_layer_norm(early.g), 0);
  EXPECT_EQ(count_ops(early.g, "LayerNormalization"), 1);
  // Not the backend's: the filter says no.
  Block other = block();
  EXPECT_EQ(passes::fuse_skip_layer_norm(other.g, [](const ir::Node&) { return false; }), 0);
}

TEST(FuseSkipLayerNorm, SchemaChecksTheFusedNode) {
  Block b = block();
  ASSERT_EQ(passes::fuse_skip_layer_norm(b.g), 1);
  ir::Node& f = b.g.nodes[0];
  f.inputs[1] = b.v("short", {8});  // B of another shape than A
  try {
    ir::infer_node(b.g, f);
    FAIL() << "B of another shape passed";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("must have the shape of A"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kiln::test
