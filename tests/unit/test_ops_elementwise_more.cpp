// Elementwise ops, second group: unary math/activations (table-driven against
// double-precision references, in float32, float64 and float16), Pow, Min/Max/
// Mean, Where, comparisons, logic, Mod, bitwise ops, PRelu, IsNaN/IsInf.
#include <cmath>
#include <limits>

#include "ew_test_util.h"

namespace kiln::test {
namespace {

struct UnaryCase {
  const char* op;
  std::map<std::string, ir::Attribute> attrs;
  float lo, hi;  // input range
  std::function<double(double)> ref;
};

// Attributes are float32, so references use the float value of constants like 0.01.
double softplus(double x) { return std::log1p(std::exp(x)); }

std::vector<UnaryCase> unary_cases() {
  const double selu_a = 1.67326319217681884765625, selu_g = 1.05070102214813232421875;
  return {
      {"LeakyRelu", {}, -4, 4, [](double x) { return x < 0 ? double(0.01f) * x : x; }},
      {"LeakyRelu", {{"alpha", attr_f(0.2f)}}, -4, 4, [](double x) { return x < 0 ? double(0.2f) * x : x; }},
      {"Elu", {{"alpha", attr_f(2.f)}}, -4, 4, [](double x) { return x < 0 ? 2.0 * (std::exp(x) - 1) : x; }},
      {"Selu", {}, -4, 4, [=](double x) { return x > 0 ? selu_g * x : selu_g * (selu_a * std::exp(x) - selu_a); }},
      {"Celu", {{"alpha", attr_f(0.5f)}}, -4, 4,
       [](double x) { return std::max(0.0, x) + std::min(0.0, 0.5 * (std::exp(x / 0.5) - 1)); }},
      {"Tanh", {}, -5, 5, [](double x) { return std::tanh(x); }},
      {"Gelu", {}, -5, 5, [](double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }},
      {"Gelu", {{"approximate", attr_s("tanh")}}, -5, 5,
       [](double x) { return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x))); }},
      {"Erf", {}, -3, 3, [](double x) { return std::erf(x); }},
      {"Exp", {}, -5, 5, [](double x) { return std::exp(x); }},
      {"Log", {}, 0.01f, 50, [](double x) { return std::log(x); }},
      {"Sqrt", {}, 0, 50, [](double x) { return std::sqrt(x); }},
      {"Reciprocal", {}, 0.5f, 8, [](double x) { return 1 / x; }},
      {"Neg", {}, -4, 4, [](double x) { return -x; }},
      {"Abs", {}, -4, 4, [](double x) { return std::fabs(x); }},
      {"Floor", {}, -4, 4, [](double x) { return std::floor(x); }},
      {"Ceil", {}, -4, 4, [](double x) { return std::ceil(x); }},
      {"Sign", {}, -4, 4, [](double x) { return x > 0 ? 1.0 : (x < 0 ? -1.0 : 0.0); }},
      {"Softplus", {}, -10, 10, softplus},
      {"Softsign", {}, -10, 10, [](double x) { return x / (1 + std::fabs(x)); }},
      {"ThresholdedRelu", {{"alpha", attr_f(0.5f)}}, -2, 2, [](double x) { return x > 0.5 ? x : 0.0; }},
      {"Mish", {}, -6, 6, [](double x) { return x * std::tanh(softplus(x)); }},
      {"Sin", {}, -4, 4, [](double x) { return std::sin(x); }},
      {"Cos", {}, -4, 4, [](double x) { return std::cos(x); }},
      {"Tan", {}, -1.3f, 1.3f, [](double x) { return std::tan(x); }},
      {"Asin", {}, -0.99f, 0.99f, [](double x) { return std::asin(x); }},
      {"Acos", {}, -0.99f, 0.99f, [](double x) { return std::acos(x); }},
      {"Atan", {}, -9, 9, [](double x) { return std::atan(x); }},
      {"Sinh", {}, -4, 4, [](double x) { return std::sinh(x); }},
      {"Cosh", {}, -4, 4, [](double x) { return std::cosh(x); }},
      {"Asinh", {}, -9, 9, [](double x) { return std::asinh(x); }},
      {"Acosh", {}, 1, 9, [](double x) { return std::acosh(x); }},
      {"Atanh", {}, -0.95f, 0.95f, [](double x) { return std::atanh(x); }},
      {"Sigmoid", {}, -9, 9, [](double x) { return 1 / (1 + std::exp(-x)); }},
      {"Shrink", {{"lambd", attr_f(1.f)}, {"bias", attr_f(0.25f)}}, -3, 3,
       [](double x) { return x < -1 ? x + 0.25 : (x > 1 ? x - 0.25 : 0.0); }},
  };
}

