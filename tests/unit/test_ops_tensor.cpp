// Tensor-family ops, part 1: Flatten, Reshape, Concat, Transpose, Constant,
// ConstantOfShape, Shape, Size, Gather, Unsqueeze, Squeeze, Slice. Expected values
// are hand-computed or come from naive index loops here. Later parts:
// test_ops_tensor_index.cpp, test_ops_tensor_pad.cpp, test_ops_tensor_resize.cpp.
#include <limits>

#include "tensor_op_util.h"

namespace kiln::test {
namespace {

using ir::Dim;
constexpr DataType F32 = DataType::Float32, I64 = DataType::Int64;
constexpr int64_t k_i64_max = std::numeric_limits<int64_t>::max(), k_i64_min = std::numeric_limits<int64_t>::min();

// ---- Flatten ----

TEST(Flatten, EveryAxis) {
  const Tensor x = iota_f32({2, 3, 4});
  const std::vector<std::pair<int64_t, Shape>> cases = {
      {0, {1, 24}}, {1, {2, 12}}, {2, {6, 4}}, {3, {24, 1}}, {-1, {6, 4}}, {-2, {2, 12}}, {-3, {1, 24}}};
  for (const auto& [axis, want] : cases) {
    auto out = run_node({"Flatten", {x}, {{"axis", attr_i(axis)}}});
    EXPECT_EQ(out[0].shape(), want) << "axis " << axis;
    EXPECT_EQ(values<float>(out[0]), values<float>(x));
  }
  EXPECT_EQ(run_node({"Flatten", {x}})[0].shape(), (Shape{2, 12}));  // default axis 1
}

TEST(Flatten, BadAxisIsAnError) {
  expect_error([] { run_node({"Flatten", {iota_f32({2, 3})}, {{"axis", attr_i(3)}}}); }, ErrorCode::InvalidModel);
}

TEST(Flatten, SymbolicShapes) {
  auto out = infer_only("Flatten", {sym_in(F32, ir::SymShape{S("b"), 3, 4})}, {{"axis", attr_i(1)}});
  EXPECT_EQ(shape_of(out[0]), "[b,12]");
  out = infer_only("Flatten", {sym_in(F32, ir::SymShape{S("b"), 3, 4})}, {{"axis", attr_i(2)}});
  ASSERT_TRUE(out[0].shape);
  EXPECT_FALSE((*out[0].shape)[0].known());
  EXPECT_EQ((*out[0].shape)[1], Dim(4));
}

// ---- Reshape ----

TEST(Reshape, ZeroCopiesAndMinusOneInfers) {
  const Tensor x = iota_f32({2, 3, 4});
  auto out = run_node({"Reshape", {x, i64({3}, {4, 0, -1})}});
  EXPECT_EQ(out[0].shape(), (Shape{4, 3, 2}));
  EXPECT_EQ(values<float>(out[0]), values<float>(x));
  out = run_node({"Reshape", {iota_i64({6}), i64({2}, {-1, 2})}});
  EXPECT_EQ(out[0].shape(), (Shape{3, 2}));
  EXPECT_EQ(values<int64_t>(out[0]), (std::vector<int64_t>{0, 1, 2, 3, 4, 5}));
  out = run_node({"Reshape", {f16({2, 2}, {1, 2, 3, 4}), i32({1}, {4})}});
  EXPECT_EQ(f16_values(out[0]), (std::vector<float>{1, 2, 3, 4}));
}

TEST(Reshape, AllowZeroKeepsZeroDims) {
  const Tensor empty = Tensor::empty(F32, {0, 3});
  auto out = run_node({"Reshape", {empty, i64({2}, {3, 0})}, {{"allowzero", attr_i(1)}}, 1, 14});
  EXPECT_EQ(out[0].shape(), (Shape{3, 0}));
  out = run_node({"Reshape", {empty, i64({2}, {0, 3})}, {}, 1, 14});  // 0 copies the input's 0
  EXPECT_EQ(out[0].shape(), (Shape{0, 3}));
  expect_error([&] { run_node({"Reshape", {empty, i64({2}, {0, -1})}, {{"allowzero", attr_i(1)}}, 1, 14}); },
               ErrorCode::InvalidModel);
}

TEST(Reshape, OldOpsetTakesShapeAttribute) {
  auto out = run_node({"Reshape", {iota_f32({2, 3})}, {{"shape", attr_ints({3, -1})}}, 1, 4});
  EXPECT_EQ(out[0].shape(), (Shape{3, 2}));
}

TEST(Reshape, BadShapesAreErrors) {
  const Tensor x = iota_f32({2, 3});
  expect_error([&] { run_node({"Reshape", {x, i64({2}, {4, 2})}}); }, ErrorCode::InvalidModel, "cannot reshape");
  // The same mistake seen only at run time (shape not constant) fails in the kernel.
  expect_error([&] { run_node({"Reshape", {x, i64({2}, {4, 2})}}, false); }, ErrorCode::InvalidArgument, "n0");
  expect_error([&] { run_node({"Reshape", {x, i64({3}, {-1, -1, 6})}}); }, ErrorCode::InvalidModel, "-1");
  expect_error([&] { run_node({"Reshape", {x, i64({2}, {-1, 4})}}); }, ErrorCode::InvalidModel, "divisible");
  expect_error([&] { run_node({"Reshape", {x, i64({3}, {1, 1, 0})}}); }, ErrorCode::InvalidModel);
}

TEST(Reshape, SymbolicShapes) {
  auto in = sym_in(F32, ir::SymShape{S("b"), 3, 4});
  EXPECT_EQ(shape_of(infer_only("Reshape", {in, const_in(i64({2}, {0, -1}))})[0]), "[b,12]");
  EXPECT_EQ(shape_of(infer_only("Reshape", {in, const_in(i64({2}, {-1, 12}))})[0]), "[b,12]");
  auto seq = sym_in(F32, ir::SymShape{S("b"), S("s"), 768});
  EXPECT_EQ(shape_of(infer_only("Reshape", {seq, const_in(i64({4}, {0, 0, 12, 64}))})[0]), "[b,s,12,64]");
  auto split = infer_only("Reshape", {seq, const_in(i64({3}, {0, -1, 64}))})[0];  // [b, s*12, 64]
  ASSERT_TRUE(split.shape);
  EXPECT_EQ((*split.shape)[0], S("b"));
  EXPECT_FALSE((*split.shape)[1].known());
  EXPECT_EQ((*split.shape)[2], Dim(64));
  auto merged = infer_only("Reshape", {seq, const_in(i64({2}, {-1, 768}))})[0];
  ASSERT_TRUE(merged.shape);
  EXPECT_FALSE((*merged.shape)[0].known());  // b*s: a fresh symbol
  EXPECT_FALSE((*merged.shape)[0].symbol.empty());
  // Shape not constant: the rank comes from the shape input's length.
  auto unknown = infer_only("Reshape", {in, sym_in(I64, ir::SymShape{5})})[0];
  ASSERT_TRUE(unknown.shape);
  EXPECT_EQ(unknown.shape->size(), 5u);
}

// ---- Concat ----

TEST(Concat, AlongEachAxis) {
  const Tensor a = iota_f32({2, 2}), b = iota_f32({2, 3}, 100);
  for (int64_t axis : {1, -1}) {
    auto out = run_node({"Concat", {a, b}, {{"axis", attr_i(axis)}}});
    EXPECT_EQ(out[0].shape(), (Shape{2, 5}));
    EXPECT_EQ(values<float>(out[0]), (std::vector<float>{0, 1, 100, 101, 102, 2, 3, 103, 104, 105}));
  }
  auto out = run_node({"Concat", {i64({1, 2}, {1, 2}), i64({2, 2}, {3, 4, 5, 6})}, {{"axis", attr_i(0)}}});
  EXPECT_EQ(values<int64_t>(out[0]), (std::vector<int64_t>{1, 2, 3, 4, 5, 6}));
  out = run_node({"Concat", {f16({1}, {1}), f16({0}, {}), f16({2}, {2, 3})}, {{"axis", attr_i(0)}}});
  EXPECT_EQ(f16_values(out[0]), (std::vector<float>{1, 2, 3}));
}

TEST(Concat, ThreeDimsMiddleAxis) {
  const Tensor a = iota_f32({2, 1, 3}), b = iota_f32({2, 2, 3}, 50);
  auto out = run_node({"Concat", {a, b}, {{"axis", attr_i(1)}}});
  ASSERT_EQ(out[0].shape(), (Shape{2, 3, 3}));
  const Shape s = out[0].shape();
  for (int64_t f = 0; f < out[0].numel(); ++f) {
    auto i = unravel(f, s);
    const float want = i[1] < 1 ? a.data<float>()[ravel({i[0], i[1], i[2]}, a.shape())]
                                : b.data<float>()[ravel({i[0], i[1] - 1, i[2]}, b.shape())];
    EXPECT_EQ(out[0].data<float>()[f], want);
  }
}

TEST(Concat, MismatchAndSymbols) {
  expect_error([] { run_node({"Concat", {iota_f32({2, 2}), iota_f32({3, 3})}, {{"axis", attr_i(1)}}}); },
               ErrorCode::InvalidModel);
  expect_error([] { run_node({"Concat", {iota_f32({2, 2}), iota_f32({2, 2})}, {{"axis", attr_i(2)}}}); },
               ErrorCode::InvalidModel, "axis");
  auto out = infer_only("Concat", {sym_in(F32, ir::SymShape{S("b"), 3}), sym_in(F32, ir::SymShape{S("b"), 4})},
                        {{"axis", attr_i(1)}});
  EXPECT_EQ(shape_of(out[0]), "[b,7]");
  out = infer_only("Concat", {sym_in(F32, ir::SymShape{S("b"), 3}), sym_in(F32, ir::SymShape{2, 3})},
                   {{"axis", attr_i(0)}});
  ASSERT_TRUE(out[0].shape);
  EXPECT_FALSE((*out[0].shape)[0].known());
  EXPECT_EQ((*out[0].shape)[1], Dim(3));
}

// ---- Transpose ----

TEST(Transpose, PermutationMatchesNaiveLoop) {
  const Tensor x = iota_f32({2, 3, 4});
  auto out = run_node({"Transpose", {x}, {{"perm", attr_ints({2, 0, 1})}}});
  ASSERT_EQ(out[0].shape(), (Shape{4, 2, 3}));
  for (int64_t k = 0; k < 4; ++k)
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t j = 0; j < 3; ++j)
        EXPECT_EQ(out[0].data<float>()[(k * 2 + i) * 3 + j], x.data<float>()[(i * 3 + j) * 4 + k]);
}

TEST(Transpose, DefaultReversesAndAllDtypes) {
  auto out = run_node({"Transpose", {iota_i64({2, 3})}});
  EXPECT_EQ(out[0].shape(), (Shape{3, 2}));
  EXPECT_EQ(values<int64_t>(out[0]), (std::vector<int64_t>{0, 3, 1, 4, 2, 5}));
  out = run_node({"Transpose", {f16({2, 2}, {1, 2, 3, 4})}});
  EXPECT_EQ(f16_values(out[0]), (std::vector<float>{1, 3, 2, 4}));
  out = run_node({"Transpose", {boolean({1, 3}, {1, 0, 1})}, {{"perm", attr_ints({1, 0})}}});
  EXPECT_EQ(out[0].shape(), (Shape{3, 1}));
  EXPECT_EQ(values<uint8_t>(out[0]), (std::vector<uint8_t>{1, 0, 1}));
  // A 4-D permutation with unit dims (exercises merging of contiguous dims).
  const Tensor y = iota_f32({2, 1, 3, 2});
  out = run_node({"Transpose", {y}, {{"perm", attr_ints({0, 2, 3, 1})}}});
  EXPECT_EQ(values<float>(out[0]), values<float>(y));
}

TEST(Transpose, BadPermIsAnError) {
  expect_error([] { run_node({"Transpose", {iota_f32({2, 3})}, {{"perm", attr_ints({0, 0})}}}); },
               ErrorCode::InvalidModel, "repeated");
  expect_error([] { run_node({"Transpose", {iota_f32({2, 3})}, {{"perm", attr_ints({0, 1, 2})}}}); },
               ErrorCode::InvalidModel);
}

// ---- Constant / ConstantOfShape ----

TEST(Constant, EveryValueAttribute) {
  auto out = run_node({"Constant", {}, {{"value", attr_tensor(f32({2, 2}, {1, 2, 3, 4}))}}});
  EXPECT_EQ(out[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{1, 2, 3, 4}));
  out = run_node({"Constant", {}, {{"value_float", attr_f(2.5f)}}});
  EXPECT_EQ(out[0].shape(), Shape{});
  EXPECT_EQ(values<float>(out[0]), std::vector<float>{2.5f});
  out = run_node({"Constant", {}, {{"value_floats", attr_floats({1, 2})}}});
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{1, 2}));
  out = run_node({"Constant", {}, {{"value_int", attr_i(7)}}});
  EXPECT_EQ(out[0].dtype(), I64);
  EXPECT_EQ(values<int64_t>(out[0]), std::vector<int64_t>{7});
  out = run_node({"Constant", {}, {{"value_ints", attr_ints({3, -1})}}});
  EXPECT_EQ(values<int64_t>(out[0]), (std::vector<int64_t>{3, -1}));
  out = run_node({"Constant", {}, {{"value", attr_tensor(f16({1}, {0.5f}))}}});
  EXPECT_EQ(f16_values(out[0]), std::vector<float>{0.5f});
}

