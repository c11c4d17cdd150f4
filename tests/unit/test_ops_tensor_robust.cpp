// Tensor-family ops fed random, often invalid, shapes, axes and indices (fixed
// seed): every run must either succeed with inference and kernel agreeing on the
// shape, or throw kiln::Error — never crash or throw anything else. Most useful
// under KILN_SANITIZE=ON.
#include <iostream>
#include <random>

#include "tensor_op_util.h"

namespace kiln::test {
namespace {

class Rand {
 public:
  explicit Rand(uint32_t seed) : m_gen(seed) {}
  int64_t in(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(m_gen); }
  Shape shape(int64_t max_rank = 3, int64_t max_dim = 3) {
    Shape s(static_cast<size_t>(in(0, max_rank)));
    for (int64_t& d : s) d = in(0, max_dim);
    return s;
  }
  std::vector<int64_t> ints(size_t n, int64_t lo, int64_t hi) {
    std::vector<int64_t> v(n);
    for (int64_t& x : v) x = in(lo, hi);
    return v;
  }
  // Mostly small values, sometimes the "to the end" extremes models use.
  int64_t bound() {
    switch (in(0, 9)) {
      case 0: return std::numeric_limits<int64_t>::max();
      case 1: return std::numeric_limits<int64_t>::min();
      case 2: return 2147483647;
      default: return in(-5, 5);
    }
  }

