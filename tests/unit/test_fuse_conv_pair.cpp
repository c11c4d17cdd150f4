// passes::fuse_conv_pair on a ResNet block's tail with a projection shortcut:
//   a = Relu(Conv(x, W1)); c = Conv(a, W3, B3); d = Conv(x, Wd, Bd)
//   y = Relu(c + d)
// After fuse_conv (c + Add + Relu → FusedConv with Z = d), the block's last
// convolution and the shortcut become one com.kiln FusedConvPair; the fused
// graph, run node by node on the CPU kernels (the reference runs its
// stages), gives the unfused graph's output, with a unit or stride-2
// shortcut; what must stay apart (a second reader of the shortcut, a
// shortcut that is not a plain 1x1 convolution or has its own activation,
// a backend without the kernel, another backend's nodes) does. The CUDA
// kernels (mma_pair, the cuDNN stages) are compared with the CPU's in
// test_backend_ops and, in ResNet-50, by scripts/compare_torchvision.py.
#include <gtest/gtest.h>

#include "ir/graph.h"
#include "ir/op_schema.h"
#include "kiln/error.h"
#include "passes/passes.h"
#include "kernel_harness.h"
#include "pass_test_util.h"

namespace kiln::test {
namespace {

struct Block : GraphBuilder {
  ir::ValueId x, d, y;
  std::string shortcut;  // the shortcut convolution's name
};

struct BlockOptions {
  int64_t stride = 1;          // of the block's first convolution and the shortcut
  bool shortcut_read = false;  // d is a graph output too
  bool shortcut_relu = false;  // d = Relu(Conv(...)) before the add
  int64_t shortcut_kernel = 1;
};

Block block(const BlockOptions& o = {}) {
  Block b;
  b.g.opsets[""] = 17;
  const int64_t s = o.stride, k = o.shortcut_kernel;
  const int64_t h = 6 * s, w = 7 * s;
  b.x = b.v("x", {2, 16, h, w});
  const ir::ValueId w1 = b.v("w1", {8, 16, 1, 1}, filled({8, 16, 1, 1}, 0.03f, -0.1f));
  const ir::ValueId w3 = b.v("w3", {32, 8, 1, 1}, filled({32, 8, 1, 1}, 0.02f, -0.2f));
  const ir::ValueId b3 = b.v("b3", {32}, filled({32}, 0.01f, -0.1f));
  const ir::ValueId wd = b.v("wd", {32, 16, k, k}, filled({32, 16, k, k}, -0.015f, 0.15f));
  const ir::ValueId bd = b.v("bd", {32}, filled({32}, -0.02f, 0.3f));
  const ir::ValueId c1 = b.v("c1", {2, 8, 6, 7}), a = b.v("a", {2, 8, 6, 7}), c = b.v("c", {2, 32, 6, 7});
  b.d = b.v("d", {2, 32, 6, 7});
  const ir::ValueId dr = o.shortcut_relu ? b.v("dr", {2, 32, 6, 7}) : b.d;
  const ir::ValueId sum = b.v("sum", {2, 32, 6, 7});
  b.y = b.v("y", {2, 32, 6, 7});
  b.g.inputs = {b.x};
  b.n("Conv", {b.x, w1}, {c1}).attrs["strides"] = attr_ints({s, s});
  b.n("Relu", {c1}, {a});
  b.n("Conv", {a, w3, b3}, {c});
  ir::Node& sc = b.n("Conv", {b.x, wd, bd}, {b.d});
  sc.attrs["strides"] = attr_ints({s, s});
  if (k == 3) sc.attrs["pads"] = attr_ints({1, 1, 1, 1});
  b.shortcut = sc.name;
  if (o.shortcut_relu) b.n("Relu", {b.d}, {dr});
  b.n("Add", {c, dr}, {sum});
  b.n("Relu", {sum}, {b.y});
  b.g.outputs = {b.y};
  if (o.shortcut_read) b.g.outputs.push_back(b.d);
  ir::infer_shapes(b.g);
  return b;
}

int fuse(Block& b, const passes::NodeFilter& mine = {}, const passes::NodeFilter& runs = {}) {
  passes::fuse_conv(b.g, {});
  ir::infer_shapes(b.g);
  const int n = passes::fuse_conv_pair(b.g, mine, runs);
  ir::infer_shapes(b.g);
  return n;
}

TEST(FuseConvPair, TheLastConvolutionAndTheShortcutBecomeOneNode) {
  for (const int64_t stride : {1, 2}) {
    Block plain = block({stride}), fused = block({stride});
    EXPECT_EQ(fuse(fused), 1) << stride;
    ASSERT_EQ(count_ops(fused.g, "FusedConvPair"), 1);
    EXPECT_EQ(count_ops(fused.g, "Add"), 0);
    for (const ir::Node& n : fused.g.nodes) {
      if (n.op_type != "FusedConvPair") continue;
      EXPECT_EQ(n.domain, "com.kiln");
      EXPECT_EQ(n.attr_s("activation", "?"), "Relu");
      ASSERT_EQ(n.inputs.size(), 6u);
      EXPECT_EQ(fused.g.value(n.inputs[0]).name, "a");
      EXPECT_EQ(fused.g.value(n.inputs[3]).name, "x");
      EXPECT_EQ(n.attr_ints("z_strides"), (std::vector<int64_t>{stride, stride}));
      EXPECT_EQ(fused.g.value(n.outputs[0]).name, "y");
    }
    const std::vector<Tensor> in{filled({2, 16, 6 * stride, 7 * stride}, 0.01f, -0.4f)};
    const Tensor want = run_on_cpu(plain.g, in)[0];
    expect_near_all(run_on_cpu(fused.g, in)[0], want, 1e-5);
  }
}

TEST(FuseConvPair, LeavesWhatItCannotFuse) {
  {
    Block b = block({.shortcut_read = true});
    EXPECT_EQ(fuse(b), 0);
  }
  {
    Block b = block({.shortcut_relu = true});  // the shortcut has its own activation
    EXPECT_EQ(fuse(b), 0);
  }
  {
    Block b = block({.shortcut_kernel = 3});  // not 1x1 (and padded)
    EXPECT_EQ(fuse(b), 0);
  }
  {
    Block b = block();  // the backend has no kernel for it
    EXPECT_EQ(fuse(b, {}, [](const ir::Node&) { return false; }), 0);
    EXPECT_EQ(count_ops(b.g, "FusedConv"), 2);  // the first convolution's Relu, the last one's add
  }
  {
    Block b = block();  // the shortcut is another backend's node
    EXPECT_EQ(fuse(b, [&](const ir::Node& n) { return n.name != b.shortcut; }), 0);
  }
}

TEST(FuseConvPair, SchemaRejectsOutputsThatDiffer) {
  Block b = block({2});
  ASSERT_EQ(fuse(b), 1);
  for (ir::Node& n : b.g.nodes)
    if (n.op_type == "FusedConvPair") n.attrs["z_strides"] = attr_ints({1, 1});  // X2's output twice as large
  try {
    ir::infer_shapes(b.g);
    FAIL() << "a FusedConvPair whose convolutions' outputs differ was accepted";
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("differ"), std::string::npos) << e.message();
  }
}

}  // namespace
}  // namespace kiln::test