TEST(Constant, UnsupportedAndMissingValues) {
  expect_error([] { run_node({"Constant", {}, {{"sparse_value", attr_tensor(f32({1}, {1}))}}}); },
               ErrorCode::Unsupported, "sparse_value");
  expect_error([] { run_node({"Constant", {}, {{"value_string", attr_s("x")}}}); }, ErrorCode::Unsupported);
  expect_error([] { run_node({"Constant", {}, {}}); }, ErrorCode::InvalidModel);
  expect_error([] { run_node({"Constant", {}, {{"value_int", attr_i(1)}, {"value_float", attr_f(1)}}}); },
               ErrorCode::InvalidModel);
}

TEST(ConstantOfShape, FillsWithTheValue) {
  auto out = run_node({"ConstantOfShape", {i64({2}, {2, 3})}, {{"value", attr_tensor(i32({1}, {7}))}}});
  EXPECT_EQ(out[0].dtype(), DataType::Int32);
  EXPECT_EQ(out[0].shape(), (Shape{2, 3}));
  EXPECT_EQ(values<int32_t>(out[0]), std::vector<int32_t>(6, 7));
  out = run_node({"ConstantOfShape", {i64({1}, {4})}});
  EXPECT_EQ(values<float>(out[0]), std::vector<float>(4, 0.f));
  out = run_node({"ConstantOfShape", {i64({2}, {0, 3})}, {{"value", attr_tensor(f16({1}, {1.5f}))}}});
  EXPECT_EQ(out[0].shape(), (Shape{0, 3}));
  out = run_node({"ConstantOfShape", {i64({0}, {})}, {{"value", attr_tensor(f16({1}, {1.5f}))}}});
  EXPECT_EQ(f16_values(out[0]), std::vector<float>{1.5f});  // scalar
  auto sym = infer_only("ConstantOfShape", {sym_in(I64, ir::SymShape{3})});
  ASSERT_TRUE(sym[0].shape);
  EXPECT_EQ(sym[0].shape->size(), 3u);
  expect_error([] { run_node({"ConstantOfShape", {i64({1}, {-2})}}); }, ErrorCode::InvalidModel);
  // 2^62 int64s: the byte count would wrap around; it must be refused, not under-allocated.
  expect_error([] { run_node({"ConstantOfShape", {i64({1}, {int64_t{1} << 62})}, {{"value", attr_tensor(i64({1}, {1}))}}}); },
               ErrorCode::OutOfMemory, "too large");
}

