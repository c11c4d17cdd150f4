// Tensor-family ops, part 2: Expand, Tile, Split, Pad, Range, DepthToSpace,
// SpaceToDepth, EyeLike, Trilu, CumSum, ReverseSequence. Expected values are
// hand-computed or come from naive index loops here.
#include "tensor_op_util.h"

namespace kiln::test {
namespace {

using ir::Dim;
constexpr DataType F32 = DataType::Float32, I64 = DataType::Int64;

// ---- Expand / Tile ----

TEST(Expand, BroadcastsBothWays) {
  const Tensor x = f32({3, 1}, {1, 2, 3});
  auto out = run_node({"Expand", {x, i64({3}, {2, 1, 6})}});
  ASSERT_EQ(out[0].shape(), (Shape{2, 3, 6}));
  for (int64_t f = 0; f < out[0].numel(); ++f) EXPECT_EQ(out[0].data<float>()[f], x.data<float>()[unravel(f, {2, 3, 6})[1]]);
  out = run_node({"Expand", {iota_i64({2, 3}), i64({1}, {1})}});  // shape smaller than the input
  EXPECT_EQ(out[0].shape(), (Shape{2, 3}));
  EXPECT_EQ(values<int64_t>(out[0]), values<int64_t>(iota_i64({2, 3})));
  out = run_node({"Expand", {f16({1}, {2.5f}), i64({2}, {2, 2})}});
  EXPECT_EQ(f16_values(out[0]), std::vector<float>(4, 2.5f));
  expect_error([&] { run_node({"Expand", {x, i64({2}, {2, 2})}}); }, ErrorCode::InvalidModel, "broadcast");
  auto sym = infer_only("Expand", {sym_in(F32, ir::SymShape{S("b"), 1}), sym_in(I64, ir::SymShape{3})});
  ASSERT_TRUE(sym[0].shape);
  EXPECT_EQ(sym[0].shape->size(), 3u);
  EXPECT_FALSE((*sym[0].shape)[2].known());
}

TEST(Tile, RepeatsEachDim) {
  const Tensor x = f32({2, 2}, {1, 2, 3, 4});
  auto out = run_node({"Tile", {x, i64({2}, {2, 3})}});
  ASSERT_EQ(out[0].shape(), (Shape{4, 6}));
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j = 0; j < 6; ++j) EXPECT_EQ(out[0].data<float>()[i * 6 + j], x.data<float>()[(i % 2) * 2 + j % 2]);
  out = run_node({"Tile", {iota_i64({3}), i64({1}, {0})}});
  EXPECT_EQ(out[0].shape(), (Shape{0}));
  expect_error([&] { run_node({"Tile", {x, i64({1}, {2})}}); }, ErrorCode::InvalidModel, "repeats");
  auto sym = infer_only("Tile", {sym_in(F32, ir::SymShape{S("b"), 2}), const_in(i64({2}, {1, 3}))});
  EXPECT_EQ(shape_of(sym[0]), "[b,6]");
}

// ---- Split ----

TEST(Split, SizesFromInputAttributeOrEqualParts) {
  const Tensor x = f32({6}, {1, 2, 3, 4, 5, 6});
  auto out = run_node({"Split", {x, i64({2}, {2, 4})}, {}, 2, 13});
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{1, 2}));
  EXPECT_EQ(values<float>(out[1]), (std::vector<float>{3, 4, 5, 6}));
  out = run_node({"Split", {x}, {{"split", attr_ints({1, 5})}}, 2, 11});
  EXPECT_EQ(values<float>(out[1]), (std::vector<float>{2, 3, 4, 5, 6}));
  out = run_node({"Split", {x}, {}, 3, 13});
  EXPECT_EQ(values<float>(out[2]), (std::vector<float>{5, 6}));
  out = run_node({"Split", {x, i64({2}, {0, 6})}, {}, 2, 13});
  EXPECT_EQ(out[0].shape(), (Shape{0}));
  // Opset 18: num_outputs, the last chunk smaller.
  out = run_node({"Split", {iota_f32({7})}, {{"num_outputs", attr_i(4)}}, 4, 18});
  EXPECT_EQ(out[0].shape(), (Shape{2}));
  EXPECT_EQ(values<float>(out[3]), (std::vector<float>{6}));
  expect_error([&] { run_node({"Split", {iota_f32({7})}, {}, 2, 13}); }, ErrorCode::InvalidModel, "evenly");
  expect_error([&] { run_node({"Split", {x, i64({2}, {2, 3})}, {}, 2, 13}); }, ErrorCode::InvalidModel, "sums");
}

