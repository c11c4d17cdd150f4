// Tensor-family ops, part 4: Resize and Upsample. Expected values are worked out
// by hand in the comments (source coordinate, taps, weights); the conformance
// test (test_ops_tensor_conformance) covers the rest of the ONNX cases.
#include "tensor_op_util.h"

namespace kiln::test {
namespace {

constexpr DataType F32 = DataType::Float32;

// Resize-13+ inputs: X, roi (omitted), scales, sizes.
NodeSpec resize(const Tensor& x, const Tensor& scales, const Tensor& sizes,
                std::map<std::string, ir::Attribute> attrs, int64_t opset = 19) {
  return NodeSpec{"Resize", {x, Tensor(), scales, sizes}, std::move(attrs), 1, opset};
}

void expect_near(const std::vector<float>& got, const std::vector<float>& want, float tol = 1e-5f) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "element " << i;
}

TEST(Resize, NearestUpsampleRepeats) {
  const Tensor x = f32({1, 1, 2, 2}, {1, 2, 3, 4});
  auto out = run_node(resize(x, f32({4}, {1, 1, 2, 2}), Tensor(), {{"mode", attr_s("nearest")}}));
  ASSERT_EQ(out[0].shape(), (Shape{1, 1, 4, 4}));
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}));
}

TEST(Resize, NearestModes) {
  // 1-D [0..3] to 5 with asymmetric coordinates: x = o * 4/5 = 0, .8, 1.6, 2.4, 3.2.
  const Tensor x = f32({4}, {0, 1, 2, 3});
  auto run = [&](const char* mode) {
    return values<float>(run_node(resize(x, Tensor(), i64({1}, {5}),
                                         {{"coordinate_transformation_mode", attr_s("asymmetric")},
                                          {"nearest_mode", attr_s(mode)}}))[0]);
  };
  EXPECT_EQ(run("floor"), (std::vector<float>{0, 0, 1, 2, 3}));
  EXPECT_EQ(run("ceil"), (std::vector<float>{0, 1, 2, 3, 3}));  // ceil(3.2) = 4 clamps to 3
  EXPECT_EQ(run("round_prefer_floor"), (std::vector<float>{0, 1, 2, 2, 3}));
  // [10, 20] x2: x = 0, .5, 1, 1.5, so the halves decide between the round_prefer modes.
  const Tensor y = f32({2}, {10, 20});
  auto updown = [&](const char* mode) {
    return values<float>(run_node(resize(y, f32({1}, {2}), Tensor(),
                                         {{"coordinate_transformation_mode", attr_s("asymmetric")},
                                          {"nearest_mode", attr_s(mode)}}))[0]);
  };
  EXPECT_EQ(updown("round_prefer_floor"), (std::vector<float>{10, 10, 20, 20}));  // x = 0, .5, 1, 1.5
  EXPECT_EQ(updown("round_prefer_ceil"), (std::vector<float>{10, 20, 20, 20}));
}

TEST(Resize, LinearCoordinateModes) {
  const Tensor x = f32({2}, {0, 10});
  auto run = [&](const char* coord) {
    return values<float>(run_node(resize(x, Tensor(), i64({1}, {4}),
                                         {{"mode", attr_s("linear")}, {"coordinate_transformation_mode", attr_s(coord)}}))[0]);
  };
  // half_pixel: x = (o + .5)/2 - .5 = -.25, .25, .75, 1.25; edges clamp.
  expect_near(run("half_pixel"), {0, 2.5f, 7.5f, 10});
  // align_corners: x = o * 1/3.
  expect_near(run("align_corners"), {0, 10.f / 3, 20.f / 3, 10});
  // asymmetric: x = o/2 = 0, .5, 1, 1.5.
  expect_near(run("asymmetric"), {0, 5, 10, 10});
  // pytorch_half_pixel equals half_pixel unless the output has one element.
  expect_near(run("pytorch_half_pixel"), {0, 2.5f, 7.5f, 10});
}

