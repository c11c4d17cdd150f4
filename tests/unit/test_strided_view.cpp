// ir::ViewTracer and ir::StridedView: view ops on strided views, checked
// against the element each view position must reach.
#include <gtest/gtest.h>

#include "ir/strided_view.h"

namespace kiln::ir {
namespace {

TEST(StridedView, HeadsSplitTransposedAndMergedBack) {
  ViewTracer t({5, 2, 12});  // [S, B, E]
  ASSERT_TRUE(t.reshape({5, 12, 2}));  // [S, B*H, D] with H 6, D 2
  ASSERT_TRUE(t.transpose({1, 0, 2}));
  ASSERT_TRUE(t.reshape({2, 6, 5, 2}));  // [B, H, S, D]
  const auto v = t.flat();
  ASSERT_TRUE(v);
  EXPECT_EQ(v->strides, (std::vector<int64_t>{12, 2, 24, 1}));
  // A real miss:
  ViewTracer m({3, 4});
  ASSERT_TRUE(m.transpose({1, 0}));
  ASSERT_TRUE(m.reshape({12}));
  EXPECT_FALSE(m.flat());  // a transposed matrix flattened is no strided view
}

TEST(StridedView, UnevenSplitsAndBadPermsAreRefused) {
  ViewTracer t({4, 6});
  EXPECT_FALSE(t.reshape({3, 8}));  // 4 cannot give 3
  EXPECT_EQ(t.dims(), (Shape{4, 6}));
  EXPECT_TRUE(t.reshape({2, 12}));
  EXPECT_FALSE(t.transpose({0, 0}));
  EXPECT_FALSE(t.select(2, 0, false));
  EXPECT_FALSE(t.select(0, 2, false));
}

TEST(StridedView, SelectWalksMergedDimsInMixedRadix) {
  ViewTracer t({3, 4, 5});
  ASSERT_TRUE(t.transpose({1, 0, 2}));  // [4, 3, 5]
  ASSERT_TRUE(t.reshape({12, 5}));      // dim 0: (4, 5), (3, 20)
  ASSERT_TRUE(t.select(0, 7, false));   // 7 = 2 * 3 + 1: element [1, 2, :] of the original
  const auto v = t.flat();
  ASSERT_TRUE(v);
  EXPECT_EQ(v->offset, 1 * 20 + 2 * 5);
  EXPECT_EQ(v->dims, (Shape{5}));
  EXPECT_EQ(v->strides, (std::vector<int64_t>{1}));
}

TEST(StridedView, DensePermutationAndExtent) {
  StridedView v = StridedView::dense({2, 3, 4});
  EXPECT_TRUE(v.is_dense_permutation());
  EXPECT_EQ(v.extent(), 24);
  v.strides = {4, 8, 1};  // [2, 3, 4] of a [3, 2, 4] buffer
  EXPECT_TRUE(v.is_dense_permutation());
  v.strides = {4, 4, 1};  // overlapping
  EXPECT_FALSE(v.is_dense_permutation());
  v.dims = {3, 3, 4};
  v.strides = {INT64_MAX / 2, 1, 1};
  EXPECT_EQ(v.extent(), INT64_MAX);  // saturates
}

}  // namespace
}  // namespace kiln::ir
