// Elementwise ops, first group: arithmetic with broadcasting, Sum, Relu, Clip,
// Sigmoid/HardSigmoid/HardSwish, Identity, Dropout, Cast; plus inference on
// symbolic shapes and the error paths.
#include <cmath>
#include <limits>

#include "ew_test_util.h"

namespace kiln::test {
namespace {

using Fn = std::function<float(float, float)>;

struct BcastCase { Shape a, b, out; };
const BcastCase k_bcast_cases[] = {
    {{2, 3, 4}, {2, 3, 4}, {2, 3, 4}}, {{2, 3, 4}, {}, {2, 3, 4}},      {{}, {3, 1}, {3, 1}},
    {{2, 3, 4}, {3, 1}, {2, 3, 4}},    {{2, 3, 4}, {4}, {2, 3, 4}},     {{2, 1, 3, 1}, {1, 4, 1, 5}, {2, 4, 3, 5}},
    {{5, 1}, {1, 6}, {5, 6}},          {{1, 3, 1}, {2, 1, 7}, {2, 3, 7}}, {{0, 3}, {1, 3}, {0, 3}},
    {{3, 1, 2}, {3, 4, 2}, {3, 4, 2}}, {{1}, {2, 2}, {2, 2}},
};

TEST(EwArith, FloatOpsBroadcastAgainstNaive) {
  const std::pair<const char*, Fn> ops[] = {
      {"Add", [](float a, float b) { return a + b; }}, {"Sub", [](float a, float b) { return a - b; }},
      {"Mul", [](float a, float b) { return a * b; }}, {"Div", [](float a, float b) { return a / b; }}};
  uint32_t seed = 1;
  for (const auto& c : k_bcast_cases) {
    const auto va = ramp(shape_numel(c.a), -3, 3, seed++), vb = ramp(shape_numel(c.b), 0.5f, 4, seed++);
    for (const auto& [op, f] : ops) {
      auto out = run_node({op, {f32(c.a, va), f32(c.b, vb)}});
      ASSERT_EQ(out[0].shape(), c.out) << op;
      EXPECT_EQ(values<float>(out[0]), (naive_binary<float, float, float>(va, c.a, vb, c.b, c.out, f)))
          << op << " " << shape_str(c.a) << " " << shape_str(c.b);
      // Operands swapped exercise the other scalar/broadcast branches.
      auto swapped = run_node({op, {f32(c.b, vb), f32(c.a, va)}});
      EXPECT_EQ(values<float>(swapped[0]), (naive_binary<float, float, float>(vb, c.b, va, c.a, c.out, f))) << op;
    }
  }
}

TEST(EwArith, IntegerWrapAndTruncation) {
  auto add = run_node({"Add", {i32({3}, {std::numeric_limits<int32_t>::max(), -5, 7}), i32({}, {1})}});
  EXPECT_EQ(values<int32_t>(add[0]), (std::vector<int32_t>{std::numeric_limits<int32_t>::min(), -4, 8}));
  auto sub = run_node({"Sub", {u8({2}, {3, 200}), u8({2}, {5, 100})}});
  EXPECT_EQ(values<uint8_t>(sub[0]), (std::vector<uint8_t>{254, 100}));
  auto mul = run_node({"Mul", {i8({2}, {100, -3}), i8({2}, {2, 5})}});
  EXPECT_EQ(values<int8_t>(mul[0]), (std::vector<int8_t>{static_cast<int8_t>(200 - 256), -15}));
  // Integer Div truncates toward zero like C (not floor like numpy's //).
  auto div = run_node({"Div", {i64({6}, {-7, 7, -7, 7, 9, std::numeric_limits<int64_t>::min()}),
                               i64({6}, {2, 2, -2, -2, 3, -1})}});
  EXPECT_EQ(values<int64_t>(div[0]),
            (std::vector<int64_t>{-3, 3, 3, -3, 3, std::numeric_limits<int64_t>::min()}));
}

TEST(EwArith, IntBroadcast) {
  const Shape sa{2, 3}, sb{2, 1};
  std::vector<int64_t> a{1, 2, 3, 4, 5, 6}, b{10, -20};
  auto out = run_node({"Mul", {i64(sa, a), i64(sb, b)}});
  EXPECT_EQ(values<int64_t>(out[0]),
            (naive_binary<int64_t, int64_t, int64_t>(a, sa, b, sb, {2, 3}, [](int64_t x, int64_t y) { return x * y; })));
}

TEST(EwArith, Float16AndBFloat16ComputeInFloat) {
  const std::vector<float> a{0.5f, 1.25f, -2.f, 1000.f}, b{0.25f, 3.f, 0.5f, 24.f};
  auto h = run_node({"Add", {f16({4}, a), f16({4}, b)}});
  EXPECT_EQ(h[0].dtype(), DataType::Float16);
  for (size_t i = 0; i < a.size(); ++i)
    EXPECT_EQ(as_floats<Half>(h[0])[i], static_cast<float>(Half(a[i] + b[i])));
  auto bf = run_node({"Div", {bf16({4}, a), bf16({4}, b)}});
  for (size_t i = 0; i < a.size(); ++i)
    EXPECT_EQ(as_floats<BFloat16>(bf[0])[i],
              static_cast<float>(BFloat16(static_cast<float>(BFloat16(a[i])) / static_cast<float>(BFloat16(b[i])))));
}

TEST(EwArith, LegacyBroadcastAttribute) {
  // Opset 6: B of shape [3] aligned at axis 1 of A [2,3,2] means B[j] for A[i,j,k].
  NodeSpec s{"Add", {f32({2, 3, 2}, ramp(12, -1, 1)), f32({3}, {10, 20, 30})},
             {{"broadcast", attr_i(1)}, {"axis", attr_i(1)}}, 1, 6};
  auto out = run_node(s);
  const auto a = values<float>(s.inputs[0]);
  for (int64_t i = 0; i < 12; ++i) EXPECT_EQ(values<float>(out[0])[i], a[i] + 10.f * static_cast<float>(i / 2 % 3 + 1));
  NodeSpec no_bcast{"Add", {f32({2, 3}, ramp(6, 0, 1)), f32({3}, {1, 2, 3})}, {}, 1, 6};
  expect_error(no_bcast, ErrorCode::InvalidModel);
}

TEST(EwArith, Errors) {
  expect_error({"Add", {f32({2}, {1, 2}), i64({2}, {1, 2})}}, ErrorCode::InvalidModel, "same dtype");
  expect_error({"Mul", {f32({2, 3}, ramp(6, 0, 1)), f32({4}, ramp(4, 0, 1))}}, ErrorCode::InvalidModel, "broadcast");
  expect_error({"Sub", {boolean({1}, {true}), boolean({1}, {false})}}, ErrorCode::InvalidModel, "bool");
  expect_error({"Div", {i32({2}, {1, 2}), i32({2}, {1, 0})}}, ErrorCode::InvalidArgument, "division by zero");
  expect_error({"Add", {f32({1}, {1})}}, ErrorCode::InvalidModel, "inputs");
}

TEST(EwInfer, SymbolicBroadcast) {
  ir::Graph g;
  g.opsets[""] = 17;
  ir::Value a{"a", DataType::Float32, ir::SymShape{ir::Dim::sym("batch"), 3, 1}, std::nullopt};
  ir::Value b{"b", DataType::Float32, ir::SymShape{1, 4}, std::nullopt};
  ir::Node n;
  n.name = "n0";
  n.op_type = "Add";
  n.inputs = {g.add_value(a), g.add_value(b)};
  n.outputs = {g.add_value(ir::Value{"y", DataType::Undefined, std::nullopt, std::nullopt})};
  g.add_node(n);
  ir::infer_node(g, g.nodes[0]);
  const ir::Value& y = g.value(g.nodes[0].outputs[0]);
  EXPECT_EQ(y.dtype, DataType::Float32);
  ASSERT_TRUE(y.shape.has_value());
  EXPECT_EQ(ir::sym_str(*y.shape), "[batch,3,4]");
  // A comparison of the same shapes gives bool; an unknown rank stays unknown.
  g.nodes[0].op_type = "Less";
  g.value(g.nodes[0].inputs[1]).shape.reset();
  ir::infer_node(g, g.nodes[0]);
  EXPECT_EQ(g.value(g.nodes[0].outputs[0]).dtype, DataType::Bool);
  EXPECT_FALSE(g.value(g.nodes[0].outputs[0]).shape.has_value());
}

TEST(EwVariadic, SumBroadcastThreeInputs) {
  const Shape s0{2, 1, 3}, s1{4, 1}, s2{}, out{2, 4, 3};
  const auto a = ramp(6, -1, 1, 3), b = ramp(4, -1, 1, 4), c = std::vector<float>{0.5f};
  auto r = run_node({"Sum", {f32(s0, a), f32(s1, b), f32(s2, c)}});
  auto ab = naive_binary<float, float, float>(a, s0, b, s1, out, [](float x, float y) { return x + y; });
  EXPECT_EQ(values<float>(r[0]), (naive_binary<float, float, float>(ab, out, c, s2, out,
                                                                    [](float x, float y) { return x + y; })));
  auto one = run_node({"Sum", {f32({2}, {1, 2})}});
  EXPECT_EQ(values<float>(one[0]), (std::vector<float>{1, 2}));
  expect_error({"Sum", {f32({2}, {1, 2}), f64({2}, {1, 2})}}, ErrorCode::InvalidModel, "same dtype");
}

TEST(EwActivation, Relu) {
  auto f = run_node({"Relu", {f32({4}, {-1.5f, 0.f, 2.f, -0.f})}});
  EXPECT_EQ(values<float>(f[0]), (std::vector<float>{0, 0, 2, 0}));
  auto i = run_node({"Relu", {i8({3}, {-128, 5, 0})}});
  EXPECT_EQ(values<int8_t>(i[0]), (std::vector<int8_t>{0, 5, 0}));
  auto h = run_node({"Relu", {f16({2}, {-3.f, 3.5f})}});
  EXPECT_EQ(as_floats<Half>(h[0]), (std::vector<float>{0.f, 3.5f}));
  expect_error({"Relu", {u8({1}, {1})}}, ErrorCode::InvalidModel, "uint8");
}

TEST(EwActivation, Clip) {
  const std::vector<float> x{-3, -1, 0, 1, 3, std::nanf("")};
  auto r = run_node({"Clip", {f32({6}, x), f32({}, {-1.5f}), f32({}, {2.f})}});
  auto v = values<float>(r[0]);
  EXPECT_EQ(std::vector<float>(v.begin(), v.begin() + 5), (std::vector<float>{-1.5f, -1, 0, 1, 2}));
  EXPECT_TRUE(std::isnan(v[5]));
  // Only max given (min omitted), int8.
  auto m = run_node({"Clip", {i8({4}, {-100, 0, 50, 127}), Tensor(), i8({}, {10})}});
  EXPECT_EQ(values<int8_t>(m[0]), (std::vector<int8_t>{-100, 0, 10, 10}));
  // min > max: everything becomes max.
  auto swapped = run_node({"Clip", {f32({3}, {-5, 0, 5}), f32({}, {2}), f32({}, {1})}});
  EXPECT_EQ(values<float>(swapped[0]), (std::vector<float>{1, 1, 1}));
  // Opset 6 takes attributes.
  auto old = run_node({"Clip", {f32({3}, {-5, 0.5f, 5})}, {{"min", attr_f(0.f)}, {"max", attr_f(1.f)}}, 1, 6});
  EXPECT_EQ(values<float>(old[0]), (std::vector<float>{0, 0.5f, 1}));
  auto none = run_node({"Clip", {f32({2}, {-1e30f, 1e30f})}});
  EXPECT_EQ(values<float>(none[0]), (std::vector<float>{-1e30f, 1e30f}));
  expect_error({"Clip", {f32({2}, {1, 2}), f32({2}, {0, 1})}}, ErrorCode::InvalidModel, "scalar");
  expect_error({"Clip", {f32({2}, {1, 2}), f64({}, {0})}}, ErrorCode::InvalidModel, "same dtype");
}

TEST(EwActivation, SigmoidFamily) {
  const auto x = ramp(50, -12, 12, 7);
  auto sig = run_node({"Sigmoid", {f32({50}, x)}});
  auto hs = run_node({"HardSigmoid", {f32({50}, x)}, {{"alpha", attr_f(0.3f)}, {"beta", attr_f(0.4f)}}});
  auto hw = run_node({"HardSwish", {f32({50}, x)}});
  for (size_t i = 0; i < x.size(); ++i) {
    const double v = x[i];
    EXPECT_NEAR(values<float>(sig[0])[i], 1.0 / (1.0 + std::exp(-v)), 1e-6);
    EXPECT_NEAR(values<float>(hs[0])[i], std::clamp(0.3 * v + 0.4, 0.0, 1.0), 1e-6);
    EXPECT_NEAR(values<float>(hw[0])[i], v * std::clamp(v / 6 + 0.5, 0.0, 1.0), 1e-5);
  }
  auto extreme = run_node({"Sigmoid", {f32({2}, {-1000.f, 1000.f})}});
  EXPECT_EQ(values<float>(extreme[0]), (std::vector<float>{0.f, 1.f}));
  auto h = run_node({"Sigmoid", {f16({1}, {0.f})}});
  EXPECT_EQ(as_floats<Half>(h[0])[0], 0.5f);
}

TEST(EwCast, IdentityAndDropout) {
  auto id = run_node({"Identity", {i64({2, 2}, {1, -2, 3, -4})}});
  EXPECT_EQ(values<int64_t>(id[0]), (std::vector<int64_t>{1, -2, 3, -4}));
  auto d = run_node({"Dropout", {f32({3}, {1, 2, 3}), f32({}, {0.5f})}, {}, 2});
  EXPECT_EQ(values<float>(d[0]), (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(bools(d[1]), (std::vector<bool>{true, true, true}));
  // Before opset 10 the mask has the input's dtype.
  auto old = run_node({"Dropout", {f32({2}, {4, 5})}, {{"ratio", attr_f(0.3f)}}, 2, 7});
  EXPECT_EQ(values<float>(old[1]), (std::vector<float>{1, 1}));
  // training_mode=true is refused unless the ratio is 0 (then it is the identity too).
  expect_error({"Dropout", {f32({2}, {1, 2}), f32({}, {0.5f}), boolean({}, {true})}}, ErrorCode::Unsupported,
               "training");
  expect_error({"Dropout", {f32({2}, {1, 2}), Tensor(), boolean({}, {true})}}, ErrorCode::Unsupported, "training");
  auto zero = run_node({"Dropout", {f32({2}, {1, 2}), f32({}, {0.f}), boolean({}, {true})}, {}, 2});
  EXPECT_EQ(values<float>(zero[0]), (std::vector<float>{1, 2}));
  auto off = run_node({"Dropout", {f32({2}, {1, 2}), f32({}, {0.9f}), boolean({}, {false})}});
  EXPECT_EQ(values<float>(off[0]), (std::vector<float>{1, 2}));
}

ir::Attribute to(DataType dt) { return attr_i(static_cast<int64_t>(dt)); }

TEST(EwCast, Conversions) {
  auto fi = run_node({"Cast", {f32({5}, {-1.7f, 1.7f, 2.5f, -0.f, 100.9f})}, {{"to", to(DataType::Int32)}}});
  EXPECT_EQ(fi[0].dtype(), DataType::Int32);
  EXPECT_EQ(values<int32_t>(fi[0]), (std::vector<int32_t>{-1, 1, 2, 0, 100}));
  auto fb = run_node({"Cast", {f32({4}, {0.f, -0.f, 0.1f, std::nanf("")})}, {{"to", to(DataType::Bool)}}});
  EXPECT_EQ(bools(fb[0]), (std::vector<bool>{false, false, true, true}));
  auto bf = run_node({"Cast", {boolean({2}, {true, false})}, {{"to", to(DataType::Float64)}}});
  EXPECT_EQ(values<double>(bf[0]), (std::vector<double>{1.0, 0.0}));
  auto ih = run_node({"Cast", {i64({3}, {1, -2049, 70000})}, {{"to", to(DataType::Float16)}}});
  EXPECT_EQ(as_floats<Half>(ih[0]),
            (std::vector<float>{1.f, -2048.f, std::numeric_limits<float>::infinity()}));  // 2049 rounds to even
  auto hf = run_node({"Cast", {f16({2}, {0.1f, -65504.f})}, {{"to", to(DataType::Float32)}}});
  EXPECT_EQ(values<float>(hf[0]), (std::vector<float>{static_cast<float>(Half(0.1f)), -65504.f}));
  auto fbf = run_node({"Cast", {f32({2}, {1.00390625f, 1.01171875f})}, {{"to", to(DataType::BFloat16)}}});
  EXPECT_EQ(as_floats<BFloat16>(fbf[0]), (std::vector<float>{1.f, 1.015625f}));  // ties to even
  auto wrap = run_node({"Cast", {i32({3}, {300, -1, 255})}, {{"to", to(DataType::UInt8)}}});
  EXPECT_EQ(values<uint8_t>(wrap[0]), (std::vector<uint8_t>{44, 255, 255}));
  auto same = run_node({"Cast", {i32({1}, {7})}, {{"to", to(DataType::Int32)}}});
  EXPECT_EQ(values<int32_t>(same[0]), (std::vector<int32_t>{7}));
  // Opset 1-5 spell the target type.
  auto old = run_node({"Cast", {i32({2}, {3, -4})}, {{"to", attr_s("DOUBLE")}}, 1, 5});
  EXPECT_EQ(values<double>(old[0]), (std::vector<double>{3.0, -4.0}));
  expect_error({"Cast", {f32({1}, {1})}, {{"to", to(DataType::String)}}}, ErrorCode::Unsupported, "string");
  expect_error({"Cast", {f32({1}, {1})}, {{"to", attr_i(17)}}}, ErrorCode::Unsupported);  // float8
  expect_error({"Cast", {f32({1}, {1})}}, ErrorCode::InvalidModel, "'to'");
}

TEST(EwCast, CastLike) {
  auto r = run_node({"CastLike", {f32({3}, {1.9f, -2.9f, 3.f}), i64({}, {0})}});
  EXPECT_EQ(r[0].dtype(), DataType::Int64);
  EXPECT_EQ(values<int64_t>(r[0]), (std::vector<int64_t>{1, -2, 3}));
  auto h = run_node({"CastLike", {f64({1}, {0.5}), f16({1}, {0.f})}});
  EXPECT_EQ(as_floats<Half>(h[0]), (std::vector<float>{0.5f}));
}

}  // namespace
}  // namespace kiln::test