TEST(EwUnary, Float32AgainstDoubleReference) {
  uint32_t seed = 11;
  for (const auto& c : unary_cases()) {
    const auto x = ramp(40, c.lo, c.hi, seed++);
    auto out = run_node({c.op, {f32({5, 8}, x)}, c.attrs});
    ASSERT_EQ(out[0].dtype(), DataType::Float32);
    for (size_t i = 0; i < x.size(); ++i) {
      const double want = c.ref(x[i]);
      EXPECT_NEAR(values<float>(out[0])[i], want, 2e-6 * std::max(1.0, std::fabs(want))) << c.op << " x=" << x[i];
    }
  }
}

TEST(EwUnary, Float64AgainstDoubleReference) {
  uint32_t seed = 21;
  for (const auto& c : unary_cases()) {
    const auto xf = ramp(16, c.lo, c.hi, seed++);
    const std::vector<double> x(xf.begin(), xf.end());
    auto out = run_node({c.op, {f64({16}, x)}, c.attrs});
    for (size_t i = 0; i < x.size(); ++i) {
      const double want = c.ref(x[i]);
      EXPECT_NEAR(values<double>(out[0])[i], want, 1e-12 * std::max(1.0, std::fabs(want))) << c.op;
    }
  }
}

TEST(EwUnary, Float16RoundsOnce) {
  uint32_t seed = 31;
  for (const auto& c : unary_cases()) {
    const auto x = ramp(16, c.lo, c.hi, seed++);
    auto out = run_node({c.op, {f16({16}, x)}, c.attrs});
    ASSERT_EQ(out[0].dtype(), DataType::Float16);
    for (size_t i = 0; i < x.size(); ++i) {
      const double xin = static_cast<float>(Half(x[i]));  // the value the kernel saw
      const double want = c.ref(xin);
      EXPECT_NEAR(as_floats<Half>(out[0])[i], want, 1e-3 * std::max(1.0, std::fabs(want))) << c.op;
    }
  }
}

TEST(EwUnary, RoundHalfToEvenAndIntegerForms) {
  auto r = run_node({"Round", {f32({7}, {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 2.4f, -2.6f})}});
  EXPECT_EQ(values<float>(r[0]), (std::vector<float>{0, 2, 2, -0.f, -2, 2, -3}));
  auto neg = run_node({"Neg", {i32({3}, {5, -7, std::numeric_limits<int32_t>::min()})}});
  EXPECT_EQ(values<int32_t>(neg[0]), (std::vector<int32_t>{-5, 7, std::numeric_limits<int32_t>::min()}));
  auto abs = run_node({"Abs", {i8({3}, {-5, 7, -128})}});
  EXPECT_EQ(values<int8_t>(abs[0]), (std::vector<int8_t>{5, 7, -128}));
  auto absu = run_node({"Abs", {u8({2}, {0, 200})}});
  EXPECT_EQ(values<uint8_t>(absu[0]), (std::vector<uint8_t>{0, 200}));
  auto sign = run_node({"Sign", {i64({3}, {-9, 0, 4})}});
  EXPECT_EQ(values<int64_t>(sign[0]), (std::vector<int64_t>{-1, 0, 1}));
  auto signf = run_node({"Sign", {f32({1}, {std::nanf("")})}});
  EXPECT_TRUE(std::isnan(values<float>(signf[0])[0]));
  auto shrink = run_node({"Shrink", {i32({3}, {-5, 0, 5})}, {{"lambd", attr_f(1.f)}, {"bias", attr_f(2.f)}}});
  EXPECT_EQ(values<int32_t>(shrink[0]), (std::vector<int32_t>{-3, 0, 3}));
  expect_error({"Exp", {i32({1}, {1})}}, ErrorCode::InvalidModel, "int32");
  expect_error({"Gelu", {f32({1}, {1})}, {{"approximate", attr_s("fast")}}}, ErrorCode::InvalidModel, "approximate");
}

