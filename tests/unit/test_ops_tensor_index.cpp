// Tensor-family ops, part 3: GatherElements, GatherND, ScatterND,
// ScatterElements/Scatter, OneHot, NonZero, Compress. Expected values are
// hand-computed (mostly the examples of the ONNX operator docs).
#include "tensor_op_util.h"

namespace kiln::test {
namespace {

constexpr DataType F32 = DataType::Float32;

TEST(GatherElements, BothAxesAndNegativeIndices) {
  const Tensor data = f32({2, 2}, {1, 2, 3, 4});
  auto out = run_node({"GatherElements", {data, i64({2, 2}, {0, 0, 1, 0})}, {{"axis", attr_i(1)}}});
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{1, 1, 4, 3}));
  const Tensor d3 = f32({3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  out = run_node({"GatherElements", {d3, i32({2, 3}, {1, 2, 0, 2, 0, -3})}});
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{4, 8, 3, 7, 2, 3}));
  expect_error([&] { run_node({"GatherElements", {data, i64({1, 1}, {2})}}); }, ErrorCode::InvalidArgument, "n0");
}

TEST(GatherND, IndexTuplesSlicesAndBatchDims) {
  const Tensor d = i64({2, 2}, {0, 1, 2, 3});
  EXPECT_EQ(values<int64_t>(run_node({"GatherND", {d, i64({2, 2}, {0, 0, 1, 1})}})[0]), (std::vector<int64_t>{0, 3}));
  auto out = run_node({"GatherND", {d, i64({2, 1}, {1, 0})}});
  EXPECT_EQ(out[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(values<int64_t>(out[0]), (std::vector<int64_t>{2, 3, 0, 1}));
  const Tensor d3 = iota_f32({2, 2, 2});
  out = run_node({"GatherND", {d3, i64({2, 1}, {1, 0})}, {{"batch_dims", attr_i(1)}}});
  EXPECT_EQ(out[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{2, 3, 4, 5}));
  out = run_node({"GatherND", {d3, i64({1, 2, 3}, {0, 1, -1, 1, 0, 1})}});
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{3, 5}));
  expect_error([&] { run_node({"GatherND", {d, i64({1, 2}, {0, 2})}}); }, ErrorCode::InvalidArgument, "out of range");
}

TEST(ScatterND, UpdatesAndReductions) {
  const Tensor data = f32({8}, {1, 2, 3, 4, 5, 6, 7, 8});
  auto out = run_node({"ScatterND", {data, i64({4, 1}, {4, 3, 1, 7}), f32({4}, {9, 10, 11, 12})}});
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{1, 11, 3, 10, 9, 6, 7, 12}));
  const Tensor dup = i64({2, 1}, {0, 0});
  auto red = [&](const char* r) {
    return values<float>(run_node({"ScatterND", {f32({2}, {2, 5}), dup, f32({2}, {3, 4})}, {{"reduction", attr_s(r)}}})[0]);
  };
  EXPECT_EQ(red("add"), (std::vector<float>{9, 5}));
  EXPECT_EQ(red("mul"), (std::vector<float>{24, 5}));
  EXPECT_EQ(red("max"), (std::vector<float>{4, 5}));
  EXPECT_EQ(red("min"), (std::vector<float>{2, 5}));
  // Slices: write whole rows of a [2, 3] tensor.
  out = run_node({"ScatterND", {iota_i64({2, 3}), i64({1, 1}, {-1}), i64({1, 3}, {7, 8, 9})}});
  EXPECT_EQ(values<int64_t>(out[0]), (std::vector<int64_t>{0, 1, 2, 7, 8, 9}));
  expect_error([&] { run_node({"ScatterND", {data, i64({1, 1}, {8}), f32({1}, {0})}}); }, ErrorCode::InvalidArgument);
}