// ---- Shape / Size ----

TEST(Shape, WholeAndSlicedForms) {
  const Tensor x = Tensor::empty(F32, {2, 3, 4, 5});
  EXPECT_EQ(values<int64_t>(run_node({"Shape", {x}, {}, 1, 13})[0]), (std::vector<int64_t>{2, 3, 4, 5}));
  struct Case { std::optional<int64_t> start, end; std::vector<int64_t> want; };
  const std::vector<Case> cases = {{1, std::nullopt, {3, 4, 5}}, {std::nullopt, 1, {2}}, {1, -1, {3, 4}},
                                   {-1, std::nullopt, {5}},      {-10, 10, {2, 3, 4, 5}}, {3, 1, {}}};
  for (const Case& c : cases) {
    std::map<std::string, ir::Attribute> attrs;
    if (c.start) attrs["start"] = attr_i(*c.start);
    if (c.end) attrs["end"] = attr_i(*c.end);
    EXPECT_EQ(values<int64_t>(run_node({"Shape", {x}, attrs, 1, 15})[0]), c.want);
  }
  // Before opset 15 start/end do not exist.
  EXPECT_EQ(run_node({"Shape", {x}, {{"start", attr_i(2)}}, 1, 13})[0].numel(), 4);
  auto sym = infer_only("Shape", {sym_in(F32, ir::SymShape{S("b"), 3})});
  EXPECT_EQ(shape_of(sym[0]), "[2]");
  EXPECT_EQ(sym[0].dtype, I64);
}