TEST(EwUnary, IsNaNIsInf) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::nanf("");
  const std::vector<float> x{1.f, inf, -inf, nan, 0.f};
  auto isnan = run_node({"IsNaN", {f32({5}, x)}});
  EXPECT_EQ(bools(isnan[0]), (std::vector<bool>{false, false, false, true, false}));
  auto isinf = run_node({"IsInf", {f32({5}, x)}});
  EXPECT_EQ(bools(isinf[0]), (std::vector<bool>{false, true, true, false, false}));
  auto pos = run_node({"IsInf", {f16({5}, x)}, {{"detect_negative", attr_i(0)}}});
  EXPECT_EQ(bools(pos[0]), (std::vector<bool>{false, true, false, false, false}));
  auto neg = run_node({"IsInf", {f64({3}, {1.0, HUGE_VAL, -HUGE_VAL})}, {{"detect_positive", attr_i(0)}}});
  EXPECT_EQ(bools(neg[0]), (std::vector<bool>{false, false, true}));
}

TEST(EwBinary, PowMixedTypes) {
  const Shape s{2, 3};
  const std::vector<float> base{1.5f, 2.f, -3.f, 0.5f, 4.f, 9.f};
  const std::vector<float> e{2.f, -1.f, 3.f, 0.5f, 0.f, 0.5f};
  auto ff = run_node({"Pow", {f32(s, base), f32(s, e)}});
  for (size_t i = 0; i < base.size(); ++i) EXPECT_FLOAT_EQ(values<float>(ff[0])[i], std::pow(base[i], e[i]));
  auto fi = run_node({"Pow", {f32(s, base), i64({3}, {2, -1, 3})}});  // broadcast exponent
  for (size_t i = 0; i < base.size(); ++i)
    EXPECT_FLOAT_EQ(values<float>(fi[0])[i], static_cast<float>(std::pow(double(base[i]), double(i % 3 == 0 ? 2 : i % 3 == 1 ? -1 : 3))));
  auto ifl = run_node({"Pow", {i32({3}, {1, 2, 3}), f32({3}, {4, 5, 6})}});
  EXPECT_EQ(ifl[0].dtype(), DataType::Int32);
  EXPECT_EQ(values<int32_t>(ifl[0]), (std::vector<int32_t>{1, 32, 729}));
  auto ii = run_node({"Pow", {i64({5}, {2, -3, 7, 1, -1}), i64({5}, {10, 3, 0, -4, -3})}});
  EXPECT_EQ(values<int64_t>(ii[0]), (std::vector<int64_t>{1024, -27, 1, 1, -1}));
  auto iu = run_node({"Pow", {i32({2}, {3, 2}), make<uint8_t>(DataType::UInt8, {}, {4})}});
  EXPECT_EQ(values<int32_t>(iu[0]), (std::vector<int32_t>{81, 16}));
  auto h = run_node({"Pow", {f16({2}, {2.f, 3.f}), f16({}, {2.f})}});
  EXPECT_EQ(as_floats<Half>(h[0]), (std::vector<float>{4.f, 9.f}));
}