TEST(Resize, BilinearAndDownsample) {
  // 2x2 -> 4x4 half_pixel: each axis independently gives [a, .75a+.25b, .25a+.75b, b].
  const Tensor x = f32({1, 1, 2, 2}, {1, 2, 3, 4});
  auto out = run_node(resize(x, f32({4}, {1, 1, 2, 2}), Tensor(), {{"mode", attr_s("linear")}}));
  const std::vector<float> row0 = {1, 1.25f, 1.75f, 2}, row3 = {3, 3.25f, 3.75f, 4};
  std::vector<float> want;
  for (float wy : {1.f, .75f, .25f, 0.f})
    for (size_t j = 0; j < 4; ++j) want.push_back(wy * row0[j] + (1 - wy) * row3[j]);
  expect_near(values<float>(out[0]), want);
  // 1-D [0..7] halved, half_pixel: x = 2o + .5 -> midpoints.
  out = run_node(resize(iota_f32({8}), f32({1}, {0.5f}), Tensor(), {{"mode", attr_s("linear")}}));
  expect_near(values<float>(out[0]), {0.5f, 2.5f, 4.5f, 6.5f});
}

TEST(Resize, CubicHandComputed) {
  // [0,1,2,3] x2 asymmetric: o=1 has x=.5, taps at -1(clamped to 0),0,1,2 with
  // weights k(1.5), k(.5), k(.5), k(1.5) = -.09375, .59375, .59375, -.09375 (A=-.75).
  const Tensor x = f32({4}, {0, 1, 2, 3});
  auto out = run_node(resize(x, f32({1}, {2}), Tensor(),
                             {{"mode", attr_s("cubic")}, {"coordinate_transformation_mode", attr_s("asymmetric")}}));
  ASSERT_EQ(out[0].shape(), (Shape{8}));
  EXPECT_NEAR(out[0].data<float>()[0], 0.f, 1e-6);
  EXPECT_NEAR(out[0].data<float>()[1], 0.40625f, 1e-6);
  EXPECT_NEAR(out[0].data<float>()[3], 1.5f, 1e-6);  // interior of a line stays on it
  // exclude_outside drops the tap at -1 and renormalizes by .59375 + .59375 - .09375:
  // (.59375*0 + .59375*1 - .09375*2) / 1.09375.
  out = run_node(resize(x, f32({1}, {2}), Tensor(),
                        {{"mode", attr_s("cubic")}, {"coordinate_transformation_mode", attr_s("asymmetric")},
                         {"exclude_outside", attr_i(1)}}));
  EXPECT_NEAR(out[0].data<float>()[1], (0.59375f - 0.1875f) / 1.09375f, 1e-6);
}

TEST(Resize, CropAndResizeExtrapolates) {
  // roi [0.5, 1.5] of [0,10,20]: x = o * 1 * 2 / (3-1) + 1 = 1, 2, 3 -> 3 is outside.
  const Tensor x = f32({3}, {0, 10, 20});
  NodeSpec spec{"Resize", {x, f32({2}, {0.5f, 1.5f}), Tensor(), i64({1}, {3})},
                {{"mode", attr_s("linear")}, {"coordinate_transformation_mode", attr_s("tf_crop_and_resize")},
                 {"extrapolation_value", attr_f(-1)}}, 1, 13};
  expect_near(values<float>(run_node(spec)[0]), {10, 20, -1});
}

