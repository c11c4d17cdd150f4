// ArgMax/ArgMin and TopK against direct references on data full of ties
// (values drawn from a few integers), every axis, both keepdims and
// select_last_index / largest settings, the opset forms of TopK's k, and errors.
#include <algorithm>
#include <cmath>

#include "reduce_test_util.h"

namespace kiln::test {
namespace {

using rq::expect_close;
using rq::expect_ints;

// Values in {-2, ..., 2}, so most slices have ties.
std::vector<float> tied(int64_t n, uint32_t seed) {
  std::vector<float> v = rq::rnd(n, seed, -2.5f, 2.5f);
  for (float& x : v) x = std::round(x);
  return v;
}

// Element (o, k, i) of a tensor viewed as [outer, n, inner].
struct View {
  int64_t outer = 1, n = 1, inner = 1;
  View(const Shape& s, size_t axis) {
    for (size_t d = 0; d < s.size(); ++d) (d < axis ? outer : d == axis ? n : inner) *= s[d];
  }
  int64_t at(int64_t o, int64_t k, int64_t i) const { return (o * n + k) * inner + i; }
};

TEST(ReduceArg, ArgMaxArgMinMatchReference) {
  const Shape s{3, 4, 5};
  const std::vector<float> v = tied(60, 3);
  const Tensor x = f32(s, v);
  for (const char* op : {"ArgMax", "ArgMin"})
    for (int64_t axis = -3; axis < 3; ++axis)
      for (int keep = 0; keep < 2; ++keep)
        for (int last = 0; last < 2; ++last) {
          const auto ax = static_cast<size_t>(axis < 0 ? axis + 3 : axis);
          const View w(s, ax);
          std::vector<int64_t> want;
          for (int64_t o = 0; o < w.outer; ++o)
            for (int64_t i = 0; i < w.inner; ++i) {
              int64_t best = 0;
              for (int64_t k = 1; k < w.n; ++k) {
                const float a = v[static_cast<size_t>(w.at(o, k, i))], b = v[static_cast<size_t>(w.at(o, best, i))];
                const bool better = std::string(op) == "ArgMax" ? a > b : a < b;
                if (better || (last && a == b)) best = k;
              }
              want.push_back(best);
            }
          Shape out = s;
          if (keep) out[ax] = 1;
          else out.erase(out.begin() + static_cast<std::ptrdiff_t>(ax));
          std::map<std::string, ir::Attribute> attrs{{"axis", attr_i(axis)}, {"keepdims", attr_i(keep)}};
          if (last) attrs["select_last_index"] = attr_i(1);
          expect_ints(run_node({op, {x}, attrs, 1, 13})[0], out, want,
                      std::string(op) + " axis " + std::to_string(axis) + " keep " + std::to_string(keep) +
                          " last " + std::to_string(last));
        }
}

TEST(ReduceArg, ArgHandCases) {
  // Default axis 0, keepdims 1; ties go to the first index.
  expect_ints(run_node({"ArgMax", {f32({2, 2}, {2, 1, 2, 3})}, {}, 1, 11})[0], {1, 2}, {0, 1});
  expect_ints(run_node({"ArgMin", {f32({3}, {1, NAN, 0})}, {}, 1, 13})[0], {1}, {1});  // NaN wins, as in numpy
  expect_ints(run_node({"ArgMax", {i64({4}, {5, 9, 9, 1})}, {{"select_last_index", attr_i(1)}}, 1, 12})[0], {1},
              {2});
  const Tensor x = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  expect_error([&] { run_node({"ArgMax", {x}, {{"axis", attr_i(2)}}}); }, ErrorCode::InvalidModel, "out of range");
  expect_error([&] { run_node({"ArgMax", {f32({2, 0}, {})}, {{"axis", attr_i(1)}}}); }, ErrorCode::InvalidModel,
               "empty axis");
}

TEST(ReduceArg, TopKMatchesReference) {
  const Shape s{3, 6, 2};
  const std::vector<float> v = tied(36, 11);
  const Tensor x = f32(s, v);
  for (int64_t axis : {0, 1, -1})
    for (int largest = 0; largest < 2; ++largest)
      for (int64_t k : {int64_t{0}, int64_t{1}, int64_t{2}}) {
        const auto ax = static_cast<size_t>(axis < 0 ? axis + 3 : axis);
        const View w(s, ax);
        Shape out = s;
        out[ax] = k;
        std::vector<double> want_v(static_cast<size_t>(shape_numel(out)));
        std::vector<int64_t> want_i(want_v.size());
        for (int64_t o = 0; o < w.outer; ++o)
          for (int64_t i = 0; i < w.inner; ++i) {
            std::vector<int64_t> idx(static_cast<size_t>(w.n));
            for (int64_t j = 0; j < w.n; ++j) idx[static_cast<size_t>(j)] = j;
            auto val = [&](int64_t j) { return v[static_cast<size_t>(w.at(o, j, i))]; };
            std::stable_sort(idx.begin(), idx.end(),
                             [&](int64_t a, int64_t b) { return largest ? val(a) > val(b) : val(a) < val(b); });
            for (int64_t j = 0; j < k; ++j) {
              const auto pos = static_cast<size_t>((o * k + j) * w.inner + i);
              want_v[pos] = val(idx[static_cast<size_t>(j)]);
              want_i[pos] = idx[static_cast<size_t>(j)];
            }
          }
        const std::string what = "axis " + std::to_string(axis) + " largest " + std::to_string(largest) + " k " +
                                 std::to_string(k);
        const auto outs = run_node({"TopK", {x, i64({1}, {k})}, {{"axis", attr_i(axis)}, {"largest", attr_i(largest)}},
                                    2, 11});
        expect_close(outs[0], out, want_v, 0, what);
        expect_ints(outs[1], out, want_i, what);
      }
}

TEST(ReduceArg, TopKForms) {
  const Tensor x = f32({5}, {3, 1, 4, 1, 5});
  // Opset 1-9: k is an attribute and the node has one input; default axis -1.
  auto old = run_node({"TopK", {x}, {{"k", attr_i(3)}}, 2, 9});
  expect_close(old[0], {3}, {5, 4, 3}, 0);
  expect_ints(old[1], {3}, {4, 2, 0});
  auto small = run_node({"TopK", {x, i64({1}, {2})}, {{"largest", attr_i(0)}, {"sorted", attr_i(1)}}, 2, 11});
  expect_close(small[0], {2}, {1, 1}, 0);
  expect_ints(small[1], {2}, {1, 3});  // equal values: lower index first
  // NaN sorts as the largest value.
  auto nan = run_node({"TopK", {f32({3}, {1, NAN, 2}), i64({1}, {2})}, {}, 2, 11});
  expect_close(nan[0], {2}, {NAN, 2}, 0);
  expect_ints(nan[1], {2}, {1, 2});
  auto ints = run_node({"TopK", {rq::typed<uint64_t>(DataType::UInt64, {3}, {7, ~uint64_t{0}, 8}), i64({1}, {1})},
                        {}, 2, 24});
  EXPECT_EQ(ints[0].data<uint64_t>()[0], ~uint64_t{0});
  // K unknown at build time: its dim is a symbol, the kernel fills it.
  auto dyn = run_node({"TopK", {x, i64({1}, {2})}, {}, 2, 11}, false);
  expect_ints(dyn[1], {2}, {4, 2});

  expect_error([&] { run_node({"TopK", {x, i64({1}, {6})}, {}, 2, 11}); }, ErrorCode::InvalidModel, "exceeds");
  expect_error([&] { run_node({"TopK", {x, i64({1}, {-1})}, {}, 2, 11}); }, ErrorCode::InvalidModel, ">= 0");
  expect_error([&] { run_node({"TopK", {x}, {}, 2, 9}); }, ErrorCode::InvalidModel, "attribute k");
  expect_error([&] { run_node({"TopK", {x}, {{"k", attr_i(1)}}, 2, 11}); }, ErrorCode::InvalidModel, "required");
  expect_error([&] { run_node({"TopK", {x, i64({1}, {6})}, {}, 2, 11}, false); }, ErrorCode::InvalidArgument,
               "outside");
}

}  // namespace
}  // namespace kiln::test