TEST(EwVariadic, MinMaxMean) {
  const Shape s0{2, 3}, s1{3}, s2{2, 1}, out{2, 3};
  const auto a = ramp(6, -5, 5, 41), b = ramp(3, -5, 5, 42), c = ramp(2, -5, 5, 43);
  auto fold = [&](std::function<float(float, float)> f) {
    auto ab = naive_binary<float, float, float>(a, s0, b, s1, out, f);
    return naive_binary<float, float, float>(ab, out, c, s2, out, f);
  };
  auto mn = run_node({"Min", {f32(s0, a), f32(s1, b), f32(s2, c)}});
  EXPECT_EQ(values<float>(mn[0]), fold([](float x, float y) { return std::min(x, y); }));
  auto mx = run_node({"Max", {f32(s0, a), f32(s1, b), f32(s2, c)}});
  EXPECT_EQ(values<float>(mx[0]), fold([](float x, float y) { return std::max(x, y); }));
  auto mean = run_node({"Mean", {f32(s0, a), f32(s1, b), f32(s2, c)}});
  const auto sum = fold([](float x, float y) { return x + y; });
  for (size_t i = 0; i < sum.size(); ++i) EXPECT_NEAR(values<float>(mean[0])[i], sum[i] / 3, 1e-6);
  auto imax = run_node({"Max", {make<uint16_t>(DataType::UInt16, {3}, {1, 60000, 7}),
                                make<uint16_t>(DataType::UInt16, {3}, {2, 5, 7})}});
  EXPECT_EQ(values<uint16_t>(imax[0]), (std::vector<uint16_t>{2, 60000, 7}));
  auto nan = run_node({"Min", {f32({2}, {std::nanf(""), 1.f}), f32({2}, {0.f, std::nanf("")})}});
  EXPECT_TRUE(std::isnan(values<float>(nan[0])[0]) && std::isnan(values<float>(nan[0])[1]));
  auto hmean = run_node({"Mean", {f16({2}, {1.f, 2.f}), f16({2}, {2.f, 5.f})}});
  EXPECT_EQ(as_floats<Half>(hmean[0]), (std::vector<float>{1.5f, 3.5f}));
  expect_error({"Mean", {i32({1}, {1}), i32({1}, {2})}}, ErrorCode::InvalidModel, "int32");
  expect_error({"Max", {f32({2}, {1, 2}), f32({3}, {1, 2, 3})}}, ErrorCode::InvalidModel, "broadcast");
}

TEST(EwTernary, WhereBroadcast) {
  const Shape sc{2, 1}, sx{3}, sy{}, out{2, 3};
  auto r = run_node({"Where", {boolean(sc, {true, false}), i64(sx, {1, 2, 3}), i64(sy, {-9})}});
  EXPECT_EQ(r[0].shape(), out);
  EXPECT_EQ(values<int64_t>(r[0]), (std::vector<int64_t>{1, 2, 3, -9, -9, -9}));
  const Shape s3{2, 1, 4}, s4{3, 1};
  const auto x = ramp(8, -1, 1, 5), y = ramp(3, -1, 1, 6);
  std::vector<bool> cond{true, false, false, true};
  Tensor ct = boolean({4}, cond);
  auto w = run_node({"Where", {ct, f32(s3, x), f32(s4, y)}});
  const Shape o{2, 3, 4};
  ASSERT_EQ(w[0].shape(), o);
  for (int64_t i = 0; i < 24; ++i)
    EXPECT_EQ(values<float>(w[0])[i], cond[bcast_index(o, {4}, i)] ? x[bcast_index(o, s3, i)] : y[bcast_index(o, s4, i)]);
  expect_error({"Where", {i32({1}, {1}), f32({1}, {1}), f32({1}, {2})}}, ErrorCode::InvalidModel, "int32");
  expect_error({"Where", {boolean({1}, {true}), f32({1}, {1}), f64({1}, {2})}}, ErrorCode::InvalidModel, "same dtype");
}

