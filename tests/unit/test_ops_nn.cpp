// Conv, ConvTranspose and pooling: the CPU kernels against direct-loop
// references written here (every output element summed/maxed over its window
// by plain index arithmetic), plus shape inference on symbolic shapes and the
// errors a bad model must produce.
#include "nn_test_util.h"

namespace kiln::test {
namespace {

using nn::expect_close;
using nn::run_ref;
using nn::rnd;
using nn::rnd_f32;

struct WinParams {
  std::vector<int64_t> strides, dilations, pads;  // pads: begins, then ends
  int64_t group = 1;
};

WinParams defaults(size_t nd) { return {std::vector<int64_t>(nd, 1), std::vector<int64_t>(nd, 1), std::vector<int64_t>(2 * nd, 0), 1}; }

// Decodes a row-major flat index into a multi-index of `shape`.
std::vector<int64_t> unflat(int64_t flat, const Shape& shape) {
  std::vector<int64_t> idx(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    idx[d] = flat % shape[d];
    flat /= shape[d];
  }
  return idx;
}

// Direct convolution: y[n,m,o] = b[m] + sum_{c in group, taps k} x[n, g*Cg+c, o*s - pad + k*dil] * w[m,c,k].
std::vector<float> ref_conv(const Tensor& x, const Tensor& w, const std::vector<float>* bias, const WinParams& p,
                            Shape* out_shape) {
  const Shape& xs = x.shape();
  const Shape& ws = w.shape();
  const size_t nd = xs.size() - 2;
  const int64_t cg = ws[1], m_total = ws[0], mg = m_total / p.group;
  Shape out{xs[0], m_total};
  for (size_t d = 0; d < nd; ++d)
    out.push_back((xs[d + 2] + p.pads[d] + p.pads[d + nd] - p.dilations[d] * (ws[d + 2] - 1) - 1) / p.strides[d] + 1);
  *out_shape = out;
  const Shape kernel(ws.begin() + 2, ws.end());
  std::vector<float> y(static_cast<size_t>(shape_numel(out)));
  for (int64_t flat = 0; flat < static_cast<int64_t>(y.size()); ++flat) {
    const auto o = unflat(flat, out);
    const int64_t n = o[0], m = o[1], g = m / mg;
    double acc = bias ? (*bias)[static_cast<size_t>(m)] : 0.0;
    for (int64_t c = 0; c < cg; ++c) {
      for (int64_t tap = 0; tap < shape_numel(kernel); ++tap) {
        const auto k = unflat(tap, kernel);
        int64_t xoff = n * xs[1] + g * cg + c, woff = m * cg + c;
        bool inside = true;
        for (size_t d = 0; d < nd; ++d) {
          const int64_t pos = o[d + 2] * p.strides[d] - p.pads[d] + k[d] * p.dilations[d];
          inside = inside && pos >= 0 && pos < xs[d + 2];
          xoff = xoff * xs[d + 2] + pos;
          woff = woff * kernel[d] + k[d];
        }
        if (inside) acc += static_cast<double>(x.data<float>()[xoff]) * w.data<float>()[woff];
      }
    }
    y[static_cast<size_t>(flat)] = static_cast<float>(acc);
  }
  return y;
}

std::map<std::string, ir::Attribute> win_attrs(const WinParams& p) {
  return {{"strides", attr_ints(p.strides)}, {"dilations", attr_ints(p.dilations)}, {"pads", attr_ints(p.pads)},
          {"group", attr_i(p.group)}};
}

void check_conv(Shape xs, Shape ws, const WinParams& p, bool with_bias, const std::string& what) {
  const Tensor x = rnd_f32(xs, 1), w = rnd_f32(ws, 2);
  const std::vector<float> b = rnd(ws[0], 3);
  Shape out;
  const auto want = ref_conv(x, w, with_bias ? &b : nullptr, p, &out);
  NodeSpec spec{"Conv", {x, w}, win_attrs(p)};
  if (with_bias) spec.inputs.push_back(f32({ws[0]}, b));
  expect_close(run_ref(spec)[0], out, want, 1e-4f, what);
}

TEST(NnConv, HandComputed1d) {
  // x = [1 2 3 4], w = [1 -1], pads 1/0: y = [0-1, 1-2, 2-3, 3-4] = [-1,-1,-1,-1]; bias 10.
  NodeSpec spec{"Conv", {f32({1, 1, 4}, {1, 2, 3, 4}), f32({1, 1, 2}, {1, -1}), f32({1}, {10})},
                {{"pads", attr_ints({1, 0})}}};
  expect_close(run_ref(spec)[0], {1, 1, 4}, {9, 9, 9, 9}, 0);
}

TEST(NnConv, Conv2dAgainstDirectLoops) {
  WinParams p = defaults(2);
  check_conv({2, 3, 7, 6}, {4, 3, 3, 3}, p, false, "plain 3x3");
  p.pads = {1, 1, 1, 1};
  check_conv({2, 3, 7, 6}, {4, 3, 3, 3}, p, true, "pad 1 + bias");
  p.strides = {2, 3};
  p.pads = {1, 0, 2, 1};  // asymmetric
  check_conv({1, 3, 9, 10}, {5, 3, 3, 2}, p, true, "strides + asymmetric pads");
  p.dilations = {2, 1};
  check_conv({1, 3, 9, 10}, {5, 3, 3, 2}, p, true, "dilations");
  p.group = 2;
  check_conv({2, 4, 8, 8}, {6, 2, 3, 3}, p, true, "group 2");
}

TEST(NnConv, DepthwiseAndPointwise) {
  WinParams p = defaults(2);
  p.group = 4;
  p.pads = {1, 1, 1, 1};
  check_conv({1, 4, 6, 5}, {8, 1, 3, 3}, p, true, "depthwise, multiplier 2");
  check_conv({2, 6, 5, 4}, {3, 6, 1, 1}, defaults(2), true, "1x1 (direct GEMM path)");
  WinParams s = defaults(2);
  s.strides = {2, 2};
  check_conv({1, 6, 5, 4}, {3, 6, 1, 1}, s, false, "1x1 strided");
}

TEST(NnConv, Conv1dAnd3d) {
  WinParams p1 = defaults(1);
  p1.strides = {2};
  p1.dilations = {3};
  p1.pads = {2, 1};
  check_conv({2, 3, 17}, {4, 3, 3}, p1, true, "1-D");
  WinParams p3 = defaults(3);
  p3.strides = {1, 2, 1};
  p3.pads = {1, 0, 1, 1, 1, 0};
  p3.group = 2;
  check_conv({1, 4, 5, 6, 4}, {4, 2, 3, 2, 3}, p3, true, "3-D grouped");
}

TEST(NnConv, AutoPad) {
  const Tensor x = rnd_f32({1, 2, 6, 7}, 4), w = rnd_f32({3, 2, 3, 3}, 5);
  // H: in 6, stride 2 → out 3, total pad 1; W: in 7 → out 4, total pad 2.
  struct Case { const char* mode; std::vector<int64_t> pads; };
  for (const Case& c : {Case{"SAME_UPPER", {0, 1, 1, 1}}, Case{"SAME_LOWER", {1, 1, 0, 1}}, Case{"VALID", {0, 0, 0, 0}}}) {
    WinParams p = defaults(2);
    p.strides = {2, 2};
    p.pads = c.pads;
    Shape out;
    const auto want = ref_conv(x, w, nullptr, p, &out);
    NodeSpec spec{"Conv", {x, w}, {{"auto_pad", attr_s(c.mode)}, {"strides", attr_ints({2, 2})}}};
    expect_close(run_ref(spec)[0], out, want, 1e-4f, c.mode);
  }
}

TEST(NnConv, Float64AndFloat16) {
  const Tensor x = rnd_f32({1, 2, 5, 5}, 6), w = rnd_f32({3, 2, 3, 3}, 7);
  WinParams p = defaults(2);
  p.pads = {1, 1, 1, 1};
  Shape out;
  const auto want = ref_conv(x, w, nullptr, p, &out);
  const auto attrs = win_attrs(p);
  const Tensor y64 = run_ref({"Conv", {nn::to_f64(x), nn::to_f64(w)}, attrs})[0];
  EXPECT_EQ(y64.dtype(), DataType::Float64);
  expect_close(y64, out, want, 1e-6f, "float64");
  const Tensor y16 = run_ref({"Conv", {nn::to_f16(x), nn::to_f16(w)}, attrs})[0];
  EXPECT_EQ(y16.dtype(), DataType::Float16);
  expect_close(y16, out, want, 1e-2f, "float16");
}

TEST(NnConv, ConvInteger) {
  // uint8 data with zero points; the reference convolves the centered values (padding reads the
  // zero point, i.e. contributes 0), which are small integers, so float math is exact.
  const std::vector<float> xr = rnd(2 * 5 * 5, 8, 0.f, 255.f), wr = rnd(3 * 2 * 3 * 3, 9, 0.f, 255.f);
  std::vector<uint8_t> xq, wq;
  for (float v : xr) xq.push_back(static_cast<uint8_t>(v));
  for (float v : wr) wq.push_back(static_cast<uint8_t>(v));
  const uint8_t xzp = 100;
  const std::vector<uint8_t> wzp{120, 7, 200};  // per output channel
  std::vector<float> xc, wc;
  for (uint8_t v : xq) xc.push_back(static_cast<float>(v) - xzp);
  for (size_t i = 0; i < wq.size(); ++i) wc.push_back(static_cast<float>(wq[i]) - wzp[i / 18]);
  WinParams p = defaults(2);
  p.pads = {1, 0, 1, 1};
  Shape out;
  const auto want = ref_conv(f32({1, 2, 5, 5}, xc), f32({3, 2, 3, 3}, wc), nullptr, p, &out);
  const auto y = run_ref({"ConvInteger",
                          {Tensor::from_vector(DataType::UInt8, {1, 2, 5, 5}, xq),
                           Tensor::from_vector(DataType::UInt8, {3, 2, 3, 3}, wq),
                           Tensor::from_vector(DataType::UInt8, {}, std::vector<uint8_t>{xzp}),
                           Tensor::from_vector(DataType::UInt8, {3}, wzp)},
                          {{"pads", attr_ints(p.pads)}}})[0];
  ASSERT_EQ(y.dtype(), DataType::Int32);
  ASSERT_EQ(y.shape(), out);
  for (size_t i = 0; i < want.size(); ++i) ASSERT_EQ(y.data<int32_t>()[i], static_cast<int32_t>(want[i])) << i;
}

TEST(NnConv, SymbolicBatchFlowsThrough) {
  const auto out = infer_only("Conv", {{DataType::Float32, ir::SymShape{nn::sym("batch"), 3, 32, 32}},
                                           {DataType::Float32, ir::SymShape{8, 3, 3, 3}}},
                                  {{"strides", attr_ints({2, 2})}, {"pads", attr_ints({1, 1, 1, 1})}});
  ASSERT_TRUE(out[0].shape);
  EXPECT_EQ(ir::sym_str(*out[0].shape), "[batch,8,16,16]");
  // An unknown spatial dim gives a fresh symbol, not a wrong number.
  const auto out2 = infer_only("Conv", {{DataType::Float32, ir::SymShape{1, 3, nn::sym("h"), 32}},
                                            {DataType::Float32, ir::SymShape{8, 3, 3, 3}}});
  EXPECT_FALSE((*out2[0].shape)[2].known());
  EXPECT_EQ((*out2[0].shape)[3].value, 30);
}

TEST(NnConv, Errors) {
  const auto conv = [](Shape xs, Shape ws, std::map<std::string, ir::Attribute> attrs) {
    return [=] { run_ref({"Conv", {rnd_f32(xs, 1), rnd_f32(ws, 2)}, attrs}); };
  };
  expect_error(conv({1, 6, 5, 5}, {4, 3, 3, 3}, {{"group", attr_i(4)}}), ErrorCode::InvalidModel,
               "not divisible by group");
  expect_error(conv({1, 6, 5, 5}, {4, 2, 3, 3}, {{"group", attr_i(2)}}), ErrorCode::InvalidModel,
               "node 'n0' (Conv)");
  expect_error(conv({1, 3, 5, 5}, {4, 3, 3, 3}, {{"kernel_shape", attr_ints({3})}}), ErrorCode::InvalidModel,
               "kernel_shape");
  expect_error(conv({1, 3, 5, 5}, {4, 3, 3, 3}, {{"kernel_shape", attr_ints({3, 2})}}), ErrorCode::InvalidModel,
               "does not match the weight");
  expect_error(conv({1, 3, 5, 5}, {4, 3, 3, 3}, {{"pads", attr_ints({1, 1})}}), ErrorCode::InvalidModel, "pads");
  expect_error(conv({1, 3, 5, 5}, {4, 3, 3, 3}, {{"strides", attr_ints({0, 1})}}), ErrorCode::InvalidModel,
               "strides");
  expect_error(conv({1, 3, 5, 5}, {4, 3, 3, 3}, {{"auto_pad", attr_s("SAME")}}), ErrorCode::InvalidModel,
               "auto_pad");
  expect_error(conv({1, 3, 2, 2}, {4, 3, 3, 3}, {}), ErrorCode::InvalidModel, "does not fit");
  expect_error(conv({3, 5}, {4, 3}, {}), ErrorCode::InvalidModel, "rank >= 3");
  expect_error(conv({1, 3, 5, 5}, {4, 3, 3}, {}), ErrorCode::InvalidModel, "same rank");
  expect_error([] { run_ref({"Conv", {rnd_f32({1, 3, 5, 5}, 1), rnd_f32({4, 3, 3, 3}, 2), f32({3}, {1, 2, 3})}}); },
               ErrorCode::InvalidModel, "bias");
}

// Direct transposed convolution: each input element scatters x * w into the
// outputs o = i*stride - pad_begin + k*dilation that fall inside `out`.
std::vector<float> ref_conv_transpose(const Tensor& x, const Tensor& w, const std::vector<float>* bias,
                                      const WinParams& p, const Shape& out_spatial) {
  const Shape& xs = x.shape();
  const Shape& ws = w.shape();
  const size_t nd = xs.size() - 2;
  const int64_t c_total = xs[1], cg = c_total / p.group, mg = ws[1], m_total = mg * p.group;
  Shape out{xs[0], m_total};
  out.insert(out.end(), out_spatial.begin(), out_spatial.end());
  std::vector<double> y(static_cast<size_t>(shape_numel(out)), 0.0);
  if (bias)
    for (size_t i = 0; i < y.size(); ++i) y[i] = (*bias)[static_cast<size_t>(unflat(static_cast<int64_t>(i), out)[1])];
  const Shape kernel(ws.begin() + 2, ws.end());
  for (int64_t flat = 0; flat < x.numel(); ++flat) {
    const auto i = unflat(flat, xs);
    const int64_t n = i[0], c = i[1], g = c / cg;
    for (int64_t m = 0; m < mg; ++m) {
      for (int64_t tap = 0; tap < shape_numel(kernel); ++tap) {
        const auto k = unflat(tap, kernel);
        int64_t yoff = n * m_total + g * mg + m, woff = c * mg + m;
        bool inside = true;
        for (size_t d = 0; d < nd; ++d) {
          const int64_t o = i[d + 2] * p.strides[d] - p.pads[d] + k[d] * p.dilations[d];
          inside = inside && o >= 0 && o < out_spatial[d];
          yoff = yoff * out_spatial[d] + o;
          woff = woff * kernel[d] + k[d];
        }
        if (inside) y[static_cast<size_t>(yoff)] += static_cast<double>(x.data<float>()[flat]) * w.data<float>()[woff];
      }
    }
  }
  return std::vector<float>(y.begin(), y.end());
}

// Natural output size: stride*(in-1) + output_padding + (k-1)*dilation + 1 - pads.
void check_conv_transpose(Shape xs, Shape ws, const WinParams& p, std::vector<int64_t> out_pad, bool with_bias,
                          const std::string& what) {
  const Tensor x = rnd_f32(xs, 21), w = rnd_f32(ws, 22);
  const std::vector<float> b = rnd(ws[1] * p.group, 23);
  const size_t nd = xs.size() - 2;
  Shape out_spatial;
  for (size_t d = 0; d < nd; ++d)
    out_spatial.push_back(p.strides[d] * (xs[d + 2] - 1) + out_pad[d] + (ws[d + 2] - 1) * p.dilations[d] + 1 -
                          p.pads[d] - p.pads[d + nd]);
  auto attrs = win_attrs(p);
  attrs["output_padding"] = attr_ints(out_pad);
  NodeSpec spec{"ConvTranspose", {x, w}, attrs};
  if (with_bias) spec.inputs.push_back(f32({ws[1] * p.group}, b));
  Shape out{xs[0], ws[1] * p.group};
  out.insert(out.end(), out_spatial.begin(), out_spatial.end());
  expect_close(run_ref(spec)[0], out, ref_conv_transpose(x, w, with_bias ? &b : nullptr, p, out_spatial), 1e-4f, what);
}

TEST(NnConvTranspose, AgainstDirectScatter) {
  WinParams p = defaults(2);
  check_conv_transpose({1, 2, 3, 4}, {2, 3, 3, 3}, p, {0, 0}, false, "plain");
  p.strides = {3, 2};
  p.pads = {1, 2, 1, 0};
  check_conv_transpose({2, 2, 3, 4}, {2, 3, 3, 3}, p, {1, 1}, true, "strides, pads, output_padding");
  p.dilations = {2, 1};
  p.group = 2;
  check_conv_transpose({1, 4, 3, 3}, {4, 2, 2, 3}, p, {0, 1}, true, "dilations + group 2");
  WinParams p1 = defaults(1);
  p1.strides = {2};
  check_conv_transpose({1, 3, 5}, {3, 2, 4}, p1, {1}, true, "1-D");
  WinParams p3 = defaults(3);
  p3.strides = {2, 1, 2};
  p3.pads = {0, 1, 1, 1, 0, 0};
  check_conv_transpose({1, 2, 2, 3, 2}, {2, 2, 2, 3, 2}, p3, {0, 0, 1}, false, "3-D");
}

TEST(NnConvTranspose, OutputShapeAndAutoPad) {
  const Tensor x = rnd_f32({1, 1, 3, 3}, 24), w = rnd_f32({1, 2, 3, 3}, 25);
  WinParams p = defaults(2);
  p.strides = {3, 2};
  // output_shape [10, 8]: natural size is 9 x 7, so the extra row/column gets only the bias (0).
  const auto want = ref_conv_transpose(x, w, nullptr, p, {10, 8});
  expect_close(run_ref({"ConvTranspose", {x, w}, {{"strides", attr_ints({3, 2})}, {"output_shape", attr_ints({10, 8})}}})[0],
               {1, 2, 10, 8}, want, 1e-5f, "output_shape");
  // Same result through output_padding [1, 1].
  expect_close(run_ref({"ConvTranspose", {x, w}, {{"strides", attr_ints({3, 2})}, {"output_padding", attr_ints({1, 1})}}})[0],
               {1, 2, 10, 8}, want, 1e-5f, "output_padding");
  // SAME_UPPER, stride 2: output = 2*in = 6; natural 7, total pad 1 → begin 0, end 1.
  WinParams s = defaults(2);
  s.strides = {2, 2};
  s.pads = {0, 0, 1, 1};
  expect_close(run_ref({"ConvTranspose", {x, w}, {{"strides", attr_ints({2, 2})}, {"auto_pad", attr_s("SAME_UPPER")}}})[0],
               {1, 2, 6, 6}, ref_conv_transpose(x, w, nullptr, s, {6, 6}), 1e-5f, "SAME_UPPER");
  s.pads = {1, 1, 0, 0};
  expect_close(run_ref({"ConvTranspose", {x, w}, {{"strides", attr_ints({2, 2})}, {"auto_pad", attr_s("SAME_LOWER")}}})[0],
               {1, 2, 6, 6}, ref_conv_transpose(x, w, nullptr, s, {6, 6}), 1e-5f, "SAME_LOWER");
}

TEST(NnConvTranspose, ShapesAndErrors) {
  const auto out = infer_only("ConvTranspose", {{DataType::Float32, ir::SymShape{nn::sym("N"), 4, 8, 8}},
                                                    {DataType::Float32, ir::SymShape{4, 3, 2, 2}}},
                                  {{"strides", attr_ints({2, 2})}, {"group", attr_i(2)}});
  EXPECT_EQ(ir::sym_str(*out[0].shape), "[N,6,16,16]");
  expect_error([] { run_ref({"ConvTranspose", {rnd_f32({1, 3, 4, 4}, 1), rnd_f32({3, 2, 3, 3}, 2)}, {{"group", attr_i(2)}}}); },
               ErrorCode::InvalidModel, "not divisible by group");
  expect_error([] { run_ref({"ConvTranspose", {rnd_f32({1, 3, 4, 4}, 1), rnd_f32({2, 2, 3, 3}, 2)}}); },
               ErrorCode::InvalidModel, "X channels vs W dim 0");
  expect_error([] { run_ref({"ConvTranspose", {rnd_f32({1, 2, 4, 4}, 1), rnd_f32({2, 2, 3, 3}, 2)},
                              {{"output_padding", attr_ints({1})}}}); },
               ErrorCode::InvalidModel, "output_padding");
}

}  // namespace
}  // namespace kiln::test
