// Every oneDNN kernel against the reference kernel of its op on the same
// random inputs, over shapes that exercise strides, pads (asymmetric too),
// dilations, groups, depthwise, batch > 1 and the fused post-ops; and the
// cases that must fall back to the reference kernel.
#include <limits>

#include "dnnl_test_util.h"

namespace kiln::test {
namespace {

using namespace dnnl_util;

struct ConvSpec {
  Shape x, w;
  std::map<std::string, ir::Attribute> attrs;
  bool bias = true;
};

std::vector<ConvSpec> conv_specs() {
  return {
      {{1, 3, 8, 8}, {4, 3, 3, 3}, {{"pads", ais({1, 1, 1, 1})}}},
      {{2, 8, 9, 7}, {16, 8, 3, 3}, {{"strides", ais({2, 2})}, {"pads", ais({0, 1, 1, 0})}}},
      {{2, 16, 10, 10}, {8, 16, 3, 3}, {{"dilations", ais({2, 2})}, {"pads", ais({2, 2, 2, 2})}}, false},
      {{2, 16, 12, 12}, {16, 1, 3, 3}, {{"group", ai(16)}, {"pads", ais({1, 1, 1, 1})}}},
      {{1, 32, 11, 11}, {32, 1, 5, 5}, {{"group", ai(32)}, {"strides", ais({2, 2})}, {"pads", ais({2, 2, 2, 2})}}},
      {{1, 8, 6, 6}, {12, 2, 1, 1}, {{"group", ai(4)}}},
      {{3, 4, 7, 7}, {6, 4, 1, 1}, {}},
      {{1, 64, 14, 14}, {128, 64, 1, 1}, {{"strides", ais({2, 2})}}},
      {{1, 3, 9, 9}, {5, 3, 3, 3}, {{"auto_pad", as("SAME_UPPER")}, {"strides", ais({2, 2})}}},
      {{1, 3, 9, 9}, {5, 3, 2, 2}, {{"auto_pad", as("SAME_LOWER")}}},
      {{2, 4, 16}, {6, 4, 5}, {{"pads", ais({2, 2})}}},                         // 1-D
      {{1, 2, 5, 6, 7}, {3, 2, 3, 3, 3}, {{"pads", ais({1, 1, 1, 1, 1, 1})}}},  // 3-D
      {{2, 16, 1, 1}, {8, 16, 1, 1}, {}},                                        // 1 pixel: a matmul
      {{3, 24, 1, 1}, {40, 24, 1, 1}, {{"strides", ais({2, 2})}}, false},
      {{2, 16, 9, 7}, {24, 16, 1, 1}, {{"strides", ais({2, 3})}}},  // strided 1x1: X subsampled first
  };
}

OpCase conv_case(const ConvSpec& s, uint32_t seed) {
  OpCase c{"Conv", {random(s.x, seed), random(s.w, seed + 1)}, s.attrs};
  if (s.bias) c.inputs.push_back(random({s.w[0]}, seed + 2));
  return c;
}

TEST(DnnlConv, MatchesReference) {
  uint32_t seed = 1;
  for (const ConvSpec& s : conv_specs()) {
    OpCase c = conv_case(s, seed += 7);
    check_case(c, true, "Conv x" + shape_str(s.x) + " w" + shape_str(s.w));
    c.const_weights = false;  // weights as a runtime input: reordered each run
    check_case(c, true, "Conv (runtime weights) x" + shape_str(s.x) + " w" + shape_str(s.w));
  }
}

// The "onednn_subsample" candidate (X subsampled, then a unit-stride 1x1
// convolution) on strided 1x1 convolutions; refused for anything else.
TEST(DnnlConv, SubsampleCandidateMatchesReferenceAndRefusesOthers) {
  const auto* sub = backend::cpu_backend().kernels().find("Conv", "onednn_subsample");
  ASSERT_NE(sub, nullptr);
  const auto specs = conv_specs();
  for (size_t si : {size_t{7}, size_t{14}}) {
    const OpCase c = conv_case(specs[si], 900 + static_cast<uint32_t>(si));
    const uint64_t before = backend::onednn::primitive_runs();
    expect_close(run_with(*sub, c)[0], run_on(reference_kernels(), c)[0], 1e-4, "subsampled x" + shape_str(specs[si].x));
    EXPECT_GT(backend::onednn::primitive_runs(), before) << "oneDNN did not run it";
  }
  EXPECT_THROW(run_with(*sub, conv_case(specs[6], 950)), Error);  // 1x1, unit stride
  EXPECT_THROW(run_with(*sub, conv_case(specs[1], 951)), Error);  // 3x3, strided
}

// "onednn_alt" (oneDNN's runner-up implementation, or its first one where it
// has no other) matches the reference everywhere.
TEST(DnnlConv, RunnerUpCandidateMatchesReference) {
  const auto* alt = backend::cpu_backend().kernels().find("Conv", "onednn_alt");
  ASSERT_NE(alt, nullptr);
  uint32_t seed = 970;
  for (const ConvSpec& s : conv_specs()) {
    const OpCase c = conv_case(s, seed += 3);
    expect_close(run_with(*alt, c)[0], run_on(reference_kernels(), c)[0], 1e-4,
                 "runner-up x" + shape_str(s.x) + " w" + shape_str(s.w));
  }
}

TEST(DnnlConv, FallsBackForOtherDtypes) {
  OpCase c = conv_case(conv_specs()[0], 3);
  for (Tensor& t : c.inputs) {
    Tensor d = Tensor::empty(DataType::Float64, t.shape());
    for (int64_t i = 0; i < t.numel(); ++i) d.data<double>()[i] = t.data<float>()[i];
    t = d;
  }
  check_case(c, false, "Conv f64");
}

struct ActSpec {
  std::string name;
  float alpha = 0, beta = 0;
};

std::vector<ActSpec> activations() {
  return {{""},        {"Relu"},     {"LeakyRelu", 0.1f}, {"Clip", 0.f, 6.f}, {"Clip", -0.5f, 0.25f},
          {"HardSwish"}, {"HardSigmoid", 0.2f, 0.5f}, {"Sigmoid"}, {"Tanh"}, {"Elu", 0.7f}};
}

void set_act(OpCase& c, const ActSpec& a) {
  c.domain = "com.kiln";
  c.attrs["activation"] = as(a.name);
  c.attrs["activation_alpha"] = af(a.alpha);
  c.attrs["activation_beta"] = af(a.beta);
}

TEST(DnnlConv, FusedActivationsAndResidual) {
  const auto specs = conv_specs();
  uint32_t seed = 100;
  for (size_t si : {size_t{0}, size_t{1}, size_t{3}, size_t{10}, size_t{12}}) {
    for (const ActSpec& a : activations()) {
      for (bool with_z : {false, true}) {
        OpCase c = conv_case(specs[si], seed += 3);
        c.op = "FusedConv";
        set_act(c, a);
        const Tensor y = run_on(reference_kernels(), OpCase{"Conv", c.inputs, specs[si].attrs})[0];
        if (with_z) c.inputs.push_back(random(y.shape(), seed + 1, -2.f, 2.f));
        check_case(c, true, "FusedConv " + a.name + (with_z ? " +Z" : "") + " x" + shape_str(specs[si].x));
      }
    }
  }
}

TEST(DnnlConv, ClipWithMinAboveMaxFallsBack) {
  OpCase c = conv_case(conv_specs()[0], 5);
  c.op = "FusedConv";
  set_act(c, {"Clip", 1.f, -1.f});
  check_case(c, false, "FusedConv Clip(1, -1)");
}

TEST(DnnlConvTranspose, MatchesReference) {
  struct T { Shape x, w; std::map<std::string, ir::Attribute> attrs; bool bias; bool dnnl; };
  const std::vector<T> cases = {
      {{1, 4, 5, 5}, {4, 3, 3, 3}, {}, true, true},
      {{2, 4, 5, 6}, {4, 2, 3, 3}, {{"strides", ais({2, 2})}, {"pads", ais({1, 1, 1, 1})}, {"output_padding", ais({1, 1})}}, true, true},
      {{1, 6, 4, 4}, {6, 2, 3, 3}, {{"group", ai(3)}, {"strides", ais({2, 2})}}, false, true},
      {{1, 3, 4, 4}, {3, 2, 2, 2}, {{"strides", ais({2, 2})}, {"dilations", ais({2, 2})}}, true, true},
      {{1, 3, 4, 4}, {3, 2, 3, 3}, {{"strides", ais({2, 2})}, {"auto_pad", as("SAME_UPPER")}}, true, true},
      {{2, 3, 7}, {3, 5, 3}, {{"strides", ais({3})}, {"pads", ais({1, 0})}}, true, true},  // 1-D
      // output_padding past the end padding: not expressible in oneDNN
      {{1, 2, 3, 3}, {2, 2, 3, 3}, {{"strides", ais({2, 2})}, {"output_padding", ais({1, 1})}}, true, false},
  };
  uint32_t seed = 900;
  for (const T& t : cases) {
    OpCase c{"ConvTranspose", {random(t.x, seed++), random(t.w, seed++)}, t.attrs};
    if (t.bias) c.inputs.push_back(random({t.w[1] * (t.attrs.count("group") ? t.attrs.at("group").i : 1)}, seed++));
    check_case(c, t.dnnl, "ConvTranspose x" + shape_str(t.x) + " w" + shape_str(t.w));
    c.const_weights = false;
    check_case(c, t.dnnl, "ConvTranspose (runtime weights) x" + shape_str(t.x) + " w" + shape_str(t.w));
  }
}

// "onednn_parallel": the same kernels on all threads, whatever the size.
TEST(DnnlParallelCandidate, MatchesReferenceOnEveryFamily) {
  const auto& reg = backend::cpu_backend().kernels();
  std::vector<OpCase> cases;
  cases.push_back(conv_case(conv_specs()[1], 300));
  cases.push_back(OpCase{"Gemm", {random({1, 96}, 301), random({40, 96}, 302), random({40}, 303)}, {{"transB", ai(1)}}});
  OpCase mul{"Mul", {random({1, 48, 14, 14}, 304), random({1, 48, 1, 1}, 305)}};
  mul.const_weights = false;
  cases.push_back(mul);
  cases.push_back(OpCase{"GlobalAveragePool", {random({2, 16, 5, 5}, 306)}});
  for (const OpCase& c : cases) {
    SCOPED_TRACE(c.op);
    const auto* parallel = reg.find(c.op, "onednn_parallel");
    ASSERT_NE(parallel, nullptr);
    const uint64_t before = backend::onednn::primitive_runs();
    const Tensor got = run_with(*parallel, c)[0];
    EXPECT_GT(backend::onednn::primitive_runs(), before) << "oneDNN did not run it";
    expect_close(got, run_on(reference_kernels(), c)[0], 1e-4, c.op + " on onednn_parallel");
  }
  // Where "onednn" uses every thread anyway, the candidate refuses (nothing to time).
  const OpCase big = conv_case({{1, 64, 28, 28}, {64, 64, 3, 3}, {{"pads", ais({1, 1, 1, 1})}}}, 310);
  EXPECT_THROW(run_with(*reg.find("Conv", "onednn_parallel"), big), Error);
}

TEST(DnnlMatMul, GemmMatchesReference) {
  struct G { int64_t m, k, n; bool ta, tb; Shape c; float alpha, beta; bool dnnl; };
  const std::vector<G> cases = {
      {1, 64, 10, false, true, {10}, 1, 1, true},  {8, 32, 16, false, false, {}, 1, 1, true},
      {5, 7, 3, true, false, {1, 3}, 1, 1, true},  {4, 6, 5, true, true, {4, 5}, 1, 1, true},
      {3, 4, 2, false, false, {3, 1}, 1, 1, false},  // column bias: reference
      {3, 4, 2, false, true, {2}, 0.5f, 1, false},   // alpha != 1: reference
      {3, 4, 2, false, true, {2}, 1, 2, false},      // beta != 1: reference
  };
  uint32_t seed = 200;
  for (const G& g : cases) {
    OpCase c{"Gemm", {random(g.ta ? Shape{g.k, g.m} : Shape{g.m, g.k}, seed++),
                      random(g.tb ? Shape{g.n, g.k} : Shape{g.k, g.n}, seed++)},
             {{"transA", ai(g.ta)}, {"transB", ai(g.tb)}, {"alpha", af(g.alpha)}, {"beta", af(g.beta)}}};
    if (!g.c.empty()) c.inputs.push_back(random(g.c, seed++));
    const std::string what = "Gemm m" + std::to_string(g.m) + " k" + std::to_string(g.k) + " n" +
                             std::to_string(g.n) + " C" + shape_str(g.c);
    check_case(c, g.dnnl, what);
    c.const_weights = false;
    check_case(c, g.dnnl, what + " (runtime B)");
    for (const ActSpec& a : {ActSpec{"Relu"}, ActSpec{"HardSwish"}, ActSpec{"Sigmoid"}}) {
      OpCase f = c;
      f.op = "FusedGemm";
      set_act(f, a);
      check_case(f, g.dnnl, "Fused" + what + " " + a.name);
    }
  }
}

TEST(DnnlMatMul, MatMulMatchesReference) {
  struct M { Shape a, b; bool dnnl; };
  const std::vector<M> cases = {
      {{3, 5}, {5, 4}, true},          {{2, 3, 5}, {5, 4}, true},        {{2, 3, 5}, {2, 5, 4}, true},
      {{2, 2, 3, 5}, {2, 2, 5, 6}, true}, {{4, 3, 5}, {1, 5, 6}, true},  {{5}, {5, 4}, false},
      {{2, 1, 3, 5}, {1, 4, 5, 6}, false}, {{3, 5}, {2, 5, 4}, false},
  };
  uint32_t seed = 300;
  for (const M& m : cases) {
    OpCase c{"MatMul", {random(m.a, seed++), random(m.b, seed++)}};
    const std::string what = "MatMul " + shape_str(m.a) + " x " + shape_str(m.b);
    check_case(c, m.dnnl, what);
    c.const_weights = false;
    check_case(c, m.dnnl, what + " (runtime B)");
    OpCase f = c;
    f.op = "FusedMatMul";
    set_act(f, {"Relu"});
    f.inputs.push_back(random({m.b.back()}, seed++));
    check_case(f, m.dnnl, "Fused" + what + " +bias Relu");
  }
}

TEST(DnnlPool, MatchesReference) {
  struct P { std::string op; Shape x; std::map<std::string, ir::Attribute> attrs; bool dnnl; };
  const std::vector<P> cases = {
      {"MaxPool", {2, 3, 8, 8}, {{"kernel_shape", ais({3, 3})}, {"strides", ais({2, 2})}, {"pads", ais({1, 1, 1, 1})}}, true},
      {"MaxPool", {1, 4, 7, 7}, {{"kernel_shape", ais({2, 2})}, {"strides", ais({2, 2})}}, true},
      {"MaxPool", {1, 4, 7, 7}, {{"kernel_shape", ais({2, 2})}, {"strides", ais({2, 2})}, {"ceil_mode", ai(1)}}, true},
      // Dilated pooling has only oneDNN's slow reference implementation: kiln's runs it.
      {"MaxPool", {1, 2, 9, 9}, {{"kernel_shape", ais({3, 3})}, {"dilations", ais({2, 2})}}, false},
      {"MaxPool", {1, 3, 10}, {{"kernel_shape", ais({3})}, {"pads", ais({1, 0})}}, true},
      {"AveragePool", {2, 3, 8, 8}, {{"kernel_shape", ais({3, 3})}, {"pads", ais({1, 1, 1, 1})}}, true},
      {"AveragePool", {2, 3, 8, 8}, {{"kernel_shape", ais({3, 3})}, {"pads", ais({1, 1, 1, 1})}, {"count_include_pad", ai(1)}}, true},
      {"AveragePool", {1, 3, 7, 7}, {{"kernel_shape", ais({2, 2})}, {"strides", ais({2, 2})}, {"ceil_mode", ai(1)}}, true},
      {"AveragePool", {1, 3, 7, 7}, {{"kernel_shape", ais({2, 2})}, {"strides", ais({2, 2})}, {"ceil_mode", ai(1)}, {"count_include_pad", ai(1)}}, false},
      {"GlobalAveragePool", {2, 16, 7, 7}, {}, true},
      {"GlobalAveragePool", {2, 5, 3, 4, 2}, {}, true},
      {"GlobalMaxPool", {2, 16, 7, 7}, {}, true},
  };
  uint32_t seed = 400;
  for (const P& p : cases) check_case(OpCase{p.op, {random(p.x, seed++)}, p.attrs}, p.dnnl, p.op + " " + shape_str(p.x));
  // MaxPool with the Indices output stays on the reference kernel.
  OpCase idx{"MaxPool", {random({1, 2, 6, 6}, 9)}, {{"kernel_shape", ais({2, 2})}}};
  idx.num_outputs = 2;
  check_case(idx, false, "MaxPool with Indices");
}

TEST(DnnlBatchNorm, MatchesReference) {
  uint32_t seed = 500;
  for (const Shape& x : {Shape{2, 3, 4, 5}, Shape{4, 3}, Shape{1, 8, 3, 3, 3}}) {
    const int64_t c = x[1];
    OpCase k{"BatchNormalization",
             {random(x, seed++), random({c}, seed++), random({c}, seed++), random({c}, seed++), random({c}, seed++, 0.5f, 1.5f)},
             {{"epsilon", af(1e-3f)}}};
    check_case(k, true, "BatchNormalization " + shape_str(x));
  }
}

TEST(DnnlSoftmax, MatchesReference) {
  uint32_t seed = 600;
  struct S { std::string op; Shape x; int64_t axis; int64_t opset; };
  for (const S& s : {S{"Softmax", {2, 10}, -1, 13}, S{"Softmax", {2, 3, 4}, 1, 13}, S{"Softmax", {2, 3, 4}, 1, 11},
                     S{"LogSoftmax", {3, 7}, -1, 13}, S{"LogSoftmax", {2, 3, 4}, 0, 11}}) {
    OpCase c{s.op, {random(s.x, seed++, -5.f, 5.f)}, {{"axis", ai(s.axis)}}};
    c.opset = s.opset;
    check_case(c, true, s.op + " " + shape_str(s.x) + " axis " + std::to_string(s.axis) + " opset " + std::to_string(s.opset));
  }
}

TEST(DnnlBinary, MatchesReference) {
  struct B { std::string op; Shape a, b; bool dnnl; };
  const std::vector<B> cases = {
      {"Add", {2, 3, 40, 50}, {2, 3, 40, 50}, true}, {"Mul", {2, 3, 40, 50}, {3, 1, 1}, true},
      {"Mul", {1, 3, 1, 1}, {2, 3, 40, 50}, true},  // swapped: oneDNN broadcasts its second source only
      {"Add", {80, 70}, {}, true},                  {"Sub", {2, 30, 80}, {80}, true},
      {"Div", {2, 30, 80}, {2, 1, 80}, true},       {"Sub", {30, 1}, {2, 30, 80}, false},
      {"Add", {20, 1, 400}, {1, 30, 1}, false},     // both operands broadcast
      {"Add", {2, 3, 4, 5}, {2, 3, 4, 5}, false},   // tiny: the reference loop
  };
  uint32_t seed = 800;
  for (const B& c : cases) {
    OpCase k{c.op, {random(c.a, seed++), random(c.b, seed++, 0.5f, 2.f)}};
    k.const_weights = false;
    check_case(k, c.dnnl, c.op + " " + shape_str(c.a) + " " + shape_str(c.b), 1e-6);
  }
  OpCase ints{"Add", {Tensor::from_vector<int64_t>(DataType::Int64, {2}, {1, 2}), Tensor::from_vector<int64_t>(DataType::Int64, {2}, {3, 4})}};
  const Tensor y = run_on(backend::cpu_backend().kernels(), ints)[0];
  EXPECT_EQ(y.data<int64_t>()[0], 4);
  EXPECT_EQ(y.data<int64_t>()[1], 6);
}

// NCHW <-> NHWC copies of a 4-D float tensor.
Tensor to_nhwc(const Tensor& t, bool inverse = false) {
  const Shape& s = t.shape();
  Tensor o = Tensor::empty(DataType::Float32, s);
  const int64_t n = s[0], c = s[1], hw = s[2] * s[3];
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t p = 0; p < hw; ++p) {
        const int64_t plain = (i * c + ch) * hw + p, last = (i * hw + p) * c + ch;
        o.data<float>()[inverse ? plain : last] = t.data<float>()[inverse ? last : plain];
      }
  return o;
}

TEST(DnnlLayouts, ChannelsLastInputsAndOutputsOnBothCandidates) {
  // The layout pass's attributes: X (and Z) and Y channels last. Both the
  // oneDNN candidate and the (layout-aware) reference candidate must read and
  // write that layout; compared with the plain reference kernel.
  const auto& reg = backend::cpu_backend().kernels();
  uint32_t seed = 700;
  const auto specs = conv_specs();
  for (size_t si : {size_t{0}, size_t{1}, size_t{3}, size_t{6}, size_t{7}, size_t{14}}) {
    const ConvSpec& spec = specs[si];
    OpCase plain = conv_case(spec, seed += 5);
    plain.op = "FusedConv";
    set_act(plain, {"Relu"});
    const Tensor y0 = run_on(reference_kernels(), OpCase{"Conv", plain.inputs, spec.attrs})[0];
    plain.inputs.push_back(random(y0.shape(), seed + 1));
    const Tensor want = run_on(reference_kernels(), plain)[0];
    OpCase nhwc = plain;
    nhwc.inputs[0] = to_nhwc(plain.inputs[0]);
    nhwc.inputs[3] = to_nhwc(plain.inputs[3]);
    nhwc.attrs["kiln_in_layouts"] = ais({1, 0, 0, 1});
    nhwc.attrs["kiln_out_layout"] = ai(1);
    for (const char* cand : {"onednn", "reference", "onednn_subsample"}) {
      if (std::string(cand) == "onednn_subsample" && si != 7 && si != 14) continue;  // strided 1x1 only
      const Tensor got = to_nhwc(run_with(*reg.find("FusedConv", cand), nhwc)[0], true);
      expect_close(got, want, 1e-4, std::string("channels-last FusedConv on ") + cand + " x" + shape_str(spec.x));
    }
  }
  // A squeeze-excite Mul: channels-last X times a per-channel scale.
  OpCase mul{"Mul", {random({2, 24, 5, 5}, 11), random({2, 24, 1, 1}, 12)}};
  mul.const_weights = false;
  const Tensor mul_want = run_on(reference_kernels(), mul)[0];
  mul.inputs[0] = to_nhwc(mul.inputs[0]);
  mul.attrs["kiln_in_layouts"] = ais({1, 0});
  mul.attrs["kiln_out_layout"] = ai(1);
  for (const char* cand : {"onednn", "reference"})
    expect_close(to_nhwc(run_with(*reg.find("Mul", cand), mul)[0], true), mul_want, 1e-6,
                 std::string("channels-last Mul on ") + cand);
  OpCase pool{"MaxPool", {random({2, 16, 9, 9}, 3)}, {{"kernel_shape", ais({3, 3})}, {"strides", ais({2, 2})}, {"pads", ais({1, 1, 1, 1})}}};
  const Tensor want = run_on(reference_kernels(), pool)[0];
  pool.inputs[0] = to_nhwc(pool.inputs[0]);
  pool.attrs["kiln_in_layouts"] = ais({1});
  pool.attrs["kiln_out_layout"] = ai(1);
  for (const char* cand : {"onednn", "reference"})
    expect_close(to_nhwc(run_with(*reg.find("MaxPool", cand), pool)[0], true), want, 1e-6,
                 std::string("channels-last MaxPool on ") + cand);
}

}  // namespace
}  // namespace kiln::test