TEST(EwCompare, AllComparisonsBroadcast) {
  const Shape sa{2, 3}, sb{3};
  const std::vector<int32_t> a{1, 5, 3, -2, 0, 7}, b{1, 4, 7};
  const std::pair<const char*, std::function<bool(int32_t, int32_t)>> ops[] = {
      {"Equal", [](int32_t x, int32_t y) { return x == y; }},  {"Less", [](int32_t x, int32_t y) { return x < y; }},
      {"Greater", [](int32_t x, int32_t y) { return x > y; }}, {"LessOrEqual", [](int32_t x, int32_t y) { return x <= y; }},
      {"GreaterOrEqual", [](int32_t x, int32_t y) { return x >= y; }}};
  for (const auto& [op, f] : ops) {
    auto r = run_node({op, {i32(sa, a), i32(sb, b)}});
    EXPECT_EQ(r[0].dtype(), DataType::Bool);
    EXPECT_EQ(bools(r[0]), (naive_binary<int32_t, int32_t, bool>(a, sa, b, sb, sa, f))) << op;
  }
  auto h = run_node({"Less", {f16({3}, {1.f, 2.f, std::nanf("")}), f16({3}, {1.5f, 2.f, 0.f})}});
  EXPECT_EQ(bools(h[0]), (std::vector<bool>{true, false, false}));
  auto eqb = run_node({"Equal", {boolean({2}, {true, false}), boolean({}, {false})}});
  EXPECT_EQ(bools(eqb[0]), (std::vector<bool>{false, true}));
  expect_error({"Greater", {i32({1}, {1}), i64({1}, {1})}}, ErrorCode::InvalidModel, "same dtype");
}

TEST(EwLogic, AndOrXorNot) {
  const Shape sa{2, 2}, sb{2};
  std::vector<bool> a{true, true, false, false}, b{true, false};
  for (const auto& [op, f] : std::vector<std::pair<const char*, std::function<bool(bool, bool)>>>{
           {"And", [](bool x, bool y) { return x && y; }},
           {"Or", [](bool x, bool y) { return x || y; }},
           {"Xor", [](bool x, bool y) { return x != y; }}}) {
    auto r = run_node({op, {boolean(sa, a), boolean(sb, b)}});
    EXPECT_EQ(bools(r[0]), (naive_binary<bool, bool, bool>(a, sa, b, sb, sa, f))) << op;
  }
  auto n = run_node({"Not", {boolean({3}, {true, false, true})}});
  EXPECT_EQ(bools(n[0]), (std::vector<bool>{false, true, false}));
  expect_error({"And", {i32({1}, {1}), i32({1}, {1})}}, ErrorCode::InvalidModel, "int32");
}

TEST(EwBinary, ModSignRules) {
  // fmod=0: the result takes the divisor's sign (Python %).
  auto m = run_node({"Mod", {i8({6}, {-4, 7, 5, 4, -7, 8}), i8({6}, {2, -3, 8, -2, 3, 5})}});
  EXPECT_EQ(values<int8_t>(m[0]), (std::vector<int8_t>{0, -2, 5, 0, 2, 3}));
  // fmod=1: C's remainder, the dividend's sign.
  auto c = run_node({"Mod", {i64({4}, {-7, 7, -7, std::numeric_limits<int64_t>::min()}), i64({4}, {3, -3, -3, -1})},
                     {{"fmod", attr_i(1)}}});
  EXPECT_EQ(values<int64_t>(c[0]), (std::vector<int64_t>{-1, 1, -1, 0}));
  auto f = run_node({"Mod", {f32({3}, {-4.3f, 7.2f, 5.f}), f32({1}, {2.1f})}, {{"fmod", attr_i(1)}}});
  for (int i = 0; i < 3; ++i)
    EXPECT_FLOAT_EQ(values<float>(f[0])[i], std::fmod(std::vector<float>{-4.3f, 7.2f, 5.f}[i], 2.1f));
  auto u = run_node({"Mod", {u8({2}, {250, 7}), u8({}, {7})}});
  EXPECT_EQ(values<uint8_t>(u[0]), (std::vector<uint8_t>{5, 0}));
  expect_error({"Mod", {f32({1}, {1}), f32({1}, {2})}}, ErrorCode::InvalidModel, "fmod");
  expect_error({"Mod", {i32({1}, {1}), i32({1}, {0})}}, ErrorCode::InvalidArgument, "division by zero");
}