TEST(ScatterElements, AxesReductionsAndOldName) {
  const Tensor data = f32({3, 3}, {0, 0, 0, 0, 0, 0, 0, 0, 0});
  const Tensor idx = i64({2, 3}, {1, 0, 2, 0, 2, 1});
  const Tensor upd = f32({2, 3}, {1.0f, 1.1f, 1.2f, 2.0f, 2.1f, 2.2f});
  auto out = run_node({"ScatterElements", {data, idx, upd}});
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{2.0f, 1.1f, 0, 1.0f, 0, 2.2f, 0, 2.1f, 1.2f}));
  auto old = run_node({"Scatter", {data, idx, upd}, {}, 1, 10});
  EXPECT_EQ(values<float>(old[0]), values<float>(out[0]));
  const Tensor row = f32({1, 5}, {1, 2, 3, 4, 5});
  out = run_node({"ScatterElements", {row, i64({1, 2}, {1, -2}), f32({1, 2}, {1.1f, 2.1f})}, {{"axis", attr_i(1)}}});
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{1, 1.1f, 3, 2.1f, 5}));
  out = run_node({"ScatterElements", {row, i64({1, 2}, {1, 1}), f32({1, 2}, {1.5f, 2.5f})},
                  {{"axis", attr_i(1)}, {"reduction", attr_s("add")}}});
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{1, 6, 3, 4, 5}));
  expect_error([&] { run_node({"ScatterElements", {row, i64({1, 1}, {5}), f32({1, 1}, {0})}, {{"axis", attr_i(1)}}}); },
               ErrorCode::InvalidArgument, "out of range");
}

TEST(OneHot, AxesNegativeAndOutOfRangeIndices) {
  // Index -1 wraps to depth-1; 5 is out of range and leaves an all-off row.
  auto out = run_node({"OneHot", {i64({4}, {0, 2, -1, 5}), f32({}, {3}), f32({2}, {0, 1})}});
  EXPECT_EQ(out[0].shape(), (Shape{4, 3}));
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{1, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0}));
  out = run_node({"OneHot", {f32({2}, {1, 0}), i64({1}, {2}), i64({2}, {-1, 7})}, {{"axis", attr_i(0)}}});
  EXPECT_EQ(out[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(values<int64_t>(out[0]), (std::vector<int64_t>{-1, 7, 7, -1}));
  auto sym = infer_only("OneHot", {sym_in(DataType::Int64, ir::SymShape{S("b")}), sym_in(F32, ir::SymShape{}),
                                   sym_in(F32, ir::SymShape{2})});
  ASSERT_TRUE(sym[0].shape);
  EXPECT_EQ((*sym[0].shape)[0], S("b"));
  EXPECT_FALSE((*sym[0].shape)[1].known());
}

TEST(NonZero, IndicesAndDataDependentShape) {
  auto out = run_node({"NonZero", {f32({2, 2}, {1, 0, 1, 1})}});
  EXPECT_EQ(out[0].shape(), (Shape{2, 3}));
  EXPECT_EQ(values<int64_t>(out[0]), (std::vector<int64_t>{0, 1, 1, 0, 0, 1}));
  out = run_node({"NonZero", {boolean({3}, {0, 1, 0})}}, false);
  EXPECT_EQ(values<int64_t>(out[0]), std::vector<int64_t>{1});
  out = run_node({"NonZero", {f32({2}, {-0.0f, 0.0f})}});
  EXPECT_EQ(out[0].shape(), (Shape{1, 0}));
  auto sym = infer_only("NonZero", {sym_in(F32, ir::SymShape{3, 4})});
  ASSERT_TRUE(sym[0].shape);
  EXPECT_EQ((*sym[0].shape)[0], ir::Dim(2));
  EXPECT_FALSE((*sym[0].shape)[1].known());
  EXPECT_FALSE((*sym[0].shape)[1].symbol.empty());
}

TEST(Compress, AxisAndFlattened) {
  const Tensor x = f32({3, 2}, {1, 2, 3, 4, 5, 6});
  auto out = run_node({"Compress", {x, boolean({2}, {0, 1})}, {{"axis", attr_i(0)}}});
  EXPECT_EQ(out[0].shape(), (Shape{1, 2}));
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{3, 4}));
  out = run_node({"Compress", {x, boolean({2}, {0, 1})}, {{"axis", attr_i(-1)}}});
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{2, 4, 6}));
  out = run_node({"Compress", {x, boolean({5}, {0, 1, 0, 0, 1})}}, false);
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{2, 5}));
  expect_error([&] { run_node({"Compress", {x, boolean({4}, {0, 0, 0, 1})}, {{"axis", attr_i(0)}}}); },
               ErrorCode::InvalidModel, "beyond");
  expect_error([&] { run_node({"Compress", {x, boolean({4}, {0, 0, 0, 1})}, {{"axis", attr_i(0)}}}, false); },
               ErrorCode::InvalidArgument, "beyond");
}

}  // namespace
}  // namespace kiln::test
