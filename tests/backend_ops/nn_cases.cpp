// Consistency cases of the CUDA nn family's library-backed core (see
// backend_ops.h): Conv / FusedConv / FusedConvDw / FusedConvPool / FusedConvPair / ConvTranspose (cuDNN),
// Gemm / MatMul / FusedGemm / FusedMatMul (cuBLASLt), Attention and Einsum.
// fp32 products accumulate in another order than the CPU's: 1e-4 relative;
// f16/bf16 1e-2; f64 1e-9.
#include "backend_ops.h"

namespace kiln::test::ops {

namespace {

using Attrs = std::map<std::string, ir::Attribute>;
constexpr DataType F32 = DataType::Float32, F64 = DataType::Float64, F16 = DataType::Float16,
                   BF16 = DataType::BFloat16;

double tol_of(DataType dt) { return dt == F64 ? 1e-9 : dt == F32 ? 1e-4 : 1e-2; }
std::string dn(DataType dt) {
  return dt == F32 ? "f32" : dt == F64 ? "f64" : dt == F16 ? "f16" : dt == BF16 ? "bf16" : std::string(dtype_name(dt));
}

struct Act {
  const char* name;
  float alpha = 0, beta = 0;
};
const std::vector<Act>& activations() {
  static const std::vector<Act> k = {{"Relu"},         {"LeakyRelu", 0.1f},         {"Clip", 0.f, 6.f},
                                     {"HardSwish"},    {"HardSigmoid", 0.2f, 0.5f}, {"Sigmoid"},
                                     {"Tanh"},         {"Elu", 0.7f},               {"Clip", -0.5f, 0.25f},
                                     {"Gelu", 0.f},    {"Gelu", 1.f}};  // Gelu: erf, tanh
  return k;
}
void set_act(Attrs& a, const Act& act, const std::string& prefix = "") {
  a[prefix + "activation"] = a_str(act.name);
  a[prefix + "activation_alpha"] = a_float(act.alpha);
  a[prefix + "activation_beta"] = a_float(act.beta);
}

class Cases {
 public:
  std::vector<OpCase> list;
  uint32_t seed = 5000;

  Tensor r(Shape s, DataType dt = F32, float lo = -1.f, float hi = 1.f) { return rand_float(dt, std::move(s), ++seed, lo, hi); }