TEST(Split, SecondAxisAndNegativeAxis) {
  const Tensor x = iota_i64({2, 4});
  auto out = run_node({"Split", {x}, {{"axis", attr_i(-1)}}, 2, 13});
  EXPECT_EQ(values<int64_t>(out[0]), (std::vector<int64_t>{0, 1, 4, 5}));
  EXPECT_EQ(values<int64_t>(out[1]), (std::vector<int64_t>{2, 3, 6, 7}));
  auto sym = infer_only("Split", {sym_in(F32, ir::SymShape{S("b"), 4})}, {{"axis", attr_i(1)}}, 13, 2);
  EXPECT_EQ(shape_of(sym[0]), "[b,2]");
  EXPECT_EQ(shape_of(sym[1]), "[b,2]");
}

// ---- Pad ----

TEST(Pad, ConstantModeNewAndOldForms) {
  const Tensor x = f32({2, 2}, {1, 2, 3, 4});
  // pads: begin rows 1, begin cols 0, end rows 0, end cols 2.
  auto out = run_node({"Pad", {x, i64({4}, {1, 0, 0, 2}), f32({}, {1.5f})}, {}, 1, 13});
  ASSERT_EQ(out[0].shape(), (Shape{3, 4}));
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{1.5, 1.5, 1.5, 1.5, 1, 2, 1.5, 1.5, 3, 4, 1.5, 1.5}));
  auto old = run_node({"Pad", {x}, {{"pads", attr_ints({1, 0, 0, 2})}, {"value", attr_f(1.5f)}}, 1, 2});
  EXPECT_EQ(values<float>(old[0]), values<float>(out[0]));
  out = run_node({"Pad", {iota_i64({3}), i64({2}, {1, 1})}, {}, 1, 13});  // no constant: zero
  EXPECT_EQ(values<int64_t>(out[0]), (std::vector<int64_t>{0, 0, 1, 2, 0}));
}

TEST(Pad, EdgeReflectWrapMatchNumpy) {
  const Tensor x = f32({3}, {1, 2, 3});
  auto pad = [&](const char* mode, int64_t before, int64_t after) {
    return values<float>(run_node({"Pad", {x, i64({2}, {before, after})}, {{"mode", attr_s(mode)}}, 1, 19})[0]);
  };
  // np.pad([1,2,3], (2,4), mode): pads longer than the dim reflect repeatedly.
  EXPECT_EQ(pad("reflect", 2, 4), (std::vector<float>{3, 2, 1, 2, 3, 2, 1, 2, 3}));
  EXPECT_EQ(pad("edge", 2, 4), (std::vector<float>{1, 1, 1, 2, 3, 3, 3, 3, 3}));
  EXPECT_EQ(pad("wrap", 2, 3), (std::vector<float>{2, 3, 1, 2, 3, 1, 2, 3}));
  // Wrap is periodic however long the pad (older numpy differs past one period).
  EXPECT_EQ(pad("wrap", 4, 4), (std::vector<float>{3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1}));
}

TEST(Pad, NegativePadsCropFirst) {
  const Tensor x = f16({5}, {1, 2, 3, 4, 5});
  auto pad = [&](const char* mode) {
    return f16_values(run_node({"Pad", {x, i64({2}, {-1, 2})}, {{"mode", attr_s(mode)}}, 1, 19})[0]);
  };
  // np.pad([2,3,4,5], (0,2), mode)
  EXPECT_EQ(pad("edge"), (std::vector<float>{2, 3, 4, 5, 5, 5}));
  EXPECT_EQ(pad("reflect"), (std::vector<float>{2, 3, 4, 5, 4, 3}));
  EXPECT_EQ(pad("wrap"), (std::vector<float>{2, 3, 4, 5, 2, 3}));
  EXPECT_EQ(pad("constant"), (std::vector<float>{2, 3, 4, 5, 0, 0}));
}