 private:
  std::mt19937 m_gen;
};

Tensor ints_t(const std::vector<int64_t>& v) { return i64({static_cast<int64_t>(v.size())}, v); }

// Runs spec both ways; counts successes; fails the test on anything but kiln::Error.
int try_run(const NodeSpec& spec, int* errors) {
  int ok = 0;
  for (const bool as_const : {true, false}) {
    try {
      run_node(spec, as_const);
      ++ok;
    } catch (const Error&) {
      ++*errors;
    } catch (const std::exception& e) {
      ADD_FAILURE() << spec.op << ": non-kiln exception: " << e.what();
    }
  }
  return ok;
}

NodeSpec random_spec(Rand& r, int which) {
  const Shape s = r.shape();
  const int64_t rank = static_cast<int64_t>(s.size());
  const Tensor x = iota_f32(s);
  switch (which) {
    case 0: return {"Reshape", {x, ints_t(r.ints(static_cast<size_t>(r.in(0, 4)), -2, 5))}, {{"allowzero", attr_i(r.in(0, 1))}}};
    case 1: {
      const size_t n = static_cast<size_t>(r.in(0, 3));
      std::vector<int64_t> st(n), en(n), steps(n);
      for (size_t i = 0; i < n; ++i) {
        st[i] = r.bound();
        en[i] = r.bound();
        steps[i] = r.in(0, 4) == 0 ? r.bound() : r.in(-3, 3);
      }
      return {"Slice", {x, ints_t(st), ints_t(en), ints_t(r.ints(n, -4, 4)), ints_t(steps)}};
    }
    case 2: return {"Gather", {x, i64({2}, r.ints(2, -4, 4))}, {{"axis", attr_i(r.in(-3, 3))}}};
    case 3: return {"Squeeze", {x, ints_t(r.ints(static_cast<size_t>(r.in(0, 2)), -4, 4))}, {}, 1, 13};
    case 4: return {"Unsqueeze", {x, ints_t(r.ints(static_cast<size_t>(r.in(0, 2)), -5, 5))}, {}, 1, 13};
    case 5: return {"Transpose", {x}, {{"perm", attr_ints(r.ints(static_cast<size_t>(r.in(0, 3)), -1, 3))}}};
    case 6: return {"Concat", {x, iota_f32(r.shape())}, {{"axis", attr_i(r.in(-3, 3))}}};
    case 7: return {"Expand", {x, ints_t(r.ints(static_cast<size_t>(r.in(0, 4)), -1, 3))}};
    case 8: return {"Tile", {x, ints_t(r.ints(static_cast<size_t>(rank), -1, 3))}};
    case 9: {
      const char* modes[] = {"constant", "edge", "reflect", "wrap"};
      return {"Pad", {x, ints_t(r.ints(static_cast<size_t>(2 * rank), -3, 3))}, {{"mode", attr_s(modes[r.in(0, 3)])}}, 1, 19};
    }
    case 10: return {"Split", {x, ints_t(r.ints(2, -1, 3))}, {{"axis", attr_i(r.in(-3, 3))}}, 2, 13};
    case 11: {
      Shape is = s;
      for (int64_t& d : is) d = r.in(0, 3);
      return {"GatherElements", {x, i64(is, r.ints(static_cast<size_t>(shape_numel(is)), -4, 4))}, {{"axis", attr_i(r.in(-3, 3))}}};
    }
    case 12: {
      const Shape is = {r.in(1, 3), r.in(1, 4)};
      return {"GatherND", {x, i64(is, r.ints(static_cast<size_t>(is[0] * is[1]), -4, 4))}, {{"batch_dims", attr_i(r.in(0, 1))}}};
    }
    case 13: {
      const Shape is = {r.in(1, 3), r.in(1, 3)};
      Shape us(is.begin(), is.end() - 1);
      for (int64_t k = is.back(); k < rank; ++k) us.push_back(s[static_cast<size_t>(k)]);
      return {"ScatterND", {x, i64(is, r.ints(static_cast<size_t>(is[0] * is[1]), -4, 4)), iota_f32(us)},
              {{"reduction", attr_s(r.in(0, 1) ? "add" : "none")}}};
    }
    case 14: {
      const Shape is = r.shape();
      return {"ScatterElements", {x, i64(is, r.ints(static_cast<size_t>(shape_numel(is)), -4, 4)), iota_f32(is)},
              {{"axis", attr_i(r.in(-3, 3))}}};
    }
    case 15: return {"OneHot", {i64(s, r.ints(static_cast<size_t>(shape_numel(s)), -5, 5)), f32({}, {static_cast<float>(r.in(-1, 4))}), f32({2}, {0, 1})},
                     {{"axis", attr_i(r.in(-4, 3))}}};
    case 16: return {"DepthToSpace", {iota_f32(r.shape(4, 4))}, {{"blocksize", attr_i(r.in(0, 3))}}};
    case 17: return {"Resize", {x, Tensor(), f32({static_cast<int64_t>(rank)}, std::vector<float>(static_cast<size_t>(rank), 0.5f * static_cast<float>(r.in(0, 4))))},
                     {{"mode", attr_s(r.in(0, 1) ? "linear" : "cubic")}}};
    case 18: return {"CumSum", {x, i64({}, {r.in(-4, 4)})}};
    case 19: return {"ReverseSequence", {x, ints_t(r.ints(static_cast<size_t>(r.in(0, 3)), -1, 4))}};
    case 20: {
      std::vector<int> cond(static_cast<size_t>(r.in(0, 5)));
      for (int& c : cond) c = static_cast<int>(r.in(0, 1));
      return {"Compress", {x, boolean({static_cast<int64_t>(cond.size())}, cond)}, {{"axis", attr_i(r.in(-3, 3))}}};
    }
    default: return {"Range", {i64({}, {r.in(-5, 5)}), i64({}, {r.in(-5, 5)}), i64({}, {r.in(-2, 2)})}};
  }
}

TEST(TensorRobustness, RandomArgumentsNeverCrash) {
  Rand r(12345);
  int ok = 0, errors = 0;
  for (int iter = 0; iter < 4000; ++iter) {
    const int which = static_cast<int>(iter % 22);
    NodeSpec spec;
    try {
      spec = random_spec(r, which);
    } catch (const Error&) {
      continue;  // the random inputs themselves were inconsistent
    }
    ok += try_run(spec, &errors);
  }
  std::cout << "random runs: " << ok << " succeeded, " << errors << " refused with kiln::Error\n";
  // Both outcomes must be common, or the generator tests nothing.
  EXPECT_GT(ok, 1000);
  EXPECT_GT(errors, 1000);
}

}  // namespace
}  // namespace kiln::test