TEST(Size, CountsElements) {
  auto out = run_node({"Size", {Tensor::empty(DataType::Int8, {2, 3, 4})}});
  EXPECT_EQ(out[0].shape(), Shape{});
  EXPECT_EQ(values<int64_t>(out[0]), std::vector<int64_t>{24});
  EXPECT_EQ(values<int64_t>(run_node({"Size", {Tensor::empty(F32, {0, 3})}})[0]), std::vector<int64_t>{0});
}

// ---- Gather ----

TEST(Gather, AxisZeroAndOne) {
  const Tensor data = f32({3, 2}, {1.0f, 1.2f, 2.3f, 3.4f, 4.5f, 5.7f});
  auto out = run_node({"Gather", {data, i64({2, 2}, {0, 1, 1, 2})}});
  EXPECT_EQ(out[0].shape(), (Shape{2, 2, 2}));
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{1.0f, 1.2f, 2.3f, 3.4f, 2.3f, 3.4f, 4.5f, 5.7f}));
  const Tensor d3 = f32({3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  out = run_node({"Gather", {d3, i32({1, 2}, {0, 2})}, {{"axis", attr_i(1)}}});
  EXPECT_EQ(out[0].shape(), (Shape{3, 1, 2}));
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{1, 3, 4, 6, 7, 9}));
}