  OpCase& add(std::string name, std::string op, std::vector<Tensor> in, Attrs attrs = {}, DataType dt = F32) {
    OpCase c;
    c.name = std::move(name);
    c.op = std::move(op);
    c.inputs = std::move(in);
    c.attrs = std::move(attrs);
    c.tol = tol_of(dt);
    if (c.op.rfind("Fused", 0) == 0) c.domain = "com.kiln";
    list.push_back(std::move(c));
    return list.back();
  }
};

void conv_cases(Cases& c) {
  struct Spec {
    const char* what;
    Shape x, w;
    Attrs attrs;
    bool bias;
  };
  const std::vector<Spec> specs = {
      {"pads 1", {2, 8, 17, 19}, {16, 8, 3, 3}, {{"pads", a_ints({1, 1, 1, 1})}}, true},
      {"strides 2 no bias", {2, 8, 17, 19}, {16, 8, 3, 3}, {{"strides", a_ints({2, 2})}, {"pads", a_ints({1, 1, 1, 1})}}, false},
      {"dilations 2", {2, 8, 17, 19}, {16, 8, 3, 3}, {{"dilations", a_ints({2, 2})}, {"pads", a_ints({2, 2, 2, 2})}}, true},
      {"group 2", {2, 8, 17, 19}, {16, 4, 3, 3}, {{"group", a_int(2)}, {"pads", a_ints({1, 1, 1, 1})}}, true},
      {"depthwise", {2, 8, 17, 19}, {8, 1, 3, 3}, {{"group", a_int(8)}, {"pads", a_ints({1, 1, 1, 1})}}, true},
      {"depthwise x2 stride 2", {1, 6, 15, 16}, {12, 1, 5, 5}, {{"group", a_int(6)}, {"strides", a_ints({2, 2})}, {"pads", a_ints({2, 2, 2, 2})}}, true},
      {"asymmetric pads 3x2", {2, 8, 17, 19}, {16, 8, 3, 2}, {{"pads", a_ints({0, 1, 2, 0})}}, true},
      {"SAME_UPPER stride 2", {2, 8, 17, 19}, {16, 8, 3, 3}, {{"auto_pad", a_str("SAME_UPPER")}, {"strides", a_ints({2, 2})}}, true},
      {"SAME_LOWER 4x4", {2, 8, 17, 19}, {16, 8, 4, 4}, {{"auto_pad", a_str("SAME_LOWER")}}, false},
      {"VALID 5x5", {2, 8, 17, 19}, {16, 8, 5, 5}, {{"auto_pad", a_str("VALID")}}, true},
      {"1x1 odd channels", {1, 3, 11, 13}, {5, 3, 1, 1}, {}, true},
      {"7x7 stride 2 odd channels", {1, 3, 23, 21}, {7, 3, 7, 7}, {{"strides", a_ints({2, 2})}, {"pads", a_ints({3, 3, 3, 3})}}, true},
      {"1-D", {2, 5, 33}, {7, 5, 3}, {{"pads", a_ints({1, 2})}, {"strides", a_ints({2})}}, true},
      {"1-D dilated group", {2, 6, 40}, {9, 2, 4}, {{"group", a_int(3)}, {"dilations", a_ints({3})}}, false},
      {"3-D", {1, 3, 7, 8, 9}, {4, 3, 3, 3, 3}, {{"pads", a_ints({1, 1, 1, 1, 1, 1})}}, true},
      {"3-D strided asymmetric", {2, 4, 6, 7, 5}, {6, 2, 2, 3, 3}, {{"group", a_int(2)}, {"strides", a_ints({2, 1, 2})}, {"pads", a_ints({0, 1, 1, 1, 0, 2})}}, true},
      {"32->64 28x28", {1, 32, 28, 28}, {64, 32, 3, 3}, {{"pads", a_ints({1, 1, 1, 1})}}, true},
  };
  for (const Spec& s : specs) {
    std::vector<Tensor> in = {c.r(s.x), c.r(s.w, F32, -0.5f, 0.5f)};
    if (s.bias) in.push_back(c.r({s.w[0]}));
    c.add(std::string("Conv f32 ") + s.what + " " + shape_str(s.x) + "*" + shape_str(s.w), "Conv", in, s.attrs);
  }
  for (DataType dt : {F16, BF16})
    c.add("Conv " + dn(dt) + " pads 1 [2,8,17,19]*[16,8,3,3]", "Conv",
          {c.r({2, 8, 17, 19}, dt), c.r({16, 8, 3, 3}, dt, -0.5f, 0.5f), c.r({16}, dt)},
          {{"pads", a_ints({1, 1, 1, 1})}}, dt);

  // 16-bit convolutions over few channels, which direct_mma (conv_direct.h)
  // and the rewrites of cudnn_conv_reform.h take (cudnn_s2d: stride 2 over
  // 1-4 channels; cudnn_c8: 1-7): odd and even begin pads (the space-to-depth
  // shift), asymmetric and automatic pads, odd sizes, 1-5 channels, rows of
  // more than one 128-position tile, output channels not a multiple of 8.
  struct Few {
    const char* what;
    Shape x, w;
    Attrs attrs;
  };
  const std::vector<Few> few = {
      {"7x7 stride 2 pads 3", {2, 3, 23, 21}, {64, 3, 7, 7}, {{"strides", a_ints({2, 2})}, {"pads", a_ints({3, 3, 3, 3})}}},
      {"3x3 stride 2 wide rows", {1, 3, 9, 300}, {8, 3, 3, 3}, {{"strides", a_ints({2, 2})}, {"pads", a_ints({1, 1, 1, 1})}}},
      {"3x3 stride 1 wide rows", {1, 2, 5, 260}, {12, 2, 3, 3}, {{"pads", a_ints({1, 1, 1, 1})}}},
      {"3x3 stride 2 pads 1", {1, 2, 12, 13}, {8, 2, 3, 3}, {{"strides", a_ints({2, 2})}, {"pads", a_ints({1, 1, 1, 1})}}},
      {"4x4 stride 2 asymmetric pads", {1, 4, 10, 9}, {8, 4, 4, 4}, {{"strides", a_ints({2, 2})}, {"pads", a_ints({0, 1, 2, 0})}}},
      {"1x1 stride 2", {1, 1, 9, 9}, {4, 1, 1, 1}, {{"strides", a_ints({2, 2})}}},
      {"5x5 stride 2 SAME_UPPER", {2, 3, 15, 16}, {8, 3, 5, 5}, {{"strides", a_ints({2, 2})}, {"auto_pad", a_str("SAME_UPPER")}}},
      {"3x3 stride 1 pads 1", {1, 5, 9, 10}, {8, 5, 3, 3}, {{"pads", a_ints({1, 1, 1, 1})}}},
  };
  for (DataType dt : {F16, BF16})
    for (const Few& f : few)
      c.add("Conv " + dn(dt) + " few channels " + f.what + " " + shape_str(f.x) + "*" + shape_str(f.w), "Conv",
            {c.r(f.x, dt), c.r(f.w, dt, -0.5f, 0.5f), c.r({f.w[0]}, dt)}, f.attrs, dt);
  Attrs stem = {{"strides", a_ints({2, 2})}, {"pads", a_ints({3, 3, 3, 3})}};
  set_act(stem, {"Relu"});
  c.add("FusedConv f16 Relu few channels 7x7 stride 2 +Z", "FusedConv",
        {c.r({2, 3, 20, 20}, F16), c.r({16, 3, 7, 7}, F16, -0.5f, 0.5f), c.r({16}, F16), c.r({2, 16, 10, 10}, F16)},
        stem, F16);

  // FusedConvPool (direct_mma pooling as it computes): a ResNet stem's
  // 7x7/2 convolution and 3x3/2 MaxPool, conv rows up to one 128-wide tile,
  // Relu or none, no bias, output channels not a multiple of 8, 2x2 and
  // asymmetric pools, and enough images for bands of several pooled rows.
  struct Pooled {
    const char* what;
    Shape x, w;
    std::vector<int64_t> pk, ps, pp;
    const char* act;
    bool bias;
  };
  const std::vector<Pooled> pooled = {
      {"stem", {2, 3, 30, 26}, {64, 3, 7, 7}, {3, 3}, {2, 2}, {1, 1, 1, 1}, "Relu", true},
      {"stem wide", {1, 3, 21, 256}, {16, 3, 7, 7}, {3, 3}, {2, 2}, {1, 1, 1, 1}, "Relu", true},
      {"stem m12 no bias", {3, 3, 17, 19}, {12, 3, 7, 7}, {3, 3}, {2, 2}, {1, 1, 1, 1}, "", false},
      {"2x2 pool", {2, 2, 16, 18}, {8, 2, 7, 7}, {2, 2}, {2, 2}, {0, 0, 0, 0}, "Relu", true},
      {"asymmetric pool", {2, 3, 19, 15}, {24, 3, 7, 7}, {3, 2}, {2, 2}, {0, 1, 1, 0}, "", true},
      {"many images", {40, 3, 24, 24}, {32, 3, 7, 7}, {3, 3}, {2, 2}, {1, 1, 1, 1}, "Relu", true},
  };
  for (DataType dt : {F16, BF16})
    for (const Pooled& p : pooled) {
      Attrs at = {{"strides", a_ints({2, 2})}, {"pads", a_ints({3, 3, 3, 3})}, {"pool_kernel_shape", a_ints(p.pk)},
                  {"pool_strides", a_ints(p.ps)}, {"pool_pads", a_ints(p.pp)}};
      set_act(at, {p.act});
      std::vector<Tensor> in = {c.r(p.x, dt), c.r(p.w, dt, -0.5f, 0.5f)};
      if (p.bias) in.push_back(c.r({p.w[0]}, dt));
      c.add("FusedConvPool " + dn(dt) + " " + p.what + " " + shape_str(p.x) + "*" + shape_str(p.w), "FusedConvPool",
            in, at, dt);
    }

  // FusedConvPair (two 1x1 convolutions summed; mma_pair, conv_pair.h, and
  // the cuDNN stages): plain layouts (cuDNN alone), and channels last as
  // passes/assign_cuda_layouts.cpp marks it, which mma_pair must take: a
  // ResNet block's shapes over partial tiles, a stride-2 shortcut with no
  // biases, K and output channels that leave partial chunks and tiles, and
  // 64 and 128 output channels over a stride-2 shortcut.
  struct Pair {
    const char* what;
    Shape x, w, x2, w2;
    int64_t z_stride;
    bool b, b2;
    const char* act;
  };
  const std::vector<Pair> pairs = {
      {"block", {2, 64, 9, 11}, {256, 64, 1, 1}, {2, 64, 9, 11}, {256, 64, 1, 1}, 1, true, true, "Relu"},
      {"stride-2 shortcut", {3, 32, 7, 5}, {40, 32, 1, 1}, {3, 48, 13, 10}, {40, 48, 1, 1}, 2, false, false, ""},
      {"partial chunks", {2, 24, 6, 7}, {136, 24, 1, 1}, {2, 72, 6, 7}, {136, 72, 1, 1}, 1, true, false, "Relu"},
      {"m128 stride 2", {5, 32, 6, 7}, {128, 32, 1, 1}, {5, 96, 11, 14}, {128, 96, 1, 1}, 2, false, true, "Relu"},
      {"m64 k48", {3, 16, 10, 9}, {64, 16, 1, 1}, {3, 32, 10, 9}, {64, 32, 1, 1}, 1, true, true, ""},
  };
  for (const bool nhwc : {false, true})
    for (DataType dt : {F16, BF16})
      for (const Pair& p : pairs) {
        Attrs at = {{"z_strides", a_ints({p.z_stride, p.z_stride})}};
        set_act(at, {p.act});
        if (nhwc) {
          at["kiln_in_layouts"] = a_ints({1, 0, 0, 1, 0, 0});
          at["kiln_out_layout"] = a_int(1);
          at["kiln_w_layout"] = a_int(1);  // 1x1: K,R,S,C = K,C,R,S
        }
        std::vector<Tensor> in = {c.r(p.x, dt), c.r(p.w, dt, -0.5f, 0.5f), p.b ? c.r({p.w[0]}, dt) : Tensor(),
                                  c.r(p.x2, dt), c.r(p.w2, dt, -0.5f, 0.5f)};
        if (p.b2) in.push_back(c.r({p.w[0]}, dt));
        OpCase& oc = c.add(std::string("FusedConvPair ") + (nhwc ? "NHWC " : "") + dn(dt) + " " + p.what + " " +
                               shape_str(p.x) + "*" + shape_str(p.w) + " + " + shape_str(p.x2) + "*" + shape_str(p.w2),
                           "FusedConvPair", in, at, dt);
        if (nhwc) oc.takes = {"mma_pair"};
        // The reference rounds the shortcut's output to bf16 before adding it
        // (as the unfused graph does); the kernels add it unrounded.
        if (dt == BF16) oc.tol = 4e-2;
      }
  c.add("FusedConvPair f32 block [2,16,5,6]*[24,16,1,1] + [2,8,10,12]*[24,8,1,1] stride 2", "FusedConvPair",
        {c.r({2, 16, 5, 6}), c.r({24, 16, 1, 1}, F32, -0.5f, 0.5f), c.r({24}), c.r({2, 8, 10, 12}),
         c.r({24, 8, 1, 1}, F32, -0.5f, 0.5f), c.r({24})},
        {{"z_strides", a_ints({2, 2})}, {"activation", a_str("Relu")}});

  // FusedConvPool over a float32 X (lowering's input Cast absorbed): X is
  // rounded to W's dtype as it is read.
  for (DataType dt : {F16, BF16}) {
    Attrs at = {{"strides", a_ints({2, 2})}, {"pads", a_ints({3, 3, 3, 3})}, {"pool_kernel_shape", a_ints({3, 3})},
                {"pool_strides", a_ints({2, 2})}, {"pool_pads", a_ints({1, 1, 1, 1})}};
    set_act(at, {"Relu"});
    c.add("FusedConvPool f32 X " + dn(dt) + " W stem [2,3,30,26]*[64,3,7,7]", "FusedConvPool",
          {c.r({2, 3, 30, 26}, F32), c.r({64, 3, 7, 7}, dt, -0.5f, 0.5f), c.r({64}, dt)}, at, dt);
  }

  // stem_mma's form (conv_stem.h), as passes/assign_cuda_layouts.cpp marks a
  // stem over the graph's image (X NCHW, Y channels last): two and four
  // warps across a row (56 pooled columns), W K,R,S,C, 32 channels with
  // odd conv rows, end pads 0, no bias and no Relu, a 16-bit X, and bands
  // of a short last unit, whose successor's input is loaded partly after
  // its rows (150 images: more units than an H100's blocks).
  struct Stem {
    const char* what;
    Shape x;
    int64_t m;
    bool x_f32, krsc, bias, relu;
    std::vector<int64_t> pool_pads;
  };
  const std::vector<Stem> stems = {
      {"two warps", {2, 3, 64, 64}, 64, true, false, true, true, {1, 1, 1, 1}},
      {"224 wide W krsc", {1, 3, 224, 224}, 64, true, true, true, true, {1, 1, 1, 1}},
      {"m32 odd rows end pads 0", {3, 3, 45, 36}, 32, false, false, false, false, {1, 1, 0, 0}},
      {"short last bands", {150, 3, 36, 224}, 64, true, false, true, true, {1, 1, 1, 1}},
  };
  for (DataType dt : {F16, BF16})
    for (const Stem& st : stems) {
      Attrs at = {{"strides", a_ints({2, 2})}, {"pads", a_ints({3, 3, 3, 3})}, {"pool_kernel_shape", a_ints({3, 3})},
                  {"pool_strides", a_ints({2, 2})}, {"pool_pads", a_ints(st.pool_pads)},
                  {"kiln_in_layouts", a_ints({0, 0, 0})}, {"kiln_out_layout", a_int(1)},
                  {"kiln_w_layout", a_int(st.krsc ? 1 : 0)}};
      set_act(at, {st.relu ? "Relu" : ""});
      std::vector<Tensor> in = {c.r(st.x, st.x_f32 ? F32 : dt), c.r({st.m, 3, 7, 7}, dt, -0.5f, 0.5f)};
      if (st.bias) in.push_back(c.r({st.m}, dt));
      OpCase& oc = c.add("FusedConvPool stem_mma " + dn(dt) + " " + st.what + " " + shape_str(st.x) + "*" +
                             shape_str({st.m, 3, 7, 7}) + (st.x_f32 ? " f32 X" : ""),
                         "FusedConvPool", in, at, dt);
      oc.takes = {"stem_mma"};
    }

  // FusedConv: Z and each activation; Y = act(Conv + B + Z).
  const Attrs geo = {{"pads", a_ints({1, 1, 1, 1})}, {"strides", a_ints({1, 1})}};
  for (const Act& a : activations()) {
    Attrs at = geo;
    set_act(at, a);
    c.add(std::string("FusedConv ") + a.name + " " + std::to_string(a.alpha) + "," + std::to_string(a.beta) + " +Z",
          "FusedConv", {c.r({2, 8, 17, 19}), c.r({16, 8, 3, 3}, F32, -0.5f, 0.5f), c.r({16}), c.r({2, 16, 17, 19}, F32, -2.f, 2.f)}, at);
  }
  Attrs relu = geo;
  set_act(relu, {"Relu"});
  c.add("FusedConv Relu no Z", "FusedConv", {c.r({2, 8, 17, 19}), c.r({16, 8, 3, 3}, F32, -0.5f, 0.5f), c.r({16})}, relu);
  c.add("FusedConv Relu +Z no bias", "FusedConv",
        {c.r({2, 8, 17, 19}), c.r({16, 8, 3, 3}, F32, -0.5f, 0.5f), Tensor(), c.r({2, 16, 17, 19})}, relu);
  Attrs none = {{"group", a_int(4)}, {"strides", a_ints({2, 2})}};
  set_act(none, {""});
  c.add("FusedConv no activation group 4 stride 2 +Z", "FusedConv",
        {c.r({1, 8, 9, 10}), c.r({8, 2, 3, 3}, F32, -0.5f, 0.5f), c.r({8}), c.r({1, 8, 4, 4})}, none);

  // FusedConvDw: 1x1 expansion, then depthwise 3x3 (pads 1, dw_strides).
  for (int64_t stride : {1, 2}) {
    Attrs at = {{"dw_strides", a_ints({stride, stride})}};
    set_act(at, {"Relu"});
    set_act(at, {"Clip", 0.f, 6.f}, "dw_");
    c.add("FusedConvDw stride " + std::to_string(stride) + " [1,8,10,11] m16", "FusedConvDw",
          {c.r({1, 8, 10, 11}), c.r({16, 8, 1, 1}, F32, -0.5f, 0.5f), c.r({16}), c.r({16, 1, 3, 3}, F32, -0.5f, 0.5f), c.r({16})}, at);
  }
  Attrs dw_plain = {{"dw_strides", a_ints({2, 2})}};
  set_act(dw_plain, {"HardSwish"});
  set_act(dw_plain, {""}, "dw_");
  c.add("FusedConvDw no biases [2,4,7,6] m12", "FusedConvDw",
        {c.r({2, 4, 7, 6}), c.r({12, 4, 1, 1}, F32, -0.5f, 0.5f), Tensor(), c.r({12, 1, 3, 3}, F32, -0.5f, 0.5f), Tensor()}, dw_plain);
}

void conv_transpose_cases(Cases& c) {
  struct Spec {
    const char* what;
    Shape x, w;
    Attrs attrs;
    bool bias;
  };
  const std::vector<Spec> specs = {
      {"stride 2 pads 1 output_padding 1", {2, 8, 7, 9}, {8, 4, 3, 3}, {{"strides", a_ints({2, 2})}, {"pads", a_ints({1, 1, 1, 1})}, {"output_padding", a_ints({1, 1})}}, true},
      {"group 2 stride 2", {2, 8, 7, 9}, {8, 3, 3, 3}, {{"group", a_int(2)}, {"strides", a_ints({2, 2})}}, true},
      {"depthwise stride 2", {1, 6, 5, 5}, {6, 1, 4, 4}, {{"group", a_int(6)}, {"strides", a_ints({2, 2})}, {"pads", a_ints({1, 1, 1, 1})}}, false},
      {"no stride asymmetric pads", {1, 5, 9, 8}, {5, 3, 3, 2}, {{"pads", a_ints({1, 0, 0, 1})}}, true},
      {"dilations 2", {1, 4, 6, 7}, {4, 5, 3, 3}, {{"dilations", a_ints({2, 2})}, {"strides", a_ints({2, 1})}}, true},
      {"output_shape", {2, 8, 7, 9}, {8, 4, 3, 3}, {{"strides", a_ints({2, 2})}, {"output_shape", a_ints({15, 18})}}, true},
      {"output_shape past natural", {1, 2, 4, 4}, {2, 3, 3, 3}, {{"strides", a_ints({2, 2})}, {"output_shape", a_ints({12, 11})}}, true},
      {"output_padding 2 of stride 3", {1, 3, 5, 4}, {3, 2, 2, 2}, {{"strides", a_ints({3, 3})}, {"output_padding", a_ints({2, 1})}}, true},
      {"SAME_UPPER stride 2", {1, 4, 5, 6}, {4, 3, 3, 3}, {{"auto_pad", a_str("SAME_UPPER")}, {"strides", a_ints({2, 2})}}, true},
      {"SAME_LOWER stride 2", {1, 4, 5, 6}, {4, 3, 4, 4}, {{"auto_pad", a_str("SAME_LOWER")}, {"strides", a_ints({2, 2})}}, false},
      {"1-D dilated", {1, 3, 10}, {3, 2, 3}, {{"dilations", a_ints({2})}, {"strides", a_ints({3})}, {"output_padding", a_ints({2})}}, true},
      {"3-D stride 2", {1, 2, 3, 4, 5}, {2, 2, 2, 2, 2}, {{"strides", a_ints({2, 2, 2})}}, true},
  };
  for (const Spec& s : specs) {
    std::vector<Tensor> in = {c.r(s.x), c.r(s.w, F32, -0.5f, 0.5f)};
    if (s.bias) in.push_back(c.r({s.w[1] * (s.attrs.count("group") ? s.attrs.at("group").i : 1)}));
    c.add(std::string("ConvTranspose f32 ") + s.what + " " + shape_str(s.x) + "*" + shape_str(s.w), "ConvTranspose", in,
          s.attrs);
  }
  c.add("ConvTranspose f16 stride 2 [1,8,7,9]*[8,4,3,3]", "ConvTranspose",
        {c.r({1, 8, 7, 9}, F16), c.r({8, 4, 3, 3}, F16, -0.5f, 0.5f), c.r({4}, F16)}, {{"strides", a_ints({2, 2})}}, F16);
}

void gemm_cases(Cases& c) {
  const int64_t m = 13, k = 33, n = 17;
  for (int ta : {0, 1})
    for (int tb : {0, 1}) {
      const Attrs at = {{"transA", a_int(ta)}, {"transB", a_int(tb)}, {"alpha", a_float(0.7f)}};
      c.add("Gemm f32 transA " + std::to_string(ta) + " transB " + std::to_string(tb) + " C [N]", "Gemm",
            {c.r(ta ? Shape{k, m} : Shape{m, k}), c.r(tb ? Shape{n, k} : Shape{k, n}), c.r({n})}, at);
    }
  const std::vector<Shape> c_shapes = {{}, {1}, {n}, {1, n}, {m, 1}, {m, n}, {1, 1}};
  for (const Shape& cs : c_shapes)
    for (float beta : {1.f, 0.5f})
      c.add("Gemm f32 C " + shape_str(cs) + " beta " + std::to_string(beta), "Gemm", {c.r({m, k}), c.r({k, n}), c.r(cs)},
            {{"beta", a_float(beta)}, {"alpha", a_float(1.5f)}});
  c.add("Gemm f32 no C", "Gemm", {c.r({m, k}), c.r({n, k})}, {{"transB", a_int(1)}});
  c.add("Gemm f32 K = 0 with C", "Gemm", {c.r({3, 0}), c.r({0, 4}), c.r({4})}, {{"beta", a_float(2.f)}});
  c.add("Gemm f32 GEMV [1,64]*[64,1000]", "Gemm", {c.r({1, 64}), c.r({64, 1000}), c.r({1000})});
  for (DataType dt : {F16, BF16, F64})
    c.add("Gemm " + dn(dt) + " transB C [M,N]", "Gemm", {c.r({m, k}, dt), c.r({n, k}, dt), c.r({m, n}, dt)},
          {{"transB", a_int(1)}, {"beta", a_float(0.5f)}}, dt);
  c.add("Gemm f16 C [N]", "Gemm", {c.r({m, k}, F16), c.r({k, n}, F16), c.r({n}, F16)}, {}, F16);

  for (const Act& a : activations()) {
    Attrs at = {{"transB", a_int(1)}};
    set_act(at, a);
    c.add(std::string("FusedGemm ") + a.name + " " + std::to_string(a.alpha) + " C [N]", "FusedGemm",
          {c.r({m, k}), c.r({n, k}), c.r({n})}, at);
  }
  Attrs relu;
  set_act(relu, {"Relu"});
  c.add("FusedGemm Relu C [M,N] beta 0.5", "FusedGemm", {c.r({m, k}), c.r({k, n}), c.r({m, n})},
        [&] { Attrs a = relu; a["beta"] = a_float(0.5f); return a; }());
  c.add("FusedGemm Relu no C", "FusedGemm", {c.r({m, k}), c.r({k, n})}, relu);
  Attrs tanh_act;
  set_act(tanh_act, {"Tanh"});
  c.add("FusedGemm Tanh C [M,1]", "FusedGemm", {c.r({m, k}), c.r({k, n}), c.r({m, 1})}, tanh_act);
}

void matmul_cases(Cases& c) {
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{13, 33}, {33, 17}},       {{33}, {33, 17}},          {{13, 33}, {33}},          {{33}, {33}},
      {{2, 3, 13, 33}, {2, 3, 33, 17}}, {{2, 3, 13, 33}, {33, 17}}, {{13, 33}, {2, 3, 33, 17}},
      {{2, 1, 13, 33}, {1, 3, 33, 17}}, {{4, 1, 5, 8}, {3, 8, 6}},  {{33}, {2, 33, 17}},
      {{2, 13, 33}, {33}},        {{1, 1000}, {1000, 3}},    {{3, 1, 7, 5}, {3, 4, 5, 2}},
  };
  for (const auto& [a, b] : shapes)
    c.add("MatMul f32 " + shape_str(a) + "*" + shape_str(b), "MatMul", {c.r(a), c.r(b)});
  for (DataType dt : {F16, BF16, F64})
    c.add("MatMul " + dn(dt) + " [2,13,33]*[2,33,17]", "MatMul", {c.r({2, 13, 33}, dt), c.r({2, 33, 17}, dt)}, {}, dt);
  c.add("MatMul f16 [2,13,33]*[33,17]", "MatMul", {c.r({2, 13, 33}, F16), c.r({33, 17}, F16)}, {}, F16);

