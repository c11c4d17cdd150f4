// Attention (opset 23/24) against a naive per-row evaluation of its definition:
// scores = q·k * scale, softcap, + mask/causal bias, softmax (a fully masked row
// gives zeros), weighted sum of v.
#include <cmath>
#include <limits>

#include "nn_test_util.h"

namespace kiln::test {
namespace {

using nn::expect_close;
using nn::run_ref;
using nn::rnd;
using nn::rnd_f32;

constexpr float k_inf = std::numeric_limits<float>::infinity();

struct RefCase {
  int64_t b = 1, qh = 2, kvh = 2, sq = 3, skv = 4, past = 0, hs = 4, vhs = 3;
  float scale = 0, softcap = 0;
  bool causal = false;
  std::function<float(int64_t, int64_t, int64_t, int64_t)> mask;  // (b, h, i, j) → bias; may be -inf
  std::vector<int64_t> nonpad;                                      // opset 24 per-batch valid kv length
};

// q [B,qh,Sq,hs], k [B,kvh,T,hs], v [B,kvh,T,vhs] (T includes past). Returns Y [B,qh,Sq,vhs];
// `stage` (0..3) receives the qk_matmul_output of that mode.
std::vector<float> ref_attention(const RefCase& c, const std::vector<float>& q, const std::vector<float>& k,
                                 const std::vector<float>& v, int mode, std::vector<float>* stage) {
  const int64_t t = c.past + c.skv;
  const double scale = c.scale > 0 ? c.scale : 1 / std::sqrt(static_cast<double>(c.hs));
  std::vector<float> y;
  for (int64_t b = 0; b < c.b; ++b)
    for (int64_t h = 0; h < c.qh; ++h)
      for (int64_t i = 0; i < c.sq; ++i) {
        const int64_t kv = h * c.kvh / c.qh;
        std::vector<double> s(static_cast<size_t>(t));
        double bias_max = -k_inf;
        bool any_bias = c.mask || c.causal || !c.nonpad.empty();
        for (int64_t j = 0; j < t; ++j) {
          double dot = 0;
          for (int64_t d = 0; d < c.hs; ++d)
            dot += q[static_cast<size_t>(((b * c.qh + h) * c.sq + i) * c.hs + d)] * k[static_cast<size_t>(((b * c.kvh + kv) * t + j) * c.hs + d)];
          double x = dot * scale;
          if (mode == 0) stage->push_back(static_cast<float>(x));
          if (c.softcap > 0) x = c.softcap * std::tanh(x / c.softcap);
          if (mode == 1) stage->push_back(static_cast<float>(x));
          double bias = c.mask ? c.mask(b, h, i, j) : 0.0;
          const int64_t offset = c.nonpad.empty() ? c.past : c.nonpad[static_cast<size_t>(b)] - c.sq;
          if (c.causal && j > i + offset) bias = -k_inf;
          if (!c.nonpad.empty() && j >= c.nonpad[static_cast<size_t>(b)]) bias = -k_inf;
          bias_max = std::max(bias_max, bias);
          s[static_cast<size_t>(j)] = x + bias;
          if (mode == 2) stage->push_back(static_cast<float>(s[static_cast<size_t>(j)]));
        }
        const bool dead = any_bias && bias_max == -k_inf;
        double mx = -k_inf, sum = 0;
        for (double x : s) mx = std::max(mx, x);
        for (double& x : s) sum += (x = dead ? 0 : std::exp(x - mx));
        for (double& x : s) x = dead ? 0 : x / sum;
        if (mode == 3)
          for (double x : s) stage->push_back(static_cast<float>(x));
        for (int64_t d = 0; d < c.vhs; ++d) {
          double acc = 0;
          for (int64_t j = 0; j < t; ++j) acc += s[static_cast<size_t>(j)] * v[static_cast<size_t>(((b * c.kvh + kv) * t + j) * c.vhs + d)];
          y.push_back(static_cast<float>(acc));
        }
      }
  return y;
}

TEST(NnAttention, MhaGqaScaleAndFloatMask) {
  for (int64_t qh : {2, 4}) {  // 4 query heads over 2 kv heads is GQA
    RefCase c;
    c.b = 2;
    c.qh = qh;
    c.scale = qh == 4 ? 0.3f : 0.f;
    const auto q = rnd(c.b * c.qh * c.sq * c.hs, 1), k = rnd(c.b * c.kvh * c.skv * c.hs, 2),
               v = rnd(c.b * c.kvh * c.skv * c.vhs, 3), m = rnd(c.sq * c.skv, 4);
    c.mask = [&](int64_t, int64_t, int64_t i, int64_t j) { return m[static_cast<size_t>(i * 4 + j)]; };
    std::vector<float> stage;
    const auto want = ref_attention(c, q, k, v, 2, &stage);
    std::map<std::string, ir::Attribute> attrs{{"qk_matmul_output_mode", attr_i(2)}};
    if (c.scale > 0) attrs["scale"] = attr_f(c.scale);
    const auto outs = run_ref({"Attention",
                                {f32({c.b, c.qh, c.sq, c.hs}, q), f32({c.b, c.kvh, c.skv, c.hs}, k),
                                 f32({c.b, c.kvh, c.skv, c.vhs}, v), f32({c.sq, c.skv}, m)},
                                attrs, 4, 23});
    const std::string what = "q heads " + std::to_string(qh);
    expect_close(outs[0], {c.b, c.qh, c.sq, c.vhs}, want, 1e-5f, what);
    expect_close(outs[1], {c.b, c.kvh, c.skv, c.hs}, k, 0, what + " present_key without past");
    expect_close(outs[3], {c.b, c.qh, c.sq, c.skv}, stage, 1e-5f, what + " qk after bias");
  }
}

TEST(NnAttention, CausalWithPastAndPresent) {
  RefCase c;
  c.past = 2;
  c.causal = true;
  const auto q = rnd(c.qh * c.sq * c.hs, 5), k = rnd(c.kvh * c.skv * c.hs, 6), v = rnd(c.kvh * c.skv * c.vhs, 7);
  const auto pk = rnd(c.kvh * c.past * c.hs, 8), pv = rnd(c.kvh * c.past * c.vhs, 9);
  // Concatenate past and current along the sequence, per head.
  std::vector<float> kc, vc;
  for (int64_t h = 0; h < c.kvh; ++h) {
    kc.insert(kc.end(), pk.begin() + h * c.past * c.hs, pk.begin() + (h + 1) * c.past * c.hs);
    kc.insert(kc.end(), k.begin() + h * c.skv * c.hs, k.begin() + (h + 1) * c.skv * c.hs);
    vc.insert(vc.end(), pv.begin() + h * c.past * c.vhs, pv.begin() + (h + 1) * c.past * c.vhs);
    vc.insert(vc.end(), v.begin() + h * c.skv * c.vhs, v.begin() + (h + 1) * c.skv * c.vhs);
  }
  const auto want = ref_attention(c, q, kc, vc, -1, nullptr);
  const auto outs = run_ref({"Attention",
                              {f32({1, c.qh, c.sq, c.hs}, q), f32({1, c.kvh, c.skv, c.hs}, k),
                               f32({1, c.kvh, c.skv, c.vhs}, v), Tensor(), f32({1, c.kvh, c.past, c.hs}, pk),
                               f32({1, c.kvh, c.past, c.vhs}, pv)},
                              {{"is_causal", attr_i(1)}}, 3, 23});
  expect_close(outs[0], {1, c.qh, c.sq, c.vhs}, want, 1e-5f, "Y");
  expect_close(outs[1], {1, c.kvh, 6, c.hs}, kc, 0, "present_key");
  expect_close(outs[2], {1, c.kvh, 6, c.vhs}, vc, 0, "present_value");
}

TEST(NnAttention, BoolMaskFullyMaskedRowSoftcapAndModes) {
  RefCase c;
  c.softcap = 2.f;
  const auto q = rnd(c.qh * c.sq * c.hs, 10, -3, 3), k = rnd(c.kvh * c.skv * c.hs, 11, -3, 3),
             v = rnd(c.kvh * c.skv * c.vhs, 12);
  // Row 1 sees nothing; the other rows see columns j != i.
  Tensor mask = Tensor::empty(DataType::Bool, {c.sq, c.skv});
  for (int64_t i = 0; i < c.sq; ++i)
    for (int64_t j = 0; j < c.skv; ++j) mask.data<bool>()[i * c.skv + j] = i != 1 && j != i;
  c.mask = [&](int64_t, int64_t, int64_t i, int64_t j) { return mask.data<bool>()[i * c.skv + j] ? 0.f : -k_inf; };
  for (int mode = 0; mode < 4; ++mode) {
    std::vector<float> stage;
    const auto want = ref_attention(c, q, k, v, mode, &stage);
    const auto outs = run_ref({"Attention",
                                {f32({1, c.qh, c.sq, c.hs}, q), f32({1, c.kvh, c.skv, c.hs}, k),
                                 f32({1, c.kvh, c.skv, c.vhs}, v), mask},
                                {{"softcap", attr_f(c.softcap)}, {"qk_matmul_output_mode", attr_i(mode)}}, 4, 23});
    expect_close(outs[0], {1, c.qh, c.sq, c.vhs}, want, 1e-5f, "Y, mode " + std::to_string(mode));
    expect_close(outs[3], {1, c.qh, c.sq, c.skv}, stage, 1e-5f, "qk_matmul_output mode " + std::to_string(mode));
  }
}

TEST(NnAttention, ThreeDLayout) {
  RefCase c;
  c.qh = 4;
  c.kvh = 2;
  // 3-D Q [B, S, heads*hs] holds the same numbers as 4-D [B, heads, S, hs] transposed.
  const auto q3 = rnd(c.sq * c.qh * c.hs, 13), k3 = rnd(c.skv * c.kvh * c.hs, 14), v3 = rnd(c.skv * c.kvh * c.vhs, 15);
  const auto to4 = [](const std::vector<float>& x, int64_t s, int64_t h, int64_t d) {
    std::vector<float> o;
    for (int64_t hh = 0; hh < h; ++hh)
      for (int64_t ss = 0; ss < s; ++ss)
        for (int64_t dd = 0; dd < d; ++dd) o.push_back(x[static_cast<size_t>((ss * h + hh) * d + dd)]);
    return o;
  };
  const auto y4 = ref_attention(c, to4(q3, c.sq, c.qh, c.hs), to4(k3, c.skv, c.kvh, c.hs), to4(v3, c.skv, c.kvh, c.vhs), -1,
                                nullptr);
  std::vector<float> want;  // back to [B, S, heads*vhs]
  for (int64_t s = 0; s < c.sq; ++s)
    for (int64_t h = 0; h < c.qh; ++h)
      for (int64_t d = 0; d < c.vhs; ++d) want.push_back(y4[static_cast<size_t>((h * c.sq + s) * c.vhs + d)]);
  const auto y = run_ref({"Attention",
                           {f32({1, c.sq, c.qh * c.hs}, q3), f32({1, c.skv, c.kvh * c.hs}, k3),
                            f32({1, c.skv, c.kvh * c.vhs}, v3)},
                           {{"q_num_heads", attr_i(c.qh)}, {"kv_num_heads", attr_i(c.kvh)}}, 1, 23})[0];
  expect_close(y, {1, c.sq, c.qh * c.vhs}, want, 1e-5f);
}

TEST(NnAttention, NonpadKvSeqlenOpset24) {
  RefCase c;
  c.b = 2;
  c.causal = true;
  c.nonpad = {4, 3};
  const auto q = rnd(c.b * c.qh * c.sq * c.hs, 16), k = rnd(c.b * c.kvh * c.skv * c.hs, 17),
             v = rnd(c.b * c.kvh * c.skv * c.vhs, 18);
  const auto want = ref_attention(c, q, k, v, -1, nullptr);
  const auto y = run_ref({"Attention",
                           {f32({c.b, c.qh, c.sq, c.hs}, q), f32({c.b, c.kvh, c.skv, c.hs}, k),
                            f32({c.b, c.kvh, c.skv, c.vhs}, v), Tensor(), Tensor(), Tensor(), i64({2}, c.nonpad)},
                           {{"is_causal", attr_i(1)}}, 1, 24})[0];
  expect_close(y, {c.b, c.qh, c.sq, c.vhs}, want, 1e-5f);
}

TEST(NnAttention, ShapesAndErrors) {
  const auto out = infer_only("Attention",
                                  {{DataType::Float32, ir::SymShape{nn::sym("B"), nn::sym("S"), 64}},
                                   {DataType::Float32, ir::SymShape{nn::sym("B"), nn::sym("S"), 32}},
                                   {DataType::Float32, ir::SymShape{nn::sym("B"), nn::sym("S"), 32}}},
                                  {{"q_num_heads", attr_i(8)}, {"kv_num_heads", attr_i(4)}}, 23, 4);
  EXPECT_EQ(ir::sym_str(*out[0].shape), "[B,S,64]");
  EXPECT_EQ(ir::sym_str(*out[1].shape), "[B,4,S,8]");
  const Tensor q3 = rnd_f32({1, 3, 8}, 1);
  expect_error([&] { run_ref({"Attention", {q3, q3, q3}, {}, 1, 23}); }, ErrorCode::InvalidModel, "q_num_heads");
  const Tensor q4 = rnd_f32({1, 3, 2, 4}, 1), k4 = rnd_f32({1, 2, 2, 4}, 2);
  expect_error([&] { run_ref({"Attention", {q4, k4, k4}, {}, 1, 23}); }, ErrorCode::InvalidModel, "multiple of kv_num_heads");
  expect_error([&] { run_ref({"Attention", {q4, q4, q4}, {}, 1, 22}); }, ErrorCode::Unsupported, "opset");
}

}  // namespace
}  // namespace kiln::test