TEST(Gather, NegativeIndicesScalarIndexAndDtypes) {
  auto out = run_node({"Gather", {iota_i64({4}, 10), i64({3}, {-1, -4, 0})}});
  EXPECT_EQ(values<int64_t>(out[0]), (std::vector<int64_t>{13, 10, 10}));
  out = run_node({"Gather", {f16({2, 3}, {1, 2, 3, 4, 5, 6}), i64({}, {-1})}, {{"axis", attr_i(-1)}}});
  EXPECT_EQ(out[0].shape(), (Shape{2}));
  EXPECT_EQ(f16_values(out[0]), (std::vector<float>{3, 6}));
}

TEST(Gather, OutOfRangeIndexIsAnErrorNamingTheNode) {
  const Tensor data = iota_f32({3, 2});
  expect_error([&] { run_node({"Gather", {data, i64({1}, {3})}}); }, ErrorCode::InvalidArgument, "n0");
  expect_error([&] { run_node({"Gather", {data, i64({1}, {-4})}}); }, ErrorCode::InvalidArgument, "out of range");
  expect_error([&] { run_node({"Gather", {data, i64({1}, {0})}, {{"axis", attr_i(2)}}}); }, ErrorCode::InvalidModel);
  expect_error([&] { run_node({"Gather", {data, f32({1}, {0})}}); }, ErrorCode::InvalidModel, "int32 or int64");
}

// ---- Unsqueeze / Squeeze ----