  for (const Act& a : activations()) {
    Attrs at;
    set_act(at, a);
    c.add(std::string("FusedMatMul ") + a.name + " " + std::to_string(a.alpha) + "," + std::to_string(a.beta) +
              " bias [2,13,33]*[33,17]",
          "FusedMatMul", {c.r({2, 13, 33}), c.r({33, 17}), c.r({17})}, at);
  }
  Attrs relu, swish;
  set_act(relu, {"Relu"});
  set_act(swish, {"HardSwish"});
  c.add("FusedMatMul Relu bias batched both [2,3,5,8]*[2,3,8,6]", "FusedMatMul",
        {c.r({2, 3, 5, 8}), c.r({2, 3, 8, 6}), c.r({6})}, relu);
  c.add("FusedMatMul HardSwish no bias", "FusedMatMul", {c.r({7, 9}), c.r({9, 4})}, swish);
  c.add("FusedMatMul Relu bias B 1-D", "FusedMatMul", {c.r({2, 5, 8}), c.r({8}), c.r({5})}, relu);
  c.add("FusedMatMul Relu bias broadcast A [5,8]*[3,8,6]", "FusedMatMul", {c.r({5, 8}), c.r({3, 8, 6}), c.r({6})}, relu);
  // 16-bit GELU: cuBLASLt's epilogue (tanh form) stands for the erf form too.
  for (DataType dt : {F16, BF16})
    for (float form : {0.f, 1.f}) {
      Attrs gelu;
      set_act(gelu, {"Gelu", form});
      c.add("FusedMatMul Gelu " + std::string(form != 0.f ? "tanh " : "erf ") + dn(dt) + " bias [2,13,64]*[64,48]",
            "FusedMatMul", {c.r({2, 13, 64}, dt, -2.f, 2.f), c.r({64, 48}, dt, -0.3f, 0.3f), c.r({48}, dt)}, gelu, dt);
    }
}

