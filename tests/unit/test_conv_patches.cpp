// passes::conv_patches_as_matmul: a ViT patch embedding (Conv with kernel ==
// stride, reshaped and transposed into tokens) becomes a GEMM of the patches
// giving the same tokens; near misses stay convolutions.
#include <gtest/gtest.h>

#include "ir/op_schema.h"
#include "kernel_harness.h"
#include "pass_test_util.h"
#include "passes/passes.h"

namespace kiln::test {
namespace {

struct Opts {
  bool bias = true;
  std::vector<int64_t> strides = {4, 4};
  std::vector<int64_t> perm = {0, 2, 1};
};

// X [2, 3, 8, 12], W [5, 3, 4, 4] -> O [2, 5, 2, 3] -> [2, 5, 6] -> Z [2, 6, 5]
GraphBuilder patch_embedding(const Opts& o = {}) {
  GraphBuilder b;
  b.g.opsets[""] = 17;
  const int64_t hp = (8 - 4) / o.strides[0] + 1, wp = (12 - 4) / o.strides[1] + 1;
  const ir::ValueId x = b.v("x", {2, 3, 8, 12});
  b.g.inputs = {x};
  std::vector<ir::ValueId> in = {x, b.v("w", {5, 3, 4, 4}, filled({5, 3, 4, 4}, 0.03f, 0.01f))};
  if (o.bias) in.push_back(b.v("b", {5}, filled({5}, 0.1f, -0.2f)));
  const ir::ValueId out = b.v("o", {2, 5, hp, wp}), r = b.v("r", {2, 5, hp * wp}), z = b.v("z", {2, hp * wp, 5});
  ir::Node& c = b.n("Conv", in, {out});
  c.attrs["kernel_shape"] = attr_ints({4, 4});
  c.attrs["strides"] = attr_ints(o.strides);
  Tensor shape = Tensor::empty(DataType::Int64, {3});
  shape.data<int64_t>()[0] = 2;
  shape.data<int64_t>()[1] = 5;
  shape.data<int64_t>()[2] = hp * wp;
  b.n("Reshape", {out, b.v("s", {3}, shape)}, {r});
  b.n("Transpose", {r}, {z}).attrs["perm"] = attr_ints(o.perm);
  b.g.outputs = {z};
  ir::infer_shapes(b.g);
  return b;
}

void expect_rewritten(const Opts& o) {
  GraphBuilder plain = patch_embedding(o), fused = patch_embedding(o);
  ASSERT_EQ(passes::conv_patches_as_matmul(fused.g), 1);
  ir::infer_shapes(fused.g);
  EXPECT_EQ(count_ops(fused.g, "Conv"), 0);
  EXPECT_EQ(count_ops(fused.g, "FusedMatMul"), 1);
  EXPECT_EQ(count_ops(fused.g, "Transpose"), 1);  // the image's patches gathered
  EXPECT_EQ(ir::to_shape(*fused.g.value(fused.g.outputs[0]).shape), (Shape{2, 6, 5}));
  const std::vector<Tensor> in{filled({2, 3, 8, 12}, 0.2f, 0.05f)};
  expect_near_all(run_on_cpu(fused.g, in)[0], run_on_cpu(plain.g, in)[0], 1e-5);
}

TEST(ConvPatchesAsMatMul, APatchEmbeddingIsOneGemm) {
  expect_rewritten({});
  Opts no_bias;
  no_bias.bias = false;
  expect_rewritten(no_bias);
}

TEST(ConvPatchesAsMatMul, NearMissesStayConvolutions) {
  Opts overlap;
  overlap.strides = {2, 2};  // windows overlap: not patches
  GraphBuilder a = patch_embedding(overlap);
  EXPECT_EQ(passes::conv_patches_as_matmul(a.g), 0);
  Opts other_perm;
  other_perm.perm = {1, 0, 2};
  GraphBuilder b = patch_embedding(other_perm);
  EXPECT_EQ(passes::conv_patches_as_matmul(b.g), 0);
  GraphBuilder c = patch_embedding();
  EXPECT_EQ(passes::conv_patches_as_matmul(c.g, [](const ir::Node&) { return false; }), 0);
}

}  // namespace
}  // namespace kiln::test