TEST(Pad, AxesInputAndErrors) {
  const Tensor x = iota_f32({2, 2});
  auto out = run_node({"Pad", {x, i64({2}, {1, 1}), Tensor(), i64({1}, {-1})}, {}, 1, 18});
  ASSERT_EQ(out[0].shape(), (Shape{2, 4}));
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{0, 0, 1, 0, 0, 2, 3, 0}));
  expect_error([&] { run_node({"Pad", {x, i64({3}, {1, 1, 1})}, {}, 1, 13}); }, ErrorCode::InvalidModel, "pads");
  expect_error([&] { run_node({"Pad", {x, i64({4}, {-3, 0, 0, 0})}, {}, 1, 13}); }, ErrorCode::InvalidModel);
  expect_error([&] { run_node({"Pad", {Tensor::empty(F32, {0}), i64({2}, {1, 1})}, {{"mode", attr_s("edge")}}, 1, 13}); },
               ErrorCode::InvalidArgument);
  auto sym = infer_only("Pad", {sym_in(F32, ir::SymShape{S("b"), 3}), const_in(i64({4}, {0, 1, 0, 1}))}, {}, 13);
  EXPECT_EQ(shape_of(sym[0]), "[b,5]");
}

// ---- Range ----

TEST(Range, IntegerFloatAndHalf) {
  auto out = run_node({"Range", {i32({}, {10}), i32({}, {4}), i32({}, {-3})}});
  EXPECT_EQ(values<int32_t>(out[0]), (std::vector<int32_t>{10, 7}));
  out = run_node({"Range", {f32({}, {1}), f32({}, {5}), f32({}, {1.5f})}});
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{1, 2.5f, 4}));
  out = run_node({"Range", {i64({}, {0}), i64({}, {3}), i64({}, {1})}});
  EXPECT_EQ(values<int64_t>(out[0]), (std::vector<int64_t>{0, 1, 2}));
  out = run_node({"Range", {i64({}, {3}), i64({}, {0}), i64({}, {1})}});
  EXPECT_EQ(out[0].shape(), (Shape{0}));
  out = run_node({"Range", {f16({}, {1}), f16({}, {2}), f16({}, {0.25f})}});
  EXPECT_EQ(f16_values(out[0]), (std::vector<float>{1, 1.25f, 1.5f, 1.75f}));
  expect_error([] { run_node({"Range", {i64({}, {0}), i64({}, {3}), i64({}, {0})}}); }, ErrorCode::InvalidModel, "delta");
  auto sym = infer_only("Range", {sym_in(I64, ir::SymShape{}), sym_in(I64, ir::SymShape{}), sym_in(I64, ir::SymShape{})});
  ASSERT_TRUE(sym[0].shape);
  EXPECT_EQ(sym[0].shape->size(), 1u);
}

// ---- DepthToSpace / SpaceToDepth ----

TEST(DepthToSpace, DcrAndCrdMatchTheirDefinitions) {
  const int64_t n = 1, c = 8, h = 2, w = 3, b = 2, oc = c / (b * b);
  const Tensor x = iota_f32({n, c, h, w});
  for (const char* mode : {"DCR", "CRD"}) {
    auto out = run_node({"DepthToSpace", {x}, {{"blocksize", attr_i(b)}, {"mode", attr_s(mode)}}});
    ASSERT_EQ(out[0].shape(), (Shape{n, oc, h * b, w * b}));
    const bool dcr = std::string(mode) == "DCR";
    for (int64_t f = 0; f < out[0].numel(); ++f) {
      const auto i = unravel(f, out[0].shape());  // n, c', y, x
      const int64_t by = i[2] % b, bx = i[3] % b;
      const int64_t ic = dcr ? (by * b + bx) * oc + i[1] : i[1] * b * b + by * b + bx;
      EXPECT_EQ(out[0].data<float>()[f], x.data<float>()[ravel({i[0], ic, i[2] / b, i[3] / b}, x.shape())]) << mode;
    }
  }
}

TEST(SpaceToDepth, MatchesDefinitionAndInvertsDepthToSpace) {
  const Tensor x = iota_f32({2, 2, 4, 6});
  auto out = run_node({"SpaceToDepth", {x}, {{"blocksize", attr_i(2)}}});
  ASSERT_EQ(out[0].shape(), (Shape{2, 8, 2, 3}));
  for (int64_t f = 0; f < out[0].numel(); ++f) {
    const auto i = unravel(f, out[0].shape());
    const int64_t blk = i[1] / 2, ic = i[1] % 2;
    EXPECT_EQ(out[0].data<float>()[f], x.data<float>()[ravel({i[0], ic, i[2] * 2 + blk / 2, i[3] * 2 + blk % 2}, x.shape())]);
  }
  auto back = run_node({"DepthToSpace", {out[0]}, {{"blocksize", attr_i(2)}}});
  EXPECT_EQ(values<float>(back[0]), values<float>(x));
  expect_error([&] { run_node({"SpaceToDepth", {iota_f32({1, 1, 3, 4})}, {{"blocksize", attr_i(2)}}}); },
               ErrorCode::InvalidModel, "divisible");
}