void attention_cases(Cases& c) {
  const auto att = [&](std::string name, std::vector<Tensor> in, Attrs at, int outputs = 1, int64_t opset = 23,
                       DataType dt = F32) {
    OpCase& k = c.add("Attention " + name, "Attention", std::move(in), std::move(at), dt);
    k.num_outputs = outputs;
    k.opset = opset;
  };
  att("4-D", {c.r({2, 4, 5, 8}), c.r({2, 4, 6, 8}), c.r({2, 4, 6, 8})}, {});
  att("3-D heads 4", {c.r({2, 5, 32}), c.r({2, 6, 32}), c.r({2, 6, 32})},
      {{"q_num_heads", a_int(4)}, {"kv_num_heads", a_int(4)}});
  att("GQA 8/2 v head 12", {c.r({1, 8, 5, 16}), c.r({1, 2, 7, 16}), c.r({1, 2, 7, 12})}, {});
  att("3-D GQA 6/3", {c.r({2, 4, 48}), c.r({2, 5, 24}), c.r({2, 5, 15})}, {{"q_num_heads", a_int(6)}, {"kv_num_heads", a_int(3)}});
  att("causal", {c.r({2, 3, 6, 8}), c.r({2, 3, 6, 8}), c.r({2, 3, 6, 8})}, {{"is_causal", a_int(1)}});
  att("causal q shorter", {c.r({1, 2, 3, 8}), c.r({1, 2, 6, 8}), c.r({1, 2, 6, 8})}, {{"is_causal", a_int(1)}});
  att("bool mask [5,6]", {c.r({2, 4, 5, 8}), c.r({2, 4, 6, 8}), c.r({2, 4, 6, 8}), rand_int(DataType::Bool, {5, 6}, ++c.seed, 0, 1)}, {});
  att("float mask [2,1,5,6]", {c.r({2, 4, 5, 8}), c.r({2, 4, 6, 8}), c.r({2, 4, 6, 8}), c.r({2, 1, 5, 6}, F32, -3.f, 1.f)}, {});
  att("short float mask [5,4]", {c.r({2, 4, 5, 8}), c.r({2, 4, 6, 8}), c.r({2, 4, 6, 8}), c.r({5, 4})}, {});
  att("fully masked rows", {c.r({1, 2, 3, 8}), c.r({1, 2, 4, 8}), c.r({1, 2, 4, 8}),
                            boolean({3, 4}, {true, false, true, false, false, false, false, false, false, true, true, true})}, {});
  att("scale 0.3 softcap 5", {c.r({2, 4, 5, 8}), c.r({2, 4, 6, 8}), c.r({2, 4, 6, 8})}, {{"scale", a_float(0.3f)}, {"softcap", a_float(5.f)}});
  for (int64_t mode : {0, 1, 2, 3})
    att("past + causal + mask, qk mode " + std::to_string(mode),
        {c.r({1, 2, 3, 8}), c.r({1, 2, 3, 8}), c.r({1, 2, 3, 8}), c.r({3, 7}, F32, -1.f, 0.f), c.r({1, 2, 4, 8}), c.r({1, 2, 4, 8})},
        {{"is_causal", a_int(1)}, {"softcap", a_float(2.f)}, {"qk_matmul_output_mode", a_int(mode)}}, 4);
  att("3-D GQA with past, presents", {c.r({1, 3, 32}), c.r({1, 3, 16}), c.r({1, 3, 16}), Tensor(), c.r({1, 2, 2, 8}), c.r({1, 2, 2, 8})},
      {{"q_num_heads", a_int(4)}, {"kv_num_heads", a_int(2)}}, 3);
  att("nonpad_kv_seqlen causal (opset 24)",
      {c.r({2, 2, 3, 8}), c.r({2, 2, 6, 8}), c.r({2, 2, 6, 8}), Tensor(), Tensor(), Tensor(), i64({2}, {5, 4})},
      {{"is_causal", a_int(1)}}, 1, 24);
  att("f16 GQA causal", {c.r({1, 4, 5, 16}, F16), c.r({1, 2, 5, 16}, F16), c.r({1, 2, 5, 16}, F16)}, {{"is_causal", a_int(1)}}, 1, 23, F16);
  att("bf16 3-D", {c.r({1, 5, 32}, BF16), c.r({1, 6, 32}, BF16), c.r({1, 6, 32}, BF16)},
      {{"q_num_heads", a_int(2)}, {"kv_num_heads", a_int(2)}}, 1, 23, BF16);
  att("f64 mask", {c.r({1, 2, 5, 8}, F64), c.r({1, 2, 6, 8}, F64), c.r({1, 2, 6, 8}, F64), c.r({5, 6}, F64)}, {}, 1, 23, F64);
  // What passes/fuse_attention makes of a ViT-B/16 block (com.kiln, scale only).
  for (DataType dt : {F32, F16, BF16}) {
    OpCase& k = c.add("Attention com.kiln ViT-B/16 " + dn(dt), "Attention",
                      {c.r({2, 12, 197, 64}, dt), c.r({2, 12, 197, 64}, dt), c.r({2, 12, 197, 64}, dt)},
                      {{"scale", a_float(0.125f)}}, dt);
    k.domain = "com.kiln";
    k.opset = 17;
    if (dt != F32) k.takes = {"flash", "flash_mma"};
  }
  // The flash candidate's forms: each head size, partial and whole tiles of
  // queries and keys, one query row, GQA, the 3-D layout. Scores of 300 keys
  // in 16 bits: the tolerance of a 16-bit softmax over that many.
  const auto flash = [&](std::string name, std::vector<Tensor> in, Attrs at, DataType dt) {
    OpCase& k = c.add("Attention flash " + name, "Attention", std::move(in), std::move(at), dt);
    k.opset = 23;
    k.tol = dt == BF16 ? 2e-2 : 5e-3;
    k.takes = {"flash", "flash_mma"};
  };
  flash("f16 head 32 q 70 kv 130", {c.r({2, 3, 70, 32}, F16), c.r({2, 3, 130, 32}, F16), c.r({2, 3, 130, 32}, F16)}, {}, F16);
  flash("f16 head 128 q 64 kv 64 scale 0.3", {c.r({1, 2, 64, 128}, F16), c.r({1, 2, 64, 128}, F16), c.r({1, 2, 64, 128}, F16)},
        {{"scale", a_float(0.3f)}}, F16);
  flash("bf16 GQA 8/2 head 128 q 1 kv 300", {c.r({1, 8, 1, 128}, BF16), c.r({1, 2, 300, 128}, BF16), c.r({1, 2, 300, 128}, BF16)}, {}, BF16);
  // ViT-B/16's shape: 197 = 3 whole key tiles and 5 keys (the last tile's
  // products past them skipped).
  flash("f16 head 64 q 197 kv 197", {c.r({2, 3, 197, 64}, F16), c.r({2, 3, 197, 64}, F16), c.r({2, 3, 197, 64}, F16)}, {}, F16);
  flash("f16 3-D heads 4 head 64 q 65 kv 3", {c.r({2, 65, 256}, F16), c.r({2, 3, 256}, F16), c.r({2, 3, 256}, F16)},
        {{"q_num_heads", a_int(4)}, {"kv_num_heads", a_int(4)}}, F16);
  flash("bf16 3-D GQA 6/2 head 32 q 33 kv 129", {c.r({3, 33, 192}, BF16), c.r({3, 129, 64}, BF16), c.r({3, 129, 64}, BF16)},
        {{"q_num_heads", a_int(6)}, {"kv_num_heads", a_int(2)}}, BF16);
  // nn.MultiheadAttention in place (passes/fuse_attention.cpp's kiln.views):
  // q, k, v heads read from the packed [S, B, 3E] projection, Y written as
  // the [S*B, E] the output projection reads. B 2, S 70, H 2, D 64.
  for (DataType dt : {F32, F16, BF16}) {
    const Tensor proj = c.r({70, 2, 384}, dt);
    std::vector<int64_t> views;
    for (int64_t off : {0, 128, 256}) views.insert(views.end(), {off, 2, 2, 70, 64, 384, 64, 768, 1});
    views.insert(views.end(), {0, 2, 2, 70, 64, 128, 64, 256, 1});
    OpCase& k = c.add("Attention com.kiln in place MHA " + dn(dt), "Attention", {proj, proj, proj},
                      {{"scale", a_float(0.125f)}, {"kiln.views", a_ints(views)}, {"kiln.y_shape", a_ints({140, 128})}}, dt);
    k.domain = "com.kiln";
    k.opset = 17;
    if (dt != F32) k.takes = {"flash", "flash_mma"};
  }
  flash("f16 large scores", {c.r({1, 2, 20, 64}, F16, -4.f, 4.f), c.r({1, 2, 90, 64}, F16, -4.f, 4.f), c.r({1, 2, 90, 64}, F16)}, {}, F16);
}

