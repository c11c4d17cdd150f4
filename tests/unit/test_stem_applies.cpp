// Where stem_mma (backends/cuda/kernels/conv_stem.h) applies, decided at
// build time from the graph: ResNet's stem over the graph's image (X plain,
// Y channels last, 3 -> 32 or 64 channels, 7x7 stride 2, a 3x3/2 pool with
// pads 1, a width of 4k, at most 56 pooled columns, Relu or none, no Z), and
// nothing else. Host code: it runs without a GPU. The kernel's results are
// compared with the CPU's in test_backend_ops (its own cases there).
#include <gtest/gtest.h>

#include "kernel_harness.h"
#include "pass_test_util.h"

#ifdef KILN_WITH_CUDA
#include "backends/cuda/kernels/conv_stem.h"
#endif

namespace kiln::test {
namespace {

#ifdef KILN_WITH_CUDA

struct Stem {
  Shape x{2, 3, 64, 64};
  int64_t m = 64, kw = 7, stride = 2;
  DataType x_dtype = DataType::Float32, w_dtype = DataType::Float16;
  std::vector<int64_t> pool_kernel{3, 3}, pool_pads{1, 1, 1, 1};
  std::string act = "Relu";
  bool x_nhwc = false, y_nhwc = true, z = false;
};

bool applies(const Stem& s) {
  GraphBuilder b;
  b.dtype = s.x_dtype;
  const ir::ValueId x = b.v("x", s.x);
  b.dtype = s.w_dtype;
  const ir::ValueId w = b.v("w", {s.m, s.x[1], 7, s.kw}, Tensor::empty(s.w_dtype, {s.m, s.x[1], 7, s.kw}));
  const ir::ValueId bias = b.v("b", {s.m}, Tensor::empty(s.w_dtype, {s.m}));
  const ir::ValueId y = b.v("y", {s.x[0], s.m, 16, 16});
  std::vector<ir::ValueId> in = {x, w, bias};
  if (s.z) in.push_back(b.v("z", {s.x[0], s.m, 32, 32}));
  ir::Node& n = b.n("FusedConvPool", in, {y});
  n.domain = "com.kiln";
  n.attrs["strides"] = attr_ints({s.stride, s.stride});
  n.attrs["pads"] = attr_ints({3, 3, 3, 3});
  n.attrs["pool_kernel_shape"] = attr_ints(s.pool_kernel);
  n.attrs["pool_strides"] = attr_ints({2, 2});
  n.attrs["pool_pads"] = attr_ints(s.pool_pads);
  n.attrs["activation"] = attr_s(s.act);
  n.attrs["kiln_in_layouts"] = attr_ints({s.x_nhwc ? 1 : 0, 0, 0});
  n.attrs["kiln_out_layout"] = attr_i(s.y_nhwc ? 1 : 0);
  return backend::cuda::stem_conv_applies(b.g.nodes.back(), b.g);
}

TEST(StemApplies, ResNetsStemOverTheImage) {
  EXPECT_TRUE(applies({}));
  Stem s;
  s.x = {256, 3, 224, 224};  // four warps across a row: 56 pooled columns
  EXPECT_TRUE(applies(s));
  s.m = 32;
  s.act = "";
  s.x_dtype = DataType::Float16;
  s.w_dtype = DataType::Float16;
  EXPECT_TRUE(applies(s));
  s.w_dtype = s.x_dtype = DataType::BFloat16;
  s.pool_pads = {1, 1, 0, 0};
  s.kw = 5;
  EXPECT_TRUE(applies(s));
}

TEST(StemApplies, NothingElse) {
  const auto refused = [](auto change, const char* what) {
    Stem s;
    change(s);
    EXPECT_FALSE(applies(s)) << what;
  };
  refused([](Stem& s) { s.x_nhwc = true; }, "channels-last X");
  refused([](Stem& s) { s.y_nhwc = false; }, "plain Y");
  refused([](Stem& s) { s.x = {2, 4, 64, 64}; }, "4 input channels");
  refused([](Stem& s) { s.m = 48; }, "48 output channels");
  refused([](Stem& s) { s.stride = 1; }, "stride 1");
  refused([](Stem& s) { s.x = {2, 3, 64, 62}; }, "a width not a multiple of 4");
  refused([](Stem& s) { s.x = {2, 3, 64, 240}; }, "60 pooled columns");
  refused([](Stem& s) { s.pool_kernel = {2, 2}; }, "a 2x2 pool");
  refused([](Stem& s) { s.pool_pads = {0, 0, 0, 0}; }, "pool pads 0");
  refused([](Stem& s) { s.act = "LeakyRelu"; }, "LeakyRelu");
  refused([](Stem& s) { s.z = true; }, "a residual Z");
  refused([](Stem& s) { s.w_dtype = DataType::Float32; }, "float32 W");
}

#else

TEST(StemApplies, NotBuilt) { GTEST_SKIP() << "the CUDA backend is not compiled in (tests/skips.txt)"; }

#endif

}  // namespace
}  // namespace kiln::test