// ---- EyeLike / Trilu ----

TEST(EyeLike, DiagonalOffsetsAndDtype) {
  auto out = run_node({"EyeLike", {Tensor::empty(F32, {3, 4})}, {{"k", attr_i(1)}}});
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}));
  out = run_node({"EyeLike", {Tensor::empty(F32, {3, 2})}, {{"k", attr_i(-1)}, {"dtype", attr_i(7)}}});
  EXPECT_EQ(out[0].dtype(), I64);
  EXPECT_EQ(values<int64_t>(out[0]), (std::vector<int64_t>{0, 0, 1, 0, 0, 1}));
  expect_error([] { run_node({"EyeLike", {Tensor::empty(F32, {3})}}); }, ErrorCode::InvalidModel, "2-D");
}

TEST(Trilu, UpperLowerWithK) {
  const Tensor x = iota_f32({2, 3, 3}, 1);
  for (int upper : {0, 1})
    for (int64_t k : {-1, 0, 2}) {
      auto out = run_node({"Trilu", {x, i64({}, {k})}, {{"upper", attr_i(upper)}}});
      for (int64_t f = 0; f < x.numel(); ++f) {
        const auto i = unravel(f, x.shape());
        const bool keep = upper ? i[2] - i[1] >= k : i[2] - i[1] <= k;
        EXPECT_EQ(out[0].data<float>()[f], keep ? x.data<float>()[f] : 0.f) << upper << " k=" << k;
      }
    }
  auto out = run_node({"Trilu", {iota_i64({2, 2}, 1)}});  // default upper, k 0
  EXPECT_EQ(values<int64_t>(out[0]), (std::vector<int64_t>{1, 2, 0, 4}));
}

// ---- CumSum / ReverseSequence ----

TEST(CumSum, ExclusiveAndReverse) {
  const Tensor x = f32({5}, {1, 2, 3, 4, 5});
  auto cs = [&](int ex, int rev) {
    return values<float>(run_node({"CumSum", {x, i64({}, {0})}, {{"exclusive", attr_i(ex)}, {"reverse", attr_i(rev)}}})[0]);
  };
  EXPECT_EQ(cs(0, 0), (std::vector<float>{1, 3, 6, 10, 15}));
  EXPECT_EQ(cs(1, 0), (std::vector<float>{0, 1, 3, 6, 10}));
  EXPECT_EQ(cs(0, 1), (std::vector<float>{15, 14, 12, 9, 5}));
  EXPECT_EQ(cs(1, 1), (std::vector<float>{14, 12, 9, 5, 0}));
  auto out = run_node({"CumSum", {i32({2, 3}, {1, 2, 3, 4, 5, 6}), i32({}, {-1})}});
  EXPECT_EQ(values<int32_t>(out[0]), (std::vector<int32_t>{1, 3, 6, 4, 9, 15}));
  out = run_node({"CumSum", {f16({2, 2}, {1, 2, 3, 4}), i64({1}, {0})}});
  EXPECT_EQ(f16_values(out[0]), (std::vector<float>{1, 2, 4, 6}));
  expect_error([&] { run_node({"CumSum", {x, i64({}, {1})}}); }, ErrorCode::InvalidArgument, "axis");
}

TEST(ReverseSequence, TimeAndBatchMajor) {
  // time-major [4, 4], lengths per batch column.
  const Tensor x = iota_f32({4, 4});
  auto out = run_node({"ReverseSequence", {x, i64({4}, {4, 3, 2, 1})}, {{"batch_axis", attr_i(1)}, {"time_axis", attr_i(0)}}});
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{12, 9, 6, 3, 8, 5, 2, 7, 4, 1, 10, 11, 0, 13, 14, 15}));
  out = run_node({"ReverseSequence", {x, i64({4}, {1, 2, 3, 4})}, {{"batch_axis", attr_i(0)}, {"time_axis", attr_i(1)}}});
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{0, 1, 2, 3, 5, 4, 6, 7, 10, 9, 8, 11, 15, 14, 13, 12}));
  expect_error([&] { run_node({"ReverseSequence", {x, i64({4}, {5, 1, 1, 1})}}); }, ErrorCode::InvalidArgument);
}

}  // namespace
}  // namespace kiln::test
