// MaxPool, AveragePool and the global pools against direct-loop references
// (each output visits its window tap by tap), hand-computed cases for the
// tricky parts (ceil_mode, Indices, count_include_pad), and errors.
#include <limits>

#include "nn_test_util.h"

namespace kiln::test {
namespace {

using nn::expect_close;
using nn::run_ref;
using nn::rnd_f32;

struct PoolParams {
  std::vector<int64_t> kernel, strides, dilations, pads;
  bool ceil_mode = false;
  bool include_pad = false;
};

PoolParams pool_params(std::vector<int64_t> kernel) {
  const size_t nd = kernel.size();
  return {kernel, std::vector<int64_t>(nd, 1), std::vector<int64_t>(nd, 1), std::vector<int64_t>(2 * nd, 0)};
}

std::map<std::string, ir::Attribute> attrs_of(const PoolParams& p) {
  return {{"kernel_shape", attr_ints(p.kernel)}, {"strides", attr_ints(p.strides)},
          {"dilations", attr_ints(p.dilations)}, {"pads", attr_ints(p.pads)},
          {"ceil_mode", attr_i(p.ceil_mode)},    {"count_include_pad", attr_i(p.include_pad)}};
}

// Output size per the ONNX formula; ceil mode drops a window starting past the input + begin pad.
int64_t out_dim(int64_t in, const PoolParams& p, size_t d, size_t nd) {
  const double span = static_cast<double>(in + p.pads[d] + p.pads[d + nd] - (p.kernel[d] - 1) * p.dilations[d] - 1);
  auto out = static_cast<int64_t>((p.ceil_mode ? std::ceil(span / p.strides[d]) : std::floor(span / p.strides[d])) + 1);
  if (p.ceil_mode && (out - 1) * p.strides[d] >= in + p.pads[d]) --out;
  return out;
}

// Direct pooling. Average divides by the taps inside the input, or with
// include_pad by the taps inside the explicitly padded extent.
std::vector<float> ref_pool(const Tensor& x, const PoolParams& p, bool is_max, Shape* out_shape,
                            std::vector<int64_t>* argmax = nullptr) {
  const Shape& xs = x.shape();
  const size_t nd = xs.size() - 2;
  Shape out{xs[0], xs[1]};
  for (size_t d = 0; d < nd; ++d) out.push_back(out_dim(xs[d + 2], p, d, nd));
  *out_shape = out;
  const Shape in(xs.begin() + 2, xs.end());
  const Shape kernel = p.kernel;
  std::vector<float> y;
  for (int64_t flat = 0; flat < shape_numel(out); ++flat) {
    std::vector<int64_t> o(out.size());
    for (int64_t f = flat, d = static_cast<int64_t>(out.size()) - 1; d >= 0; --d) {
      o[static_cast<size_t>(d)] = f % out[static_cast<size_t>(d)];
      f /= out[static_cast<size_t>(d)];
    }
    double sum = 0, best = -std::numeric_limits<double>::infinity();
    int64_t count = 0, padded = 0, best_at = -1;
    for (int64_t tap = 0; tap < shape_numel(kernel); ++tap) {
      int64_t t = tap, off = o[0] * xs[1] + o[1];
      bool inside = true, in_pad_extent = true;
      std::vector<int64_t> pos(nd);
      for (size_t d = nd; d-- > 0;) {
        pos[d] = o[d + 2] * p.strides[d] - p.pads[d] + (t % kernel[d]) * p.dilations[d];
        t /= kernel[d];
      }
      for (size_t d = 0; d < nd; ++d) {
        inside = inside && pos[d] >= 0 && pos[d] < in[d];
        in_pad_extent = in_pad_extent && pos[d] >= -p.pads[d] && pos[d] < in[d] + p.pads[d + nd];
        off = off * in[d] + pos[d];
      }
      padded += in_pad_extent;
      if (!inside) continue;
      const float v = x.data<float>()[off];
      ++count;
      sum += v;
      if (v > best) { best = v; best_at = off; }
    }
    y.push_back(static_cast<float>(is_max ? best : sum / static_cast<double>(p.include_pad ? padded : count)));
    if (argmax) argmax->push_back(best_at);
  }
  return y;
}

void check_pool(const char* op, Shape xs, const PoolParams& p, const std::string& what) {
  const Tensor x = rnd_f32(xs, 11);
  Shape out;
  const auto want = ref_pool(x, p, std::string(op) == "MaxPool", &out);
  expect_close(run_ref({op, {x}, attrs_of(p)})[0], out, want, 1e-5f, std::string(op) + " " + what);
}

TEST(NnPool, MaxAndAverageAgainstDirectLoops) {
  for (const char* op : {"MaxPool", "AveragePool"}) {
    PoolParams p = pool_params({3, 3});
    check_pool(op, {2, 3, 7, 8}, p, "3x3");
    p.strides = {2, 3};
    p.pads = {1, 0, 2, 1};
    check_pool(op, {1, 2, 9, 10}, p, "strides + asymmetric pads");
    p.include_pad = true;
    check_pool(op, {1, 2, 9, 10}, p, "count_include_pad");
    p.include_pad = false;
    p.dilations = {2, 1};
    check_pool(op, {1, 2, 9, 10}, p, "dilations");
    p.ceil_mode = true;
    check_pool(op, {1, 2, 10, 11}, p, "ceil_mode");
    p.include_pad = true;
    check_pool(op, {1, 2, 10, 11}, p, "ceil_mode + count_include_pad");
    PoolParams p1 = pool_params({3});
    p1.strides = {2};
    p1.pads = {1, 1};
    p1.ceil_mode = true;
    check_pool(op, {2, 3, 10}, p1, "1-D");
    PoolParams p3 = pool_params({2, 3, 2});
    p3.strides = {2, 1, 2};
    p3.pads = {0, 1, 1, 1, 1, 0};
    p3.dilations = {1, 1, 2};
    check_pool(op, {1, 2, 5, 6, 7}, p3, "3-D");
  }
}

TEST(NnPool, CeilModeHandComputed) {
  // in 5, kernel 2, stride 2: floor mode gives 2 outputs, ceil mode 3 (the last window is [4]).
  const Tensor x = f32({1, 1, 5}, {1, 2, 3, 4, 5});
  std::map<std::string, ir::Attribute> a{{"kernel_shape", attr_ints({2})}, {"strides", attr_ints({2})}};
  expect_close(run_ref({"AveragePool", {x}, a})[0], {1, 1, 2}, {1.5f, 3.5f}, 1e-6f);
  a["ceil_mode"] = attr_i(1);
  expect_close(run_ref({"AveragePool", {x}, a})[0], {1, 1, 3}, {1.5f, 3.5f, 5.f}, 1e-6f);
  expect_close(run_ref({"MaxPool", {x}, a})[0], {1, 1, 3}, {2.f, 4.f, 5.f}, 0);
  // Pads 1/1, kernel 3, stride 3, ceil: windows start at -1, 2, 5; the one at 5 starts in the end
  // padding and is dropped, so 2 outputs. count_include_pad counts the pad tap at -1.
  std::map<std::string, ir::Attribute> b{{"kernel_shape", attr_ints({3})}, {"strides", attr_ints({3})},
                                         {"pads", attr_ints({1, 1})}, {"ceil_mode", attr_i(1)},
                                         {"count_include_pad", attr_i(1)}};
  expect_close(run_ref({"AveragePool", {x}, b})[0], {1, 1, 2}, {(0 + 1 + 2) / 3.f, (3 + 4 + 5) / 3.f}, 1e-6f);
}

TEST(NnPool, AutoPad) {
  const Tensor x = rnd_f32({1, 2, 6, 7}, 12);
  struct Case { const char* mode; std::vector<int64_t> pads; };
  // kernel 3, stride 2: H 6 → 3 outputs, total pad 1; W 7 → 4 outputs, total pad 2.
  for (const Case& c : {Case{"SAME_UPPER", {0, 1, 1, 1}}, Case{"SAME_LOWER", {1, 1, 0, 1}}}) {
    for (const char* op : {"MaxPool", "AveragePool"}) {
      PoolParams p = pool_params({3, 3});
      p.strides = {2, 2};
      p.pads = c.pads;
      Shape out;
      const auto want = ref_pool(x, p, std::string(op) == "MaxPool", &out);
      const auto y = run_ref({op, {x}, {{"kernel_shape", attr_ints({3, 3})}, {"strides", attr_ints({2, 2})},
                                         {"auto_pad", attr_s(c.mode)}}})[0];
      expect_close(y, out, want, 1e-5f, std::string(op) + " " + c.mode);
    }
  }
}

TEST(NnPool, MaxPoolIndices) {
  // Two channels of [[1 5 2] [4 3 6]]; the second plane is offset by 6 in the flat index.
  const Tensor x = f32({1, 2, 2, 3}, {1, 5, 2, 4, 3, 6, 1, 5, 2, 4, 3, 6});
  std::map<std::string, ir::Attribute> a{{"kernel_shape", attr_ints({2, 2})}};
  auto outs = run_ref({"MaxPool", {x}, a, 2});
  expect_close(outs[0], {1, 2, 1, 2}, {5, 6, 5, 6}, 0);
  EXPECT_EQ(values<int64_t>(outs[1]), (std::vector<int64_t>{1, 5, 7, 11}));
  a["storage_order"] = attr_i(1);  // column-major: (h, w) → h + w*H
  outs = run_ref({"MaxPool", {x}, a, 2});
  EXPECT_EQ(values<int64_t>(outs[1]), (std::vector<int64_t>{2, 5, 8, 11}));
  // Against the reference on a larger case with padding.
  const Tensor big = rnd_f32({2, 3, 7, 6}, 13);
  PoolParams p = pool_params({3, 2});
  p.strides = {2, 2};
  p.pads = {1, 1, 1, 0};
  Shape out;
  std::vector<int64_t> argmax;
  const auto want = ref_pool(big, p, true, &out, &argmax);
  outs = run_ref({"MaxPool", {big}, attrs_of(p), 2});
  expect_close(outs[0], out, want, 0);
  EXPECT_EQ(values<int64_t>(outs[1]), argmax);
}

TEST(NnPool, MaxPoolUint8AndHalf) {
  Tensor x = Tensor::from_vector(DataType::UInt8, {1, 1, 2, 3}, std::vector<uint8_t>{10, 250, 3, 7, 8, 255});
  const auto y = run_ref({"MaxPool", {x}, {{"kernel_shape", attr_ints({2, 2})}}})[0];
  EXPECT_EQ(y.dtype(), DataType::UInt8);
  EXPECT_EQ(values<uint8_t>(y), (std::vector<uint8_t>{250, 255}));
  const Tensor xf = rnd_f32({1, 2, 5, 5}, 14);
  PoolParams p = pool_params({2, 2});
  Shape out;
  const auto want = ref_pool(xf, p, false, &out);
  expect_close(run_ref({"AveragePool", {nn::to_f16(xf)}, attrs_of(p)})[0], out, want, 2e-3f, "f16 average");
}

TEST(NnPool, GlobalPools) {
  const Tensor x = rnd_f32({2, 3, 4, 5}, 15);
  std::vector<float> avg, mx;
  for (int64_t i = 0; i < 6; ++i) {
    double s = 0, m = -1e30;
    for (int64_t j = 0; j < 20; ++j) {
      const float v = x.data<float>()[i * 20 + j];
      s += v;
      m = std::max<double>(m, v);
    }
    avg.push_back(static_cast<float>(s / 20));
    mx.push_back(static_cast<float>(m));
  }
  expect_close(run_ref({"GlobalAveragePool", {x}})[0], {2, 3, 1, 1}, avg, 1e-5f);
  expect_close(run_ref({"GlobalMaxPool", {x}})[0], {2, 3, 1, 1}, mx, 0);
  const auto y3 = run_ref({"GlobalAveragePool", {rnd_f32({1, 2, 3}, 16)}})[0];
  EXPECT_EQ(y3.shape(), (Shape{1, 2, 1}));
}

TEST(NnPool, SymbolicShapes) {
  const auto out = infer_only("MaxPool", {{DataType::Float32, ir::SymShape{nn::sym("N"), 16, 32, 32}}},
                                  {{"kernel_shape", attr_ints({2, 2})}, {"strides", attr_ints({2, 2})}}, 21, 2);
  EXPECT_EQ(ir::sym_str(*out[0].shape), "[N,16,16,16]");
  EXPECT_EQ(out[1].dtype, DataType::Int64);
  const auto g = infer_only("GlobalAveragePool", {{DataType::Float32, ir::SymShape{nn::sym("N"), 16, nn::sym("H"), 7}}});
  EXPECT_EQ(ir::sym_str(*g[0].shape), "[N,16,1,1]");
}

TEST(NnPool, Errors) {
  const Tensor x = rnd_f32({1, 1, 4, 4}, 17);
  expect_error([&] { run_ref({"MaxPool", {x}, {}}); }, ErrorCode::InvalidModel, "kernel_shape is required");
  expect_error([&] { run_ref({"AveragePool", {x}, {{"kernel_shape", attr_ints({2})}}}); }, ErrorCode::InvalidModel,
               "kernel_shape");
  expect_error([&] { run_ref({"MaxPool", {x}, {{"kernel_shape", attr_ints({5, 5})}}}); }, ErrorCode::InvalidModel,
               "does not fit");
  expect_error([&] { run_ref({"MaxPool", {x}, {{"kernel_shape", attr_ints({2, 2})}, {"pads", attr_ints({-1, 0, 0, 0})}}}); },
               ErrorCode::InvalidModel, "pads");
  expect_error([&] { run_ref({"MaxPool", {x}, {{"kernel_shape", attr_ints({2, 2})}, {"storage_order", attr_i(2)}}}); },
               ErrorCode::InvalidModel, "storage_order");
  expect_error([&] { run_ref({"AveragePool", {rnd_f32({4, 4}, 1)}, {{"kernel_shape", attr_ints({2})}}}); },
               ErrorCode::InvalidModel, "rank >= 3");
}

}  // namespace
}  // namespace kiln::test