TEST(Resize, KeepAspectRatioAndAxes) {
  const Tensor x = iota_f32({1, 1, 4, 6});
  auto shape = [&](const char* policy) {
    return run_node(resize(x, Tensor(), i64({2}, {2, 2}),
                           {{"keep_aspect_ratio_policy", attr_s(policy)}, {"axes", attr_ints({2, 3})}}))[0].shape();
  };
  EXPECT_EQ(shape("stretch"), (Shape{1, 1, 2, 2}));
  EXPECT_EQ(shape("not_larger"), (Shape{1, 1, 1, 2}));   // scale 1/3: 4/3 -> 1, 6/3 -> 2
  EXPECT_EQ(shape("not_smaller"), (Shape{1, 1, 2, 3}));  // scale 1/2
  auto out = run_node(resize(x, f32({1}, {0.5f}), Tensor(), {{"axes", attr_ints({-1})}}));
  EXPECT_EQ(out[0].shape(), (Shape{1, 1, 4, 3}));
  expect_error([&] { run_node(resize(x, f32({4}, {1, 1, 2, 2}), i64({4}, {1, 1, 8, 8}), {})); },
               ErrorCode::InvalidModel, "both");
  expect_error([&] { run_node(resize(x, Tensor(), Tensor(), {})); }, ErrorCode::InvalidModel);
}

TEST(Resize, IntegerAndHalfData) {
  // uint8 linear truncates like the reference's astype: [0, 255] -> x = 0, .5, 1, 1 (asymmetric).
  Tensor u8 = Tensor::empty(DataType::UInt8, {2});
  u8.data<uint8_t>()[0] = 0;
  u8.data<uint8_t>()[1] = 255;
  auto out = run_node(resize(u8, f32({1}, {2}), Tensor(),
                             {{"mode", attr_s("linear")}, {"coordinate_transformation_mode", attr_s("asymmetric")}}));
  EXPECT_EQ(values<uint8_t>(out[0]), (std::vector<uint8_t>{0, 127, 255, 255}));
  out = run_node(resize(f16({2}, {1, 3}), f32({1}, {2}), Tensor(),
                        {{"mode", attr_s("linear")}, {"coordinate_transformation_mode", attr_s("asymmetric")}}));
  EXPECT_EQ(f16_values(out[0]), (std::vector<float>{1, 2, 3, 3}));
  out = run_node(resize(i64({2}, {5, 9}), f32({1}, {2}), Tensor(), {}));  // nearest moves int64 as bytes
  EXPECT_EQ(values<int64_t>(out[0]), (std::vector<int64_t>{5, 5, 9, 9}));
}

TEST(Resize, OldOpsetsAndUpsample) {
  const Tensor x = f32({1, 1, 2, 2}, {1, 2, 3, 4});
  const std::vector<float> want = {1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4};
  auto out = run_node({"Upsample", {x, f32({4}, {1, 1, 2, 3})}, {{"mode", attr_s("nearest")}}, 1, 9});
  EXPECT_EQ(values<float>(out[0]), want);
  out = run_node({"Upsample", {x}, {{"scales", attr_floats({1, 1, 2, 3})}}, 1, 7});
  EXPECT_EQ(values<float>(out[0]), want);
  out = run_node({"Resize", {x, f32({4}, {1, 1, 2, 3})}, {}, 1, 10});
  EXPECT_EQ(values<float>(out[0]), want);
  // Upsample linear is asymmetric: x = o/2 over [1, 2] gives 1, 1.5, 2, 2.
  out = run_node({"Upsample", {f32({1, 2}, {1, 2}), f32({2}, {1, 2})}, {{"mode", attr_s("linear")}}, 1, 9});
  expect_near(values<float>(out[0]), {1, 1.5f, 2, 2});
}

TEST(Resize, SymbolicInference) {
  auto out = infer_only("Resize", {sym_in(F32, ir::SymShape{S("b"), 3, 4, 4}), sym_in(F32, std::nullopt),
                                   const_in(f32({4}, {1, 1, 2, 2}))});
  EXPECT_EQ(shape_of(out[0]), "[b,3,8,8]");
  out = infer_only("Resize", {sym_in(F32, ir::SymShape{S("b"), 3, 4, 4}), sym_in(F32, std::nullopt),
                              sym_in(F32, ir::SymShape{0}), sym_in(DataType::Int64, ir::SymShape{4})});
  ASSERT_TRUE(out[0].shape);
  EXPECT_EQ(out[0].shape->size(), 4u);
}

}  // namespace
}  // namespace kiln::test
