// Reduce* against a naive reference (every input element is bucketed by its
// output index, then the op's formula is applied to each bucket), for every
// axes subset, keepdims and both opset forms of the axes; hand-computed
// identities of empty reductions, integer and bool cases, and errors.
// ArgMax/ArgMin/TopK are in test_ops_reduce_arg.cpp.
#include <cmath>
#include <limits>

#include "reduce_test_util.h"

namespace kiln::test {
namespace {

using rq::expect_close;
using rq::expect_ints;

const char* const k_ops[] = {"ReduceSum", "ReduceMean", "ReduceMax",    "ReduceMin",       "ReduceProd",
                             "ReduceL1",  "ReduceL2",   "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"};

double apply(const std::string& op, const std::vector<double>& v) {
  double s = 0, p = 1, mx = -INFINITY, mn = INFINITY, l1 = 0, sq = 0, se = 0;
  for (double x : v) {
    s += x;
    p *= x;
    mx = std::max(mx, x);
    mn = std::min(mn, x);
    l1 += std::fabs(x);
    sq += x * x;
    se += std::exp(x);
  }
  if (op == "ReduceSum") return s;
  if (op == "ReduceMean") return s / static_cast<double>(v.size());
  if (op == "ReduceMax") return mx;
  if (op == "ReduceMin") return mn;
  if (op == "ReduceProd") return p;
  if (op == "ReduceL1") return l1;
  if (op == "ReduceL2") return std::sqrt(sq);
  if (op == "ReduceLogSum") return std::log(s);
  if (op == "ReduceLogSumExp") return std::log(se);
  return sq;
}

// The reference reduction of x (shape s) over the axes marked in `red`;
// `out` gets the keepdims=1 output shape.
std::vector<double> ref_reduce(const std::string& op, const std::vector<double>& x, const Shape& s,
                               const std::vector<bool>& red, Shape* out) {
  out->clear();
  for (size_t d = 0; d < s.size(); ++d) out->push_back(red[d] ? 1 : s[d]);
  std::vector<std::vector<double>> buckets(static_cast<size_t>(shape_numel(*out)));
  for (int64_t i = 0; i < shape_numel(s); ++i) {
    int64_t rem = i, o = 0, ostride = 1;
    for (size_t d = s.size(); d-- > 0;) {
      const int64_t idx = rem % s[d];
      rem /= s[d];
      if (!red[d]) o += idx * ostride;
      ostride *= (*out)[d];
    }
    buckets[static_cast<size_t>(o)].push_back(x[static_cast<size_t>(i)]);
  }
  std::vector<double> r;
  for (const auto& b : buckets) r.push_back(apply(op, b));
  return r;
}

Shape drop_reduced(const Shape& keep, const std::vector<bool>& red) {
  Shape out;
  for (size_t d = 0; d < keep.size(); ++d)
    if (!red[d]) out.push_back(keep[d]);
  return out;
}

TEST(Reduce, AllOpsAllAxesBothForms) {
  const Shape s{2, 3, 4};
  std::vector<float> xf = rq::rnd(24, 7, -1.f, 1.f);
  for (const char* op : k_ops) {
    std::vector<float> v = xf;
    if (std::string(op) == "ReduceLogSum") for (float& e : v) e = std::fabs(e) + 0.1f;
    const Tensor x = f32(s, v);
    const std::vector<double> xd(v.begin(), v.end());
    const bool sum = std::string(op) == "ReduceSum";
    for (int mask = 0; mask < 8; ++mask) {
      std::vector<bool> red(3);
      std::vector<int64_t> axes;
      for (int d = 0; d < 3; ++d)
        if (mask & (1 << d)) {
          red[static_cast<size_t>(d)] = true;
          axes.push_back(mask % 2 ? d - 3 : d);  // negative axes on odd masks
        }
      if (mask == 0) red.assign(3, true);  // no axes: reduce everything
      Shape keep;
      const std::vector<double> want = ref_reduce(op, xd, s, red, &keep);
      for (int keepdims = 0; keepdims < 2; ++keepdims) {
        const Shape out = keepdims ? keep : drop_reduced(keep, red);
        const std::string what = std::string(op) + " mask " + std::to_string(mask) + " keepdims " +
                                 std::to_string(keepdims);
        // Newest form: axes as input 1 (omitted when empty).
        NodeSpec in_form{op, {x}, {{"keepdims", attr_i(keepdims)}}, 1, 18};
        if (!axes.empty()) in_form.inputs.push_back(i64({static_cast<int64_t>(axes.size())}, axes));
        expect_close(run_node(in_form)[0], out, want, 1e-5, what + " (input)");
        // Older form: axes as attribute (ReduceSum before 13, the others before 18).
        NodeSpec attr_form{op, {x}, {{"keepdims", attr_i(keepdims)}}, 1, sum ? 11 : 13};
        if (!axes.empty()) attr_form.attrs["axes"] = attr_ints(axes);
        expect_close(run_node(attr_form)[0], out, want, 1e-5, what + " (attribute)");
      }
    }
  }
}

TEST(Reduce, AxesKnownOnlyAtRunTime) {
  const Tensor x = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  // Inputs not constant: inference cannot know the axes' values.
  auto outs = run_node({"ReduceSum", {x, i64({1}, {1})}, {{"keepdims", attr_i(0)}}, 1, 13}, false);
  expect_close(outs[0], {2}, {6, 15}, 0);
  const auto inf = infer_only("ReduceMean", {{DataType::Float32, ir::SymShape{4, 1, 5}},
                                                 {DataType::Int64, ir::SymShape{2}}},
                                  {{"keepdims", attr_i(0)}}, 18, 1);
  ASSERT_TRUE(inf[0].shape);
  EXPECT_EQ(inf[0].shape->size(), 1u);  // rank 3 minus two axes
  const auto keep = infer_only("ReduceMean", {{DataType::Float32, ir::SymShape{4, 1, 5}},
                                                  {DataType::Int64, ir::SymShape{2}}}, {}, 18, 1);
  ASSERT_TRUE(keep[0].shape);
  ASSERT_EQ(keep[0].shape->size(), 3u);
  EXPECT_FALSE((*keep[0].shape)[0].known());
  EXPECT_EQ((*keep[0].shape)[1], ir::Dim(1));  // a 1 stays 1 whether reduced or not
}

TEST(Reduce, NoopWithEmptyAxes) {
  const Tensor x = f32({2, 2}, {1, 2, 3, 4});
  const Tensor empty = i64({0}, {});
  expect_close(run_node({"ReduceSum", {x, empty}, {{"noop_with_empty_axes", attr_i(1)}}, 1, 13})[0], {2, 2},
               {1, 2, 3, 4}, 0, "noop, empty axes input");
  expect_close(run_node({"ReduceMax", {x}, {{"noop_with_empty_axes", attr_i(1)}}, 1, 18})[0], {2, 2},
               {1, 2, 3, 4}, 0, "noop, axes omitted");
  expect_close(run_node({"ReduceSum", {x, empty}, {}, 1, 13})[0], {1, 1}, {10}, 0, "empty axes reduce all");
  expect_close(run_node({"ReduceSum", {x, empty}, {{"keepdims", attr_i(0)}}, 1, 13})[0], {}, {10}, 0, "to scalar");
}

TEST(Reduce, EmptySetGivesIdentity) {
  const Tensor x = f32({2, 0, 3}, {});
  const Tensor axes = i64({1}, {1});
  const double inf = INFINITY;
  const std::pair<const char*, double> cases[] = {
      {"ReduceSum", 0},   {"ReduceMax", -inf},   {"ReduceMin", inf},        {"ReduceProd", 1},
      {"ReduceL1", 0},    {"ReduceL2", 0},       {"ReduceLogSum", -inf},    {"ReduceLogSumExp", -inf},
      {"ReduceSumSquare", 0}, {"ReduceMean", NAN}};
  for (const auto& [op, id] : cases)
    expect_close(run_node({op, {x, axes}, {}, 1, 20})[0], {2, 1, 3}, std::vector<double>(6, id), 0, op);
  // Integer identities are the type's limits.
  const Tensor xi = rq::typed<int32_t>(DataType::Int32, {0, 2}, {});
  expect_ints(run_node({"ReduceMax", {xi, i64({1}, {0})}, {}, 1, 20})[0], {1, 2},
              {std::numeric_limits<int32_t>::lowest(), std::numeric_limits<int32_t>::lowest()}, "int max");
  expect_ints(run_node({"ReduceMin", {xi, i64({1}, {0})}, {}, 1, 20})[0], {1, 2},
              {std::numeric_limits<int32_t>::max(), std::numeric_limits<int32_t>::max()}, "int min");
  // Reducing a non-empty axis of an empty tensor gives an empty output.
  EXPECT_EQ(run_node({"ReduceSum", {x, i64({1}, {2})}, {}, 1, 13})[0].shape(), (Shape{2, 0, 1}));
}

TEST(Reduce, IntegerTypes) {
  // int64 sums stay exact past 2^53.
  const int64_t big = (int64_t{1} << 60) + 1;
  expect_ints(run_node({"ReduceSum", {i64({2}, {big, 2})}, {{"keepdims", attr_i(0)}}, 1, 13})[0], {}, {big + 2});
  const Tensor x = rq::typed<int32_t>(DataType::Int32, {2, 3}, {1, -2, 3, 4, 5, -6});
  const Tensor ax = i64({1}, {1});
  expect_ints(run_node({"ReduceProd", {x, ax}, {}, 1, 18})[0], {2, 1}, {-6, -120});
  expect_ints(run_node({"ReduceL1", {x, ax}, {}, 1, 18})[0], {2, 1}, {6, 15});
  expect_ints(run_node({"ReduceSumSquare", {x, ax}, {}, 1, 18})[0], {2, 1}, {14, 77});
  expect_ints(run_node({"ReduceMean", {x, ax}, {}, 1, 18})[0], {2, 1}, {0, 1});  // 2/3 and 3/3, truncated
  expect_ints(run_node({"ReduceMax", {x, ax}, {}, 1, 18})[0], {2, 1}, {3, 5});
  expect_ints(run_node({"ReduceL2", {x, ax}, {}, 1, 18})[0], {2, 1}, {3, 8});  // sqrt 14, sqrt 77, truncated
  const Tensor u = rq::typed<uint8_t>(DataType::UInt8, {3}, {200, 7, 255});
  expect_ints(run_node({"ReduceMin", {u}, {{"keepdims", attr_i(0)}}, 1, 18})[0], {}, {7});
}

TEST(Reduce, BoolMaxMinFromOpset20) {
  const Tensor b = rq::typed<bool>(DataType::Bool, {2, 2}, {true, false, false, false});
  const Tensor ax = i64({1}, {1});
  expect_ints(run_node({"ReduceMax", {b, ax}, {}, 1, 20})[0], {2, 1}, {1, 0});
  expect_ints(run_node({"ReduceMin", {b, ax}, {}, 1, 20})[0], {2, 1}, {0, 0});
  EXPECT_EQ(run_node({"ReduceMax", {b, ax}, {}, 1, 20})[0].dtype(), DataType::Bool);
  expect_error([&] { run_node({"ReduceMax", {b, ax}, {}, 1, 18}); }, ErrorCode::InvalidModel, "bool");
  expect_error([&] { run_node({"ReduceSum", {b, ax}, {}, 1, 20}); }, ErrorCode::InvalidModel, "bool");
}

TEST(Reduce, LogSumExpIsStableAndHalfWorks) {
  expect_close(run_node({"ReduceLogSumExp", {f32({2}, {1000, 1000})}, {{"keepdims", attr_i(0)}}, 1, 18})[0], {},
               {1000 + std::log(2.0)}, 1e-6);
  expect_close(run_node({"ReduceLogSumExp", {f32({2}, {-1000, -1000})}, {{"keepdims", attr_i(0)}}, 1, 18})[0], {},
               {-1000 + std::log(2.0)}, 1e-6);
  Tensor h = Tensor::empty(DataType::Float16, {4});
  const float hv[] = {0.5f, 1.5f, -2.f, 3.f};
  for (int i = 0; i < 4; ++i) h.data<Half>()[i] = Half(hv[i]);
  const Tensor out = run_node({"ReduceSum", {h}, {{"keepdims", attr_i(0)}}, 1, 18})[0];
  EXPECT_EQ(out.dtype(), DataType::Float16);
  expect_close(out, {}, {3.0}, 1e-3);
  // NaN propagates through max/min.
  expect_close(run_node({"ReduceMax", {f32({3}, {1, NAN, 2})}, {{"keepdims", attr_i(0)}}, 1, 18})[0], {}, {NAN}, 0);
}

TEST(Reduce, Errors) {
  const Tensor x = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  expect_error([&] { run_node({"ReduceSum", {x, i64({1}, {2})}, {}, 1, 13}); }, ErrorCode::InvalidModel,
               "out of range");
  expect_error([&] { run_node({"ReduceMean", {x, i64({2}, {1, -1})}, {}, 1, 18}); }, ErrorCode::InvalidModel,
               "repeated");
  expect_error([&] { run_node({"ReduceMean", {x}, {{"axes", attr_ints({3})}}, 1, 13}); }, ErrorCode::InvalidModel,
               "out of range");
  // The opset decides the form: an axes attribute at 18, an axes input at 13 (for ReduceMean) are refused.
  expect_error([&] { run_node({"ReduceMean", {x}, {{"axes", attr_ints({0})}}, 1, 18}); }, ErrorCode::InvalidModel,
               "attribute");
  expect_error([&] { run_node({"ReduceMean", {x, i64({1}, {0})}, {}, 1, 13}); }, ErrorCode::InvalidModel,
               "one input");
  expect_error([&] { run_node({"ReduceSum", {x, i64({1}, {0})}, {}, 1, 11}); }, ErrorCode::InvalidModel,
               "one input");
  expect_error([&] { run_node({"ReduceSum", {x, f32({1}, {0})}, {}, 1, 13}); }, ErrorCode::InvalidModel, "dtype");
  // Axes known only when the kernel runs are checked there.
  expect_error([&] { run_node({"ReduceSum", {x, i64({1}, {5})}, {}, 1, 13}, false); }, ErrorCode::InvalidArgument,
               "out of range");
}

}  // namespace
}  // namespace kiln::test
