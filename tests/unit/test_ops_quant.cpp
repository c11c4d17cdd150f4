// QuantizeLinear/DequantizeLinear per tensor (hand-computed, including the
// round-half-to-even and saturation cases), per axis and blocked (against
// loops here that look the scale up by coordinate), the opset differences of
// the output type, DynamicQuantizeLinear and MeanVarianceNormalization against
// their defining formulas, and errors.
#include <algorithm>
#include <cmath>

#include "reduce_test_util.h"

namespace kiln::test {
namespace {

using rq::expect_close;
using rq::expect_ints;

Tensor i8(Shape s, std::vector<int8_t> v) { return rq::typed<int8_t>(DataType::Int8, std::move(s), v); }
Tensor u8(Shape s, std::vector<uint8_t> v) { return rq::typed<uint8_t>(DataType::UInt8, std::move(s), v); }

TEST(Quant, QuantizePerTensorRoundsHalfToEvenAndSaturates) {
  const Tensor x = f32({8}, {-3, -1, 1, 3, 5, 300, -300, 0.999f});
  // x / 2 = -1.5 -0.5 0.5 1.5 2.5 150 -150 0.4995 -> -2 0 0 2 2 150 -150 0, then + 10 and clamp to uint8.
  expect_ints(run_node({"QuantizeLinear", {x, f32({}, {2}), u8({}, {10})}, {}, 1, 13})[0], {8},
              {8, 10, 10, 12, 12, 160, 0, 10});
  // int8 zero point -> int8 output, saturating at both ends.
  const Tensor q = run_node({"QuantizeLinear", {x, f32({}, {2}), i8({}, {-1})}, {}, 1, 10})[0];
  EXPECT_EQ(q.dtype(), DataType::Int8);
  expect_ints(q, {8}, {-3, -1, -1, 1, 1, 127, -128, -1});
  // No zero point and no output_dtype: uint8 with zero point 0.
  const Tensor d = run_node({"QuantizeLinear", {x, f32({}, {2})}, {}, 1, 13})[0];
  EXPECT_EQ(d.dtype(), DataType::UInt8);
  expect_ints(d, {8}, {0, 0, 0, 2, 2, 150, 0, 0});
  // output_dtype picks the type when the zero point is omitted (opset 21).
  const Tensor s16 = run_node({"QuantizeLinear", {f32({3}, {70000, -70000, 7}), f32({}, {1})},
                               {{"output_dtype", attr_i(static_cast<int64_t>(DataType::Int16))}}, 1, 21})[0];
  EXPECT_EQ(s16.dtype(), DataType::Int16);
  expect_ints(s16, {3}, {32767, -32768, 7});
  const Tensor u16 = run_node({"QuantizeLinear", {f32({2}, {70000, 3}), f32({}, {1}),
                                                  rq::typed<uint16_t>(DataType::UInt16, {}, {100})}, {}, 1, 21})[0];
  expect_ints(u16, {2}, {65535, 103});
}

// Index of x's element e's scale for axis `axis` of x's shape, blocked when block > 0.
int64_t scale_index(const Shape& s, int64_t e, size_t axis, int64_t block) {
  std::vector<int64_t> c(s.size());
  for (size_t d = s.size(); d-- > 0;) {
    c[d] = e % s[d];
    e /= s[d];
  }
  if (block == 0) return c[axis];
  int64_t idx = 0;
  for (size_t d = 0; d < s.size(); ++d) {
    const int64_t n = d == axis ? (s[d] + block - 1) / block : s[d];
    idx = idx * n + (d == axis ? c[d] / block : c[d]);
  }
  return idx;
}

struct Granularity {
  Shape x, scale;
  int64_t axis, block;
};

TEST(Quant, PerAxisAndBlockedMatchReference) {
  const Granularity cases[] = {{{2, 3, 4}, {3}, 1, 0}, {{2, 3, 4}, {4}, -1, 0}, {{2, 5}, {2, 3}, 1, 2},
                               {{4, 3, 2}, {2, 3, 2}, 0, 3}, {{3, 4}, {3, 2}, -1, 2}};
  for (const auto& g : cases) {
    const int64_t n = shape_numel(g.x), ns = shape_numel(g.scale);
    const std::vector<float> xv = rq::rnd(n, 5, -20.f, 20.f), sv = rq::rnd(ns, 6, 0.05f, 0.5f);
    std::vector<int8_t> zv;
    for (float v : rq::rnd(ns, 7, -10.f, 10.f)) zv.push_back(static_cast<int8_t>(v));
    const auto axis = static_cast<size_t>(g.axis < 0 ? g.axis + static_cast<int64_t>(g.x.size()) : g.axis);
    std::vector<int64_t> want_q;
    std::vector<double> want_dq;
    for (int64_t e = 0; e < n; ++e) {
      const auto p = static_cast<size_t>(scale_index(g.x, e, axis, g.block));
      const double q = std::nearbyint(static_cast<double>(xv[static_cast<size_t>(e)] / sv[p])) + zv[p];
      want_q.push_back(static_cast<int64_t>(std::fmin(std::fmax(q, -128.0), 127.0)));
      want_dq.push_back(static_cast<double>(want_q.back() - zv[p]) * sv[p]);
    }
    std::map<std::string, ir::Attribute> attrs{{"axis", attr_i(g.axis)}};
    if (g.block) attrs["block_size"] = attr_i(g.block);
    const std::string what = "x " + shape_str(g.x) + " scale " + shape_str(g.scale);
    const Tensor scale = f32(g.scale, sv), zp = i8(g.scale, zv);
    const Tensor q = run_node({"QuantizeLinear", {f32(g.x, xv), scale, zp}, attrs, 1, 21})[0];
    expect_ints(q, g.x, want_q, what);
    expect_close(run_node({"DequantizeLinear", {q, scale, zp}, attrs, 1, 21})[0], g.x, want_dq, 1e-6, what);
  }
}

TEST(Quant, DequantizeTypesAndOpsetForms) {
  const Tensor x = i8({4}, {-128, -1, 0, 127});
  expect_close(run_node({"DequantizeLinear", {x, f32({}, {0.5f}), i8({}, {-1})}, {}, 1, 10})[0], {4},
               {-63.5, 0, 0.5, 64}, 0);
  // int32 input without a zero point.
  const Tensor x32 = rq::typed<int32_t>(DataType::Int32, {2}, {1 << 20, -3});
  expect_close(run_node({"DequantizeLinear", {x32, f32({}, {0.25f})}, {}, 1, 13})[0], {2}, {262144, -0.75}, 0);
  // uint16 with a zero point.
  const Tensor xu = rq::typed<uint16_t>(DataType::UInt16, {2}, {65535, 0});
  expect_close(run_node({"DequantizeLinear", {xu, f32({}, {2}), rq::typed<uint16_t>(DataType::UInt16, {}, {32767})},
                         {}, 1, 21})[0], {2}, {65536, -65534}, 0);
  // From opset 19 the output takes the scale's type; output_dtype (opset 23) overrides it.
  Tensor h = Tensor::empty(DataType::Float16, {});
  h.data<Half>()[0] = Half(0.5f);
  const Tensor y19 = run_node({"DequantizeLinear", {x, h}, {}, 1, 19})[0];
  EXPECT_EQ(y19.dtype(), DataType::Float16);
  expect_close(y19, {4}, {-64, -0.5, 0, 63.5}, 0);
  const Tensor y23 = run_node({"DequantizeLinear", {x, h}, {{"output_dtype", attr_i(1)}}, 1, 23})[0];
  EXPECT_EQ(y23.dtype(), DataType::Float32);
  // Round trip: dequantize(quantize(x)) is within half a step of x where nothing saturates.
  const std::vector<float> xv = rq::rnd(50, 9, -3.f, 3.f);
  const Tensor q = run_node({"QuantizeLinear", {f32({50}, xv), f32({}, {0.05f}), u8({}, {128})}, {}, 1, 13})[0];
  const Tensor back = run_node({"DequantizeLinear", {q, f32({}, {0.05f}), u8({}, {128})}, {}, 1, 13})[0];
  for (int i = 0; i < 50; ++i) EXPECT_NEAR(back.data<float>()[i], xv[static_cast<size_t>(i)], 0.0251) << i;
}

TEST(Quant, Errors) {
  const Tensor x = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  expect_error([&] { run_node({"QuantizeLinear", {x, f32({3}, {1, 1, 1}), u8({3}, {0, 0, 0})}, {}, 1, 10}); },
               ErrorCode::InvalidModel, "scalar before opset 13");
  expect_error([&] { run_node({"QuantizeLinear", {x, f32({2}, {1, 1}), u8({2}, {0, 0})}, {}, 1, 13}); },
               ErrorCode::InvalidModel, "entries for axis");
  expect_error([&] { run_node({"QuantizeLinear", {x, f32({2, 1}, {1, 1})}, {{"block_size", attr_i(2)}}, 1, 21}); },
               ErrorCode::InvalidModel, "blocked scale");
  expect_error([&] { run_node({"QuantizeLinear", {x, f32({3}, {1, 1, 1}), u8({2}, {0, 0})}, {}, 1, 13}); },
               ErrorCode::InvalidModel, "zero point");
  expect_error([&] {
    run_node({"QuantizeLinear", {x, f32({}, {1}), u8({}, {0})}, {{"output_dtype", attr_i(3)}}, 1, 21});
  }, ErrorCode::InvalidModel, "output_dtype");
  expect_error([&] { run_node({"QuantizeLinear", {x, f32({}, {1})}, {{"output_dtype", attr_i(17)}}, 1, 21}); },
               ErrorCode::Unsupported, "output_dtype");
  expect_error([&] { run_node({"DequantizeLinear", {i8({2}, {1, 2}), f32({}, {1}), u8({}, {0})}, {}, 1, 13}); },
               ErrorCode::InvalidModel, "dtype");
  expect_error([&] { run_node({"DequantizeLinear", {x, f32({}, {1})}, {}, 1, 13}); }, ErrorCode::InvalidModel,
               "dtype");
}

// The spec's function body: range widened to include 0, scale = range / 255,
// zero point = round(-min / scale), y = saturate(round(x / scale) + zero point).
void check_dynamic(const std::vector<float>& xv) {
  float mn = 0, mx = 0;
  for (float v : xv) mn = std::min(mn, v), mx = std::max(mx, v);
  const auto scale = static_cast<float>((static_cast<double>(mx) - mn) / 255.0);
  const double zp = scale > 0 ? std::clamp(std::nearbyint(-static_cast<double>(mn) / scale), 0.0, 255.0) : 0.0;
  std::vector<int64_t> want;
  for (float v : xv)
    want.push_back(scale > 0 ? static_cast<int64_t>(std::clamp(std::nearbyint(v / scale) + zp, 0.0, 255.0)) : 0);
  const auto n = static_cast<int64_t>(xv.size());
  const auto outs = run_node({"DynamicQuantizeLinear", {f32({n}, xv)}, {}, 3, 11});
  expect_ints(outs[0], {n}, want);
  expect_close(outs[1], {}, {scale}, 0);
  expect_ints(outs[2], {}, {static_cast<int64_t>(zp)});
}

TEST(Quant, DynamicQuantizeLinear) {
  check_dynamic({0, 2, -3, -2.5f, 1.34f, 0.5f});
  check_dynamic({-1, -2.1f, -1.3f, -2.5f, -3.34f, -4});  // max widened to 0: zero point 255
  check_dynamic({1, 2.1f, 1.3f, 2.5f, 3.34f, 4});        // min widened to 0: zero point 0
  check_dynamic(rq::rnd(40, 4, -7.f, 3.f));
  check_dynamic({0, 0, 0});  // scale 0: everything quantizes to 0
  // Hand check of the first case: scale 5/255, zero point round(3 * 51) = 153.
  const auto outs = run_node({"DynamicQuantizeLinear", {f32({2}, {0, 2})}, {}, 3, 11});
  expect_close(outs[1], {}, {static_cast<float>(2.0 / 255.0)}, 0);
  expect_ints(outs[0], {2}, {0, 255});
}

TEST(Quant, MeanVarianceNormalization) {
  const Shape s{2, 3, 2, 2};
  const std::vector<float> xv = rq::rnd(24, 8, -2.f, 5.f);
  for (const auto& axes : std::vector<std::vector<int64_t>>{{0, 2, 3}, {2, 3}, {1}, {-1, 0}}) {
    std::vector<bool> red(4, false);
    for (int64_t a : axes) red[static_cast<size_t>(a < 0 ? a + 4 : a)] = true;
    // Group elements by their coordinates on the kept axes.
    auto key = [&](int64_t e) {
      int64_t k = 0;
      for (size_t d = 4; d-- > 0;) {
        const int64_t c = e % s[d];
        e /= s[d];
        if (!red[d]) k = k * 10 + c + 1;
      }
      return k;
    };
    std::map<int64_t, std::vector<double>> groups;
    for (int64_t e = 0; e < 24; ++e) groups[key(e)].push_back(xv[static_cast<size_t>(e)]);
    std::vector<double> want;
    for (int64_t e = 0; e < 24; ++e) {
      const auto& g = groups[key(e)];
      double m = 0, m2 = 0;
      for (double v : g) m += v, m2 += v * v;
      m /= static_cast<double>(g.size());
      m2 /= static_cast<double>(g.size());
      want.push_back((xv[static_cast<size_t>(e)] - m) / (std::sqrt(m2 - m * m) + 1e-9));
    }
    std::map<std::string, ir::Attribute> attrs;
    if (axes != std::vector<int64_t>{0, 2, 3}) attrs["axes"] = attr_ints(axes);
    expect_close(run_node({"MeanVarianceNormalization", {f32(s, xv)}, attrs, 1, 13})[0], s, want, 1e-5);
  }
  expect_error([&] { run_node({"MeanVarianceNormalization", {f32({2, 3}, rq::rnd(6, 1))}, {}, 1, 13}); },
               ErrorCode::InvalidModel, "out of range");
}

}  // namespace
}  // namespace kiln::test