TEST(Unsqueeze, AttributeAndInputForms) {
  const Tensor x = iota_f32({2, 3});
  auto out = run_node({"Unsqueeze", {x}, {{"axes", attr_ints({0, 3})}}, 1, 11});
  EXPECT_EQ(out[0].shape(), (Shape{1, 2, 3, 1}));
  EXPECT_EQ(values<float>(out[0]), values<float>(x));
  out = run_node({"Unsqueeze", {x}, {{"axes", attr_ints({-1})}}, 1, 11});
  EXPECT_EQ(out[0].shape(), (Shape{2, 3, 1}));
  out = run_node({"Unsqueeze", {x, i64({2}, {2, 0})}, {}, 1, 13});  // unsorted
  EXPECT_EQ(out[0].shape(), (Shape{1, 2, 1, 3}));
  out = run_node({"Unsqueeze", {i64({}, {5}), i64({1}, {0})}, {}, 1, 13});
  EXPECT_EQ(out[0].shape(), (Shape{1}));
  expect_error([&] { run_node({"Unsqueeze", {x, i64({2}, {0, 0})}, {}, 1, 13}); }, ErrorCode::InvalidModel);
  expect_error([&] { run_node({"Unsqueeze", {x, i64({1}, {4})}, {}, 1, 13}); }, ErrorCode::InvalidModel);
  auto sym = infer_only("Unsqueeze", {sym_in(F32, ir::SymShape{S("b"), 3}), sym_in(I64, ir::SymShape{2})}, {}, 13);
  ASSERT_TRUE(sym[0].shape);
  EXPECT_EQ(sym[0].shape->size(), 4u);
}

TEST(Squeeze, AttributeInputAndAllOnes) {
  const Tensor x = iota_f32({1, 3, 1, 2});
  EXPECT_EQ(run_node({"Squeeze", {x}, {{"axes", attr_ints({0})}}, 1, 11})[0].shape(), (Shape{3, 1, 2}));
  EXPECT_EQ(run_node({"Squeeze", {x}, {}, 1, 11})[0].shape(), (Shape{3, 2}));
  EXPECT_EQ(run_node({"Squeeze", {x}, {}, 1, 13})[0].shape(), (Shape{3, 2}));
  auto out = run_node({"Squeeze", {x, i64({1}, {-2})}, {}, 1, 13});
  EXPECT_EQ(out[0].shape(), (Shape{1, 3, 2}));
  EXPECT_EQ(values<float>(out[0]), values<float>(x));
  expect_error([&] { run_node({"Squeeze", {x, i64({1}, {1})}, {}, 1, 13}); }, ErrorCode::InvalidModel, "squeeze");
  expect_error([&] { run_node({"Squeeze", {x, i64({1}, {1})}, {}, 1, 13}, false); }, ErrorCode::InvalidArgument);
  EXPECT_FALSE(infer_only("Squeeze", {sym_in(F32, ir::SymShape{S("b"), 1})}, {}, 13)[0].shape);
  EXPECT_EQ(shape_of(infer_only("Squeeze", {sym_in(F32, ir::SymShape{S("b"), 1}), const_in(i64({1}, {1}))}, {}, 13)[0]),
            "[b]");
}

// ---- Slice ----

TEST(Slice, OldOpsetAttributes) {
  const Tensor x = iota_f32({3, 4});
  auto out = run_node({"Slice", {x}, {{"starts", attr_ints({0, 1})}, {"ends", attr_ints({2, 3})}}, 1, 9});
  EXPECT_EQ(out[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{1, 2, 5, 6}));
  out = run_node({"Slice", {x}, {{"starts", attr_ints({1})}, {"ends", attr_ints({1000})}, {"axes", attr_ints({1})}}, 1, 9});
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{1, 2, 3, 5, 6, 7, 9, 10, 11}));
}