void einsum_cases(Cases& c) {
  const auto ein = [&](const std::string& eq, std::vector<Tensor> in, DataType dt = F32) {
    std::string shapes;
    for (const Tensor& t : in) shapes += shape_str(t.shape());
    c.add("Einsum " + dn(dt) + " " + eq + " " + shapes, "Einsum", std::move(in), {{"equation", a_str(eq)}}, dt);
  };
  ein("ij->ji", {c.r({13, 17})});
  ein("ii->", {c.r({7, 7})});
  ein("ii->i", {c.r({7, 7})});
  ein("ijk->j", {c.r({3, 5, 4})});
  ein("ij->", {c.r({13, 17})});
  ein("i,j->ij", {c.r({5}), c.r({7})});
  ein("bij,bjk->bik", {c.r({3, 5, 7}), c.r({3, 7, 4})});
  ein("ij,jk->ik", {c.r({13, 33}), c.r({33, 17})});
  ein("ij,jk", {c.r({13, 33}), c.r({33, 17})});
  ein("ij,kj->ik", {c.r({13, 33}), c.r({17, 33})});
  ein("ji,jk->ik", {c.r({33, 13}), c.r({33, 17})});
  ein("ij,jk->ki", {c.r({13, 33}), c.r({33, 17})});
  ein("bhqd,bhkd->bhqk", {c.r({2, 3, 5, 8}), c.r({2, 3, 6, 8})});
  ein("bhqk,bhkd->bhqd", {c.r({2, 3, 5, 6}), c.r({2, 3, 6, 8})});
  ein("...ij,...jk->...ik", {c.r({2, 3, 4, 5}), c.r({2, 3, 5, 6})});
  ein("...ij,...jk->...ik", {c.r({2, 1, 4, 5}), c.r({3, 5, 6})});
  ein("ij,jk,kl->il", {c.r({4, 5}), c.r({5, 6}), c.r({6, 3})});
  ein("bij,bij->b", {c.r({4, 5, 6}), c.r({4, 5, 6})});
  ein("ijk,ikl->jl", {c.r({3, 4, 5}), c.r({3, 5, 2})});
  ein("ij,jk->ik", {rand_int(DataType::Int32, {6, 7}, ++c.seed, -5, 5), rand_int(DataType::Int32, {7, 3}, ++c.seed, -5, 5)}, DataType::Int32);
  ein("bij,bjk->bik", {c.r({3, 5, 7}, F16), c.r({3, 7, 4}, F16)}, F16);
  ein("bij,bjk->bik", {c.r({3, 5, 7}, F64), c.r({3, 7, 4}, F64)}, F64);
}

}  // namespace

std::vector<OpCase> nn_cases() {
  Cases c;
  conv_cases(c);
  conv_transpose_cases(c);
  gemm_cases(c);
  matmul_cases(c);
  attention_cases(c);
  einsum_cases(c);
  return std::move(c.list);
}

}  // namespace kiln::test::ops
