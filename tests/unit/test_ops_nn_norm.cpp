// Normalization ops against their defining formulas evaluated with naive
// loops here, plus error cases.
#include <cmath>

#include "nn_test_util.h"

namespace kiln::test {
namespace {

using nn::expect_close;
using nn::run_ref;
using nn::rnd;
using nn::rnd_f32;

TEST(NnNorm, BatchNormalizationInference) {
  const int64_t n = 2, c = 3, hw = 10;
  const Tensor x = rnd_f32({n, c, 2, 5}, 1);
  const auto s = rnd(c, 2), b = rnd(c, 3), mean = rnd(c, 4), var = rnd(c, 5, 0.1f, 2.f);
  const float eps = 1e-3f;
  std::vector<float> want;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t j = 0; j < hw; ++j) {
        const auto k = static_cast<size_t>(ch);
        want.push_back(static_cast<float>(s[k] * (x.data<float>()[(i * c + ch) * hw + j] - mean[k]) /
                                              std::sqrt(static_cast<double>(var[k]) + eps) + b[k]));
      }
  NodeSpec spec{"BatchNormalization", {x, f32({c}, s), f32({c}, b), f32({c}, mean), f32({c}, var)},
                {{"epsilon", attr_f(eps)}}, 1, 15};
  expect_close(run_ref(spec)[0], {n, c, 2, 5}, want, 1e-5f);
  spec.opset = 9;  // the older form without training_mode reads the same
  expect_close(run_ref(spec)[0], {n, c, 2, 5}, want, 1e-5f, "opset 9");
  spec.inputs[0] = nn::to_f16(x);
  spec.opset = 15;
  expect_close(run_ref(spec)[0], {n, c, 2, 5}, want, 3e-3f, "f16 X");
  // Rank 2 input [N, C].
  const Tensor x2 = rnd_f32({4, c}, 6);
  std::vector<float> want2;
  for (int64_t i = 0; i < 4; ++i)
    for (size_t ch = 0; ch < 3; ++ch)
      want2.push_back(static_cast<float>(s[ch] * (x2.data<float>()[i * 3 + static_cast<int64_t>(ch)] - mean[ch]) /
                                             std::sqrt(static_cast<double>(var[ch]) + 1e-5) + b[ch]));
  expect_close(run_ref({"BatchNormalization", {x2, f32({c}, s), f32({c}, b), f32({c}, mean), f32({c}, var)}})[0],
               {4, c}, want2, 1e-5f, "rank 2");
}

TEST(NnNorm, BatchNormalizationErrors) {
  const Tensor x = rnd_f32({1, 3, 2, 2}, 1), v = f32({3}, {1, 1, 1}), v2 = f32({2}, {1, 1});
  expect_error([&] { run_ref({"BatchNormalization", {x, v, v, v, v}, {{"training_mode", attr_i(1)}}, 3, 15}); },
               ErrorCode::Unsupported, "training_mode");
  expect_error([&] { run_ref({"BatchNormalization", {x, v, v, v, v}, {}, 3, 15}); }, ErrorCode::Unsupported,
               "training outputs");
  expect_error([&] { run_ref({"BatchNormalization", {x, v, v2, v, v}}); }, ErrorCode::InvalidModel, "B");
  expect_error([&] { run_ref({"BatchNormalization", {x, v, v, v}}); }, ErrorCode::InvalidModel, "inputs");
  const auto sym = infer_only("BatchNormalization",
                                  {{DataType::Float32, ir::SymShape{nn::sym("N"), 3, 8, 8}},
                                   {DataType::Float32, ir::SymShape{3}}, {DataType::Float32, ir::SymShape{3}},
                                   {DataType::Float32, ir::SymShape{3}}, {DataType::Float32, ir::SymShape{3}}});
  EXPECT_EQ(ir::sym_str(*sym[0].shape), "[N,3,8,8]");
}

// Mean / population variance of `n` floats spaced `stride` apart.
std::pair<double, double> stats(const float* x, int64_t n, int64_t stride = 1) {
  double m = 0, v = 0;
  for (int64_t i = 0; i < n; ++i) m += x[i * stride];
  m /= static_cast<double>(n);
  for (int64_t i = 0; i < n; ++i) v += (x[i * stride] - m) * (x[i * stride] - m);
  return {m, v / static_cast<double>(n)};
}

TEST(NnNorm, InstanceAndGroupNormalization) {
  const Tensor x = rnd_f32({2, 4, 3, 5}, 7);
  const float* xp = x.data<float>();
  const auto s = rnd(4, 8), b = rnd(4, 9);
  const float eps = 1e-2f;
  std::vector<float> inst(static_cast<size_t>(x.numel()));
  for (int64_t nc = 0; nc < 8; ++nc) {
    const auto [m, v] = stats(xp + nc * 15, 15);
    const auto c = static_cast<size_t>(nc % 4);
    for (int64_t j = 0; j < 15; ++j)
      inst[static_cast<size_t>(nc * 15 + j)] = static_cast<float>(s[c] * (xp[nc * 15 + j] - m) / std::sqrt(v + eps) + b[c]);
  }
  expect_close(run_ref({"InstanceNormalization", {x, f32({4}, s), f32({4}, b)}, {{"epsilon", attr_f(eps)}}})[0],
               x.shape(), inst, 1e-5f, "instance");
  // Two groups of two channels; opset 21 scales per channel, opset 18 per group.
  for (int64_t opset : {18, 21}) {
    const bool per_group = opset == 18;
    std::vector<float> want(static_cast<size_t>(x.numel()));
    for (int64_t ng = 0; ng < 4; ++ng) {
      const auto [m, v] = stats(xp + ng * 30, 30);
      for (int64_t j = 0; j < 30; ++j) {
        const auto k = static_cast<size_t>(per_group ? ng % 2 : (ng % 2) * 2 + j / 15);
        want[static_cast<size_t>(ng * 30 + j)] = static_cast<float>(s[k] * (xp[ng * 30 + j] - m) / std::sqrt(v + eps) + b[k]);
      }
    }
    const int64_t len = per_group ? 2 : 4;
    const Tensor sc = f32({len}, std::vector<float>(s.begin(), s.begin() + len));
    const Tensor bi = f32({len}, std::vector<float>(b.begin(), b.begin() + len));
    expect_close(run_ref({"GroupNormalization", {x, sc, bi}, {{"epsilon", attr_f(eps)}, {"num_groups", attr_i(2)}}, 1, opset})[0],
                 x.shape(), want, 1e-5f, "group, opset " + std::to_string(opset));
  }
  expect_error([&] { run_ref({"GroupNormalization", {x, f32({4}, s), f32({4}, b)}, {{"num_groups", attr_i(3)}}}); },
               ErrorCode::InvalidModel, "not divisible by num_groups");
  expect_error([&] { run_ref({"InstanceNormalization", {x, f32({3}, {1, 1, 1}), f32({4}, b)}}); },
               ErrorCode::InvalidModel, "scale");
}

TEST(NnNorm, LayerNormalizationAxesAndStatistics) {
  const Tensor x = rnd_f32({2, 3, 4}, 10);
  const float* xp = x.data<float>();
  for (int64_t axis : {-1, 1, 0, -2}) {
    const int64_t a = axis < 0 ? axis + 3 : axis;
    const int64_t outer = a == 0 ? 1 : a == 1 ? 2 : 6, inner = 24 / outer;
    const Shape tail(x.shape().begin() + a, x.shape().end());
    const auto sv = rnd(inner, 11), bv = rnd(inner, 12);
    std::vector<float> want, means, invs;
    for (int64_t o = 0; o < outer; ++o) {
      const auto [m, v] = stats(xp + o * inner, inner);
      means.push_back(static_cast<float>(m));
      invs.push_back(static_cast<float>(1 / std::sqrt(v + 1e-5)));
      for (int64_t j = 0; j < inner; ++j)
        want.push_back(static_cast<float>((xp[o * inner + j] - m) / std::sqrt(v + 1e-5) * sv[static_cast<size_t>(j)] +
                                          bv[static_cast<size_t>(j)]));
    }
    Shape stat_shape = x.shape();
    for (size_t i = static_cast<size_t>(a); i < 3; ++i) stat_shape[i] = 1;
    const auto outs = run_ref({"LayerNormalization", {x, f32(tail, sv), f32(tail, bv)}, {{"axis", attr_i(axis)}}, 3, 17});
    const std::string what = "axis " + std::to_string(axis);
    expect_close(outs[0], x.shape(), want, 1e-5f, what);
    expect_close(outs[1], stat_shape, means, 1e-5f, what + " Mean");
    expect_close(outs[2], stat_shape, invs, 1e-5f, what + " InvStdDev");
  }
  // Scale [1, 4] broadcast over the normalized [3, 4]; no bias.
  const auto sv = rnd(4, 13);
  std::vector<float> want;
  for (int64_t o = 0; o < 2; ++o) {
    const auto [m, v] = stats(xp + o * 12, 12);
    for (int64_t j = 0; j < 12; ++j)
      want.push_back(static_cast<float>((xp[o * 12 + j] - m) / std::sqrt(v + 1e-5) * sv[static_cast<size_t>(j % 4)]));
  }
  expect_close(run_ref({"LayerNormalization", {x, f32({1, 4}, sv)}, {{"axis", attr_i(1)}}, 1, 17})[0], x.shape(), want,
               1e-5f, "broadcast scale");
  expect_error([&] { run_ref({"LayerNormalization", {x, f32({3}, {1, 1, 1})}, {}, 1, 17}); }, ErrorCode::InvalidModel,
               "does not broadcast");
  const auto sym = infer_only("LayerNormalization",
                                  {{DataType::Float32, ir::SymShape{nn::sym("B"), nn::sym("S"), 8}},
                                   {DataType::Float32, ir::SymShape{8}}},
                                  {}, 17, 3);
  EXPECT_EQ(ir::sym_str(*sym[0].shape), "[B,S,8]");
  EXPECT_EQ(ir::sym_str(*sym[1].shape), "[B,S,1]");
  EXPECT_EQ(sym[1].dtype, DataType::Float32);
}

TEST(NnNorm, RmsNormalization) {
  const Tensor x = rnd_f32({3, 2, 5}, 14);
  const float* xp = x.data<float>();
  const auto sv = rnd(10, 15);
  std::vector<float> want;
  for (int64_t o = 0; o < 3; ++o) {
    double ms = 0;
    for (int64_t j = 0; j < 10; ++j) ms += xp[o * 10 + j] * xp[o * 10 + j];
    const double r = std::sqrt(ms / 10 + 0.1);
    for (int64_t j = 0; j < 10; ++j) want.push_back(static_cast<float>(xp[o * 10 + j] / r * sv[static_cast<size_t>(j)]));
  }
  expect_close(run_ref({"RMSNormalization", {x, f32({2, 5}, sv)}, {{"axis", attr_i(1)}, {"epsilon", attr_f(0.1f)}}, 1, 23})[0],
               x.shape(), want, 1e-5f);
  expect_error([&] { run_ref({"RMSNormalization", {x, f32({2, 5}, sv)}, {}, 1, 22}); }, ErrorCode::Unsupported, "opset");
}

TEST(NnNorm, LpNormalizationAndLrn) {
  Tensor x = rnd_f32({2, 3, 4}, 16);
  x.data<float>()[1] = x.data<float>()[5] = x.data<float>()[9] = 0;  // a zero vector along axis 1 stays zero
  const float* xp = x.data<float>();
  for (int64_t p : {1, 2}) {
    std::vector<float> want(24);
    for (int64_t o = 0; o < 2; ++o)
      for (int64_t i = 0; i < 4; ++i) {
        double norm = 0;
        for (int64_t j = 0; j < 3; ++j) {
          const double v = xp[(o * 3 + j) * 4 + i];
          norm += p == 1 ? std::fabs(v) : v * v;
        }
        if (p == 2) norm = std::sqrt(norm);
        for (int64_t j = 0; j < 3; ++j)
          want[static_cast<size_t>((o * 3 + j) * 4 + i)] = norm == 0 ? 0.f : static_cast<float>(xp[(o * 3 + j) * 4 + i] / norm);
      }
    expect_close(run_ref({"LpNormalization", {x}, {{"axis", attr_i(1)}, {"p", attr_i(p)}}})[0], x.shape(), want, 1e-5f,
                 "p=" + std::to_string(p));
  }
  expect_error([&] { run_ref({"LpNormalization", {x}, {{"p", attr_i(3)}}}); }, ErrorCode::InvalidModel, "p must be 1 or 2");

  const Tensor y = rnd_f32({1, 5, 2, 2}, 17);
  const float* yp = y.data<float>();
  const int64_t size = 4;  // window [c-1, c+2]
  std::vector<float> want;
  for (int64_t c = 0; c < 5; ++c)
    for (int64_t j = 0; j < 4; ++j) {
      double sq = 0;
      for (int64_t k = c - 1; k <= c + 2; ++k)
        if (k >= 0 && k < 5) sq += yp[k * 4 + j] * yp[k * 4 + j];
      want.push_back(static_cast<float>(yp[c * 4 + j] / std::pow(2.0 + 0.5 / size * sq, 0.75)));
    }
  expect_close(run_ref({"LRN", {y}, {{"size", attr_i(size)}, {"alpha", attr_f(0.5f)}, {"bias", attr_f(2.f)}}})[0],
               y.shape(), want, 1e-5f, "LRN");
  expect_error([&] { run_ref({"LRN", {y}}); }, ErrorCode::InvalidModel, "size is required");
}

}  // namespace
}  // namespace kiln::test