TEST(Slice, InputsWithStepsAxesAndClamping) {
  const Tensor x = iota_f32({3, 4});
  // Negative axis, INT64_MAX end.
  auto out = run_node({"Slice", {x, i64({1}, {2}), i64({1}, {k_i64_max}), i64({1}, {-1})}, {}, 1, 13});
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{2, 3, 6, 7, 10, 11}));
  // Steps of 2 on both axes.
  out = run_node({"Slice", {x, i64({2}, {0, 0}), i64({2}, {3, 4}), i64({2}, {0, 1}), i64({2}, {2, 2})}, {}, 1, 13});
  EXPECT_EQ(out[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{0, 2, 8, 10}));
  // int32 starts/ends with INT_MAX, default axes.
  out = run_node({"Slice", {x, i32({1}, {1}), i32({1}, {std::numeric_limits<int32_t>::max()})}, {}, 1, 13});
  EXPECT_EQ(out[0].shape(), (Shape{2, 4}));
  // Start out of bounds gives an empty dim.
  out = run_node({"Slice", {x, i64({1}, {1000}), i64({1}, {1001}), i64({1}, {1})}, {}, 1, 13});
  EXPECT_EQ(out[0].shape(), (Shape{3, 0}));
}

TEST(Slice, NegativeSteps) {
  const Tensor x = iota_i64({10});
  auto run = [&](int64_t s, int64_t e, int64_t st) {
    return values<int64_t>(run_node({"Slice", {x, i64({1}, {s}), i64({1}, {e}), i64({1}, {0}), i64({1}, {st})}})[0]);
  };
  EXPECT_EQ(run(-1, k_i64_min, -3), (std::vector<int64_t>{9, 6, 3, 0}));
  EXPECT_EQ(run(20, -20, -1), (std::vector<int64_t>{9, 8, 7, 6, 5, 4, 3, 2, 1, 0}));
  EXPECT_EQ(run(7, 2, -2), (std::vector<int64_t>{7, 5, 3}));
  EXPECT_EQ(run(-1, -1, -1), std::vector<int64_t>{});
  EXPECT_EQ(run(8, -1, -1), std::vector<int64_t>{});  // end -1 means index 9
  EXPECT_EQ(run(1, 2, k_i64_min), std::vector<int64_t>{});
  EXPECT_EQ(run(5, 0, k_i64_min), std::vector<int64_t>{5});
  const Tensor h = f16({2, 3}, {1, 2, 3, 4, 5, 6});
  auto out = run_node({"Slice", {h, i64({2}, {-1, -1}), i64({2}, {k_i64_min, k_i64_min}), i64({2}, {0, 1}), i64({2}, {-1, -2})}});
  EXPECT_EQ(f16_values(out[0]), (std::vector<float>{6, 4, 3, 1}));
}

TEST(Slice, ErrorsAndSymbols) {
  const Tensor x = iota_f32({3, 4});
  expect_error([&] { run_node({"Slice", {x, i64({1}, {0}), i64({1}, {2}), i64({1}, {0}), i64({1}, {0})}}); },
               ErrorCode::InvalidModel, "step");
  expect_error([&] { run_node({"Slice", {x, i64({1}, {0}), i64({1}, {2}), i64({1}, {2})}}); }, ErrorCode::InvalidModel);
  expect_error([&] { run_node({"Slice", {x, i64({2}, {0, 0}), i64({2}, {2, 2}), i64({2}, {1, -1})}}); },
               ErrorCode::InvalidModel, "repeated");
  const auto in = sym_in(F32, ir::SymShape{S("b"), 10});
  auto out = infer_only("Slice", {in, const_in(i64({1}, {2})), const_in(i64({1}, {5})), const_in(i64({1}, {1}))});
  EXPECT_EQ(shape_of(out[0]), "[b,3]");
  out = infer_only("Slice", {in, const_in(i64({1}, {0})), const_in(i64({1}, {k_i64_max})), const_in(i64({1}, {0}))});
  EXPECT_EQ(shape_of(out[0]), "[b,10]");
  out = infer_only("Slice", {in, sym_in(I64, ir::SymShape{1}), sym_in(I64, ir::SymShape{1}), const_in(i64({1}, {1}))});
  ASSERT_TRUE(out[0].shape);
  EXPECT_EQ((*out[0].shape)[0], S("b"));
  EXPECT_FALSE((*out[0].shape)[1].known());
}

}  // namespace
}  // namespace kiln::test