namespace kiln::test {
namespace {

using namespace dnnl_util;

// FusedConvDw (1x1 then depthwise 3x3 in one primitive, or split into two
// oneDNN convolutions) against its reference (two FusedConv stages), over
// sizes where stride 2 meets odd and tiny images, with and without biases, in
// both layouts. The 160x160 case caught oneDNN 2.6's fused kernel computing
// garbage on channels-last tensors.
TEST(DnnlConvDw, MatchesReference) {
  struct S { Shape x; int64_t m, stride; const char* act; const char* dw_act; bool biases; };
  const std::vector<S> cases = {
      {{1, 16, 9, 9}, 32, 1, "Relu", "Relu", true},     {{2, 24, 10, 10}, 48, 2, "HardSwish", "HardSwish", true},
      {{1, 8, 5, 5}, 16, 2, "Clip", "Clip", true},       {{1, 8, 3, 3}, 16, 2, "Relu", "", true},
      {{1, 8, 2, 2}, 16, 2, "", "Relu", false},          {{1, 8, 1, 1}, 16, 2, "Relu", "Relu", true},
      {{1, 16, 7, 6}, 32, 1, "HardSwish", "", false},
      // SSDLite's extra blocks and MobileNet-sized expansions
      {{1, 960, 10, 10}, 256, 2, "Clip", "Clip", true}, {{1, 512, 5, 5}, 128, 2, "Clip", "Clip", true},
      {{1, 256, 3, 3}, 128, 2, "Clip", "Clip", true},   {{1, 256, 2, 2}, 64, 2, "Clip", "Clip", true},
      {{1, 24, 40, 40}, 72, 1, "Relu", "Relu", true},   {{1, 80, 20, 20}, 240, 1, "HardSwish", "HardSwish", true},
      {{1, 16, 160, 160}, 64, 2, "Relu", "Relu", true},
  };
  const auto& reg = backend::cpu_backend().kernels();
  uint32_t seed = 1200;
  for (const S& s : cases) {
    OpCase c{"FusedConvDw",
             {random(s.x, ++seed), random({s.m, s.x[1], 1, 1}, ++seed, -0.5f, 0.5f),
              s.biases ? random({s.m}, ++seed) : Tensor(), random({s.m, 1, 3, 3}, ++seed, -0.5f, 0.5f),
              s.biases ? random({s.m}, ++seed) : Tensor()}};
    c.domain = "com.kiln";
    c.attrs["activation"] = as(s.act);
    c.attrs["dw_activation"] = as(s.dw_act);
    if (std::string(s.act) == "Clip") { c.attrs["activation_alpha"] = af(0); c.attrs["activation_beta"] = af(6); }
    if (std::string(s.dw_act) == "Clip") { c.attrs["dw_activation_alpha"] = af(0); c.attrs["dw_activation_beta"] = af(6); }
    c.attrs["dw_strides"] = ais({s.stride, s.stride});
    const std::string what = "FusedConvDw x" + shape_str(s.x) + " m" + std::to_string(s.m) + " s" + std::to_string(s.stride);
    const Tensor want = run_with(*reg.find("FusedConvDw", "reference"), c)[0];
    for (const char* cand : {"onednn", "onednn_split"})  // plain
      expect_close(run_with(*reg.find("FusedConvDw", cand), c)[0], want, 1e-4, what + " on " + cand);
    OpCase nhwc = c;
    nhwc.inputs[0] = to_nhwc(c.inputs[0]);
    nhwc.attrs["kiln_in_layouts"] = ais({1, 0, 0, 0, 0});
    nhwc.attrs["kiln_out_layout"] = ai(1);
    const uint64_t before_nhwc = backend::onednn::primitive_runs();
    expect_close(to_nhwc(run_with(*reg.find("FusedConvDw", "onednn"), nhwc)[0], true), want, 1e-4,
                 what + " channels last on onednn");
    EXPECT_GT(backend::onednn::primitive_runs(), before_nhwc) << what << ": oneDNN did not run it channels last";
    for (const char* cand : {"reference", "onednn_split"})
      expect_close(to_nhwc(run_with(*reg.find("FusedConvDw", cand), nhwc)[0], true), want, 1e-4,
                   what + " channels last on " + cand);
  }
}

}  // namespace
}  // namespace kiln::test
