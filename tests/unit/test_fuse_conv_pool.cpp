// passes::fuse_conv_pool on an image network's stem:
//   c = Conv(x, W, B); r = Relu(c); y = MaxPool(r)
// After fuse_conv (Conv + Relu → FusedConv), the convolution and the pool
// become one com.kiln FusedConvPool; the fused graph, run node by node on the
// CPU kernels (the reference runs its stages), gives the unfused graph's
// output; what must stay unfused (Indices asked for, ceil_mode, automatic
// pads or pads past the kernel, another reader of the convolution's output,
// a backend without a kernel for the form) does; lowering's Cast before the
// convolution is absorbed. The CUDA kernel (direct_mma) is compared with the
// CPU's in test_backend_ops and, in an engine, in test_cuda_runtime.
#include <gtest/gtest.h>

#include "backends/cpu/kernels/elementwise_util.h"
#include "ir/graph.h"
#include "ir/op_schema.h"
#include "kiln/error.h"
#include "passes/passes.h"
#include "kernel_harness.h"
#include "pass_test_util.h"

namespace kiln::test {
namespace {

struct Stem : GraphBuilder {
  ir::ValueId x, c, r, y;
  ir::Node* pool = nullptr;
};

// relu: a Relu between the convolution and the pool; extra_reader: a Neg
// of the convolution's output is a graph output too.
Stem stem(bool relu = true, bool extra_reader = false) {
  Stem s;
  s.g.opsets[""] = 17;
  s.x = s.v("x", {2, 3, 20, 22});
  const ir::ValueId w = s.v("w", {8, 3, 7, 7}, filled({8, 3, 7, 7}, 0.01f, 0.f));
  const ir::ValueId b = s.v("b", {8}, filled({8}, 0.05f, 0.f));
  s.c = s.v("c", {2, 8, 10, 11});
  s.r = relu ? s.v("r", {2, 8, 10, 11}) : s.c;
  s.y = s.v("y", {2, 8, 5, 6});
  s.g.inputs = {s.x};
  ir::Node& conv = s.n("Conv", {s.x, w, b}, {s.c});
  conv.attrs["strides"] = attr_ints({2, 2});
  conv.attrs["pads"] = attr_ints({3, 3, 3, 3});
  if (relu) s.n("Relu", {s.c}, {s.r});
  if (extra_reader) {
    const ir::ValueId e = s.v("e", {2, 8, 10, 11});
    s.n("Neg", {s.c}, {e});
    s.g.outputs.push_back(e);
  }
  ir::Node& pool = s.n("MaxPool", {s.r}, {s.y});
  pool.attrs["kernel_shape"] = attr_ints({3, 3});
  pool.attrs["strides"] = attr_ints({2, 2});
  pool.attrs["pads"] = attr_ints({1, 1, 1, 1});
  s.pool = &pool;
  s.g.outputs.insert(s.g.outputs.begin(), s.y);
  ir::infer_shapes(s.g);
  return s;
}

TEST(FuseConvPool, StemConvReluAndMaxPoolBecomeOneNode) {
  Stem plain = stem(), fused = stem();
  EXPECT_EQ(passes::fuse_conv(fused.g, {}), 1);  // Conv + Relu
  ir::infer_shapes(fused.g);
  EXPECT_EQ(passes::fuse_conv_pool(fused.g), 1);
  ir::infer_shapes(fused.g);
  ASSERT_EQ(fused.g.nodes.size(), 1u);
  const ir::Node& f = fused.g.nodes[0];
  EXPECT_EQ(f.op_type, "FusedConvPool");
  EXPECT_EQ(f.domain, "com.kiln");
  EXPECT_EQ(f.attr_s("activation", "?"), "Relu");
  EXPECT_EQ(f.attr_ints("strides"), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(f.attr_ints("pool_kernel_shape"), (std::vector<int64_t>{3, 3}));
  EXPECT_EQ(f.attr_ints("pool_strides"), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(f.attr_ints("pool_pads"), (std::vector<int64_t>{1, 1, 1, 1}));
  EXPECT_EQ(fused.g.value(f.outputs[0]).name, "y");
  EXPECT_EQ(ir::to_shape(*fused.g.value(f.outputs[0]).shape), (Shape{2, 8, 5, 6}));

  const std::vector<Tensor> in{filled({2, 3, 20, 22}, 0.3f, 0.1f)};
  expect_near_all(run_on_cpu(fused.g, in)[0], run_on_cpu(plain.g, in)[0], 1e-5);
}

TEST(FuseConvPool, APlainConvTakesNoActivation) {
  Stem plain = stem(false), fused = stem(false);
  EXPECT_EQ(passes::fuse_conv_pool(fused.g), 1);
  ir::infer_shapes(fused.g);
  ASSERT_EQ(fused.g.nodes.size(), 1u);
  EXPECT_EQ(fused.g.nodes[0].attr_s("activation", "?"), "");
  const std::vector<Tensor> in{filled({2, 3, 20, 22}, -0.2f, 0.05f)};
  expect_near_all(run_on_cpu(fused.g, in)[0], run_on_cpu(plain.g, in)[0], 1e-5);
}

// x (float32) -> Cast(f16) -> Conv (f16 W, B) -> MaxPool: lowering's Cast at
// a 16-bit engine's input is absorbed, X read as float32.
TEST(FuseConvPool, TheInputCastIsAbsorbed) {
  const auto build = [] {
    GraphBuilder b;
    b.g.opsets[""] = 17;
    const ir::ValueId x = b.v("x", {1, 3, 12, 14});
    b.dtype = DataType::Float16;
    const ir::ValueId xc = b.v("xc", {1, 3, 12, 14});
    const ir::ValueId w = b.v("w", {8, 3, 7, 7},
                              backend::ew::cast_tensor(filled({8, 3, 7, 7}, 0.01f, 0.f), DataType::Float16, "w"));
    const ir::ValueId c = b.v("c", {1, 8, 6, 7}), y = b.v("y", {1, 8, 3, 4});
    b.g.inputs = {x};
    b.g.outputs = {y};
    b.n("Cast", {x}, {xc}).attrs["to"] = attr_i(10);  // FLOAT16
    ir::Node& conv = b.n("Conv", {xc, w}, {c});
    conv.attrs["strides"] = attr_ints({2, 2});
    conv.attrs["pads"] = attr_ints({3, 3, 3, 3});
    ir::Node& pool = b.n("MaxPool", {c}, {y});
    pool.attrs["kernel_shape"] = attr_ints({3, 3});
    pool.attrs["strides"] = attr_ints({2, 2});
    pool.attrs["pads"] = attr_ints({1, 1, 1, 1});
    ir::infer_shapes(b.g);
    return b;
  };
  GraphBuilder plain = build(), fused = build();
  EXPECT_EQ(passes::fuse_conv_pool(fused.g), 1);
  ir::infer_shapes(fused.g);
  ASSERT_EQ(fused.g.nodes.size(), 1u);
  const ir::Node& f = fused.g.nodes[0];
  EXPECT_EQ(f.op_type, "FusedConvPool");
  EXPECT_EQ(fused.g.value(f.inputs[0]).dtype, DataType::Float32);
  EXPECT_EQ(fused.g.value(f.outputs[0]).dtype, DataType::Float16);
  const std::vector<Tensor> in{filled({1, 3, 12, 14}, 0.3f, 0.1f)};
  const Tensor got = run_on_cpu(fused.g, in)[0], want = run_on_cpu(plain.g, in)[0];
  ASSERT_EQ(got.dtype(), DataType::Float16);
  expect_near_all(backend::ew::cast_tensor(got, DataType::Float32, "got"),
                  backend::ew::cast_tensor(want, DataType::Float32, "want"), 0.0);

  GraphBuilder refused = build();  // a backend without the float32 form keeps the Cast
  EXPECT_EQ(passes::fuse_conv_pool(refused.g, {}, [&](const ir::Node& n) {
              return refused.g.value(n.inputs[0]).dtype != DataType::Float32;
            }), 1);
  EXPECT_EQ(count_ops(refused.g, "Cast"), 1);
  EXPECT_EQ(count_ops(refused.g, "FusedConvPool"), 1);
}

TEST(FuseConvPool, LeavesWhatItCannotFuse) {
  {
    Stem s = stem(false, /*extra_reader=*/true);  // the conv output is read twice
    EXPECT_EQ(passes::fuse_conv_pool(s.g), 0);
  }
  // (pads past the kernel: MaxPool's schema takes them, FusedConvPool's not)
  for (const auto& [attr, value] : std::vector<std::pair<std::string, ir::Attribute>>{
           {"ceil_mode", attr_i(1)}, {"auto_pad", attr_s("SAME_UPPER")}, {"dilations", attr_ints({2, 2})},
           {"pads", attr_ints({3, 0, 0, 0})}}) {
    Stem s = stem(false);
    s.pool->attrs[attr] = value;
    if (attr == "auto_pad") s.pool->attrs.erase("pads");
    ir::infer_shapes(s.g);
    EXPECT_EQ(passes::fuse_conv_pool(s.g), 0) << attr;
  }
  {
    Stem s = stem(false);
    s.pool->outputs.push_back(s.v("indices", {2, 8, 5, 6}));
    ir::infer_shapes(s.g);
    EXPECT_EQ(passes::fuse_conv_pool(s.g), 0);
  }
  {
    Stem s = stem(false);  // the backend has no kernel for it
    EXPECT_EQ(passes::fuse_conv_pool(s.g, {}, [](const ir::Node&) { return false; }), 0);
    EXPECT_EQ(count_ops(s.g, "MaxPool"), 1);
  }
  {
    Stem s = stem(false);  // not this backend's nodes
    EXPECT_EQ(passes::fuse_conv_pool(s.g, [](const ir::Node& n) { return n.op_type != "MaxPool"; }), 0);
  }
}

TEST(FuseConvPool, SchemaRejectsABadWindow) {
  Stem s = stem(false);
  ASSERT_EQ(passes::fuse_conv_pool(s.g), 1);
  s.g.nodes[0].attrs["pool_pads"] = attr_ints({3, 3, 3, 3});  // pads >= kernel
  try {
    ir::infer_shapes(s.g);
    FAIL() << "a pool pad past its kernel was accepted";
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("pool_kernel_shape"), std::string::npos) << e.message();
  }
}

}  // namespace
}  // namespace kiln::test
