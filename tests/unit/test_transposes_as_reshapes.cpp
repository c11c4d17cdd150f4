// passes::transposes_as_reshapes: a Transpose that only moves dims of size 1
// becomes a Reshape giving the same tensor; one that moves data stays.
#include <gtest/gtest.h>

#include "ir/op_schema.h"
#include "kernel_harness.h"
#include "pass_test_util.h"
#include "passes/passes.h"

namespace kiln::test {
namespace {

struct Case {
  Shape in;
  std::vector<int64_t> perm;  // empty: the default (reversed)
  bool rewritten;
};

void check(const Case& c, int64_t opset = 17) {
  SCOPED_TRACE(shape_str(c.in) + " opset " + std::to_string(opset));
  GraphBuilder b;
  b.g.opsets[""] = opset;
  Shape out;
  std::vector<int64_t> perm = c.perm;
  if (perm.empty())
    for (int64_t d = static_cast<int64_t>(c.in.size()) - 1; d >= 0; --d) perm.push_back(d);
  for (int64_t p : perm) out.push_back(c.in[static_cast<size_t>(p)]);
  const ir::ValueId x = b.v("x", c.in), y = b.v("y", out);
  ir::Node& t = b.n("Transpose", {x}, {y});
  if (!c.perm.empty()) t.attrs["perm"] = attr_ints(c.perm);
  b.g.inputs = {x};
  b.g.outputs = {y};
  const Tensor input = filled(c.in, 0.5f, 0.25f);
  const Tensor want = run_on_cpu(b.g, {input})[0];
  ir::Graph g = b.g;
  EXPECT_EQ(passes::transposes_as_reshapes(g), c.rewritten ? 1 : 0);
  EXPECT_EQ(count_ops(g, "Reshape"), c.rewritten ? 1 : 0);
  EXPECT_EQ(count_ops(g, "Transpose"), c.rewritten ? 0 : 1);
  ir::infer_shapes(g);
  EXPECT_EQ(ir::to_shape(*g.value(g.outputs[0]).shape), want.shape());
  expect_near_all(run_on_cpu(g, {input})[0], want, 0);
}

TEST(TransposesAsReshapes, OnlyDimsOfOneMovedBecomeAReshape) {
  check({{1, 5, 7}, {1, 0, 2}, true});         // batch-first swap at batch 1
  check({{4, 1, 1, 9}, {1, 0, 3, 2}, true});   // ones moved on both sides
  check({{1, 1, 6}, {}, true});                // the default perm, one dim not 1
  check({{5, 1, 7, 1}, {1, 0, 3, 2}, true});
  check({{1, 5, 7}, {1, 0, 2}, true}, 4);      // Reshape-1: the shape as an attribute
}

TEST(TransposesAsReshapes, TransposesThatMoveDataStay) {
  check({{2, 5, 7}, {1, 0, 2}, false});
  check({{3, 1, 4}, {}, false});
  check({{1, 12, 9, 4}, {0, 2, 1, 3}, false});
}

}  // namespace
}  // namespace kiln::test