TEST(EwBitwise, AndOrXorNotShift) {
  const Shape sa{2, 2}, sb{2};
  const std::vector<int32_t> a{0x0f0f, -1, 12345, 0}, b{0x00ff, 0x1234};
  for (const auto& [op, f] : std::vector<std::pair<const char*, std::function<int32_t(int32_t, int32_t)>>>{
           {"BitwiseAnd", [](int32_t x, int32_t y) { return x & y; }},
           {"BitwiseOr", [](int32_t x, int32_t y) { return x | y; }},
           {"BitwiseXor", [](int32_t x, int32_t y) { return x ^ y; }}}) {
    auto r = run_node({op, {i32(sa, a), i32(sb, b)}});
    EXPECT_EQ(values<int32_t>(r[0]), (naive_binary<int32_t, int32_t, int32_t>(a, sa, b, sb, sa, f))) << op;
  }
  auto n = run_node({"BitwiseNot", {u8({3}, {0, 0x0f, 0xff})}});
  EXPECT_EQ(values<uint8_t>(n[0]), (std::vector<uint8_t>{0xff, 0xf0, 0}));
  auto l = run_node({"BitShift", {u8({4}, {1, 3, 255, 1}), u8({4}, {2, 7, 1, 8})}, {{"direction", attr_s("LEFT")}}});
  EXPECT_EQ(values<uint8_t>(l[0]), (std::vector<uint8_t>{4, 128, 254, 0}));
  auto rr = run_node({"BitShift", {make<uint64_t>(DataType::UInt64, {3}, {1ull << 63, 1000, 5}),
                                   make<uint64_t>(DataType::UInt64, {}, {3})},
                      {{"direction", attr_s("RIGHT")}}});
  EXPECT_EQ(values<uint64_t>(rr[0]), (std::vector<uint64_t>{1ull << 60, 125, 0}));
  expect_error({"BitShift", {i32({1}, {1}), i32({1}, {1})}, {{"direction", attr_s("LEFT")}}}, ErrorCode::InvalidModel,
               "int32");
  expect_error({"BitShift", {u8({1}, {1}), u8({1}, {1})}, {{"direction", attr_s("UP")}}}, ErrorCode::InvalidModel,
               "direction");
  expect_error({"BitwiseAnd", {f32({1}, {1}), f32({1}, {1})}}, ErrorCode::InvalidModel, "float32");
}

TEST(EwBinary, PReluBroadcastSlope) {
  const Shape sx{2, 3, 2}, ss{3, 1};
  const auto x = ramp(12, -2, 2, 9);
  const std::vector<float> slope{0.1f, 0.2f, 0.3f};
  auto r = run_node({"PRelu", {f32(sx, x), f32(ss, slope)}});
  EXPECT_EQ(values<float>(r[0]),
            (naive_binary<float, float, float>(x, sx, slope, ss, sx, [](float v, float s) { return v < 0 ? s * v : v; })));
  auto i = run_node({"PRelu", {i64({3}, {-4, 0, 4}), i64({}, {3})}});
  EXPECT_EQ(values<int64_t>(i[0]), (std::vector<int64_t>{-12, 0, 4}));
  // The slope may not grow X's shape (unidirectional broadcast).
  expect_error({"PRelu", {f32({3}, {1, 2, 3}), f32({2, 3}, ramp(6, 0, 1))}}, ErrorCode::InvalidModel, "slope");
}

}  // namespace
}  // namespace kiln::test
