// Gemm, MatMul, MatMulInteger and the softmax family against naive loops
// written here, plus symbolic shape inference and error cases.
#include <cmath>

#include "nn_test_util.h"

namespace kiln::test {
namespace {

using nn::expect_close;
using nn::run_ref;
using nn::rnd;
using nn::rnd_f32;

// Triple-loop product of row-major a [m x k] (or its transpose) and b [k x n].
std::vector<double> naive_mm(const std::vector<float>& a, const std::vector<float>& b, int64_t m, int64_t k,
                             int64_t n, bool ta = false, bool tb = false) {
  std::vector<double> y(static_cast<size_t>(m * n), 0.0);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j)
      for (int64_t p = 0; p < k; ++p)
        y[static_cast<size_t>(i * n + j)] += static_cast<double>(a[static_cast<size_t>(ta ? p * m + i : i * k + p)]) *
                                             b[static_cast<size_t>(tb ? j * k + p : p * n + j)];
  return y;
}

TEST(NnGemm, TransposesAlphaBetaAndBroadcastC) {
  const int64_t m = 5, k = 7, n = 6;
  const auto av = rnd(m * k, 1), bv = rnd(k * n, 2);
  struct CCase { Shape shape; const char* what; };
  for (int ta = 0; ta < 2; ++ta) {
    for (int tb = 0; tb < 2; ++tb) {
      const auto prod = naive_mm(av, bv, m, k, n, ta, tb);
      for (const CCase& cc : {CCase{{}, "none"}, CCase{{1}, "[1]"}, CCase{{n}, "[N]"}, CCase{{m, 1}, "[M,1]"},
                              CCase{{1, n}, "[1,N]"}, CCase{{m, n}, "[M,N]"}, CCase{{}, "scalar"}}) {
        const bool has_c = std::string(cc.what) != "none";
        const auto cv = rnd(shape_numel(cc.shape), 3);
        const int64_t c_rows = cc.shape.size() == 2 ? cc.shape[0] : 1;
        const int64_t c_cols = cc.shape.empty() ? 1 : cc.shape.back();
        std::vector<float> want;
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = 0; j < n; ++j) {
            const float c = has_c ? cv[static_cast<size_t>((c_rows == 1 ? 0 : i) * c_cols + (c_cols == 1 ? 0 : j))] : 0.f;
            want.push_back(static_cast<float>(0.5 * prod[static_cast<size_t>(i * n + j)] + 2.0 * c));
          }
        NodeSpec spec{"Gemm",
                      {f32(ta ? Shape{k, m} : Shape{m, k}, av), f32(tb ? Shape{n, k} : Shape{k, n}, bv)},
                      {{"transA", attr_i(ta)}, {"transB", attr_i(tb)}, {"alpha", attr_f(0.5f)}, {"beta", attr_f(2.f)}}};
        if (has_c) spec.inputs.push_back(f32(cc.shape, cv));
        expect_close(run_ref(spec)[0], {m, n}, want, 1e-5f,
                     "transA=" + std::to_string(ta) + " transB=" + std::to_string(tb) + " C " + cc.what);
      }
    }
  }
}

TEST(NnGemm, Int32AndErrors) {
  const auto y = run_ref({"Gemm", {Tensor::from_vector(DataType::Int32, {2, 2}, std::vector<int32_t>{1, 2, 3, 4}),
                                    Tensor::from_vector(DataType::Int32, {2, 2}, std::vector<int32_t>{5, 6, 7, 8}),
                                    Tensor::from_vector(DataType::Int32, {2}, std::vector<int32_t>{100, 200})}})[0];
  EXPECT_EQ(values<int32_t>(y), (std::vector<int32_t>{119, 222, 143, 250}));
  expect_error([] { run_ref({"Gemm", {rnd_f32({2, 3}, 1), rnd_f32({4, 2}, 2)}}); }, ErrorCode::InvalidModel,
               "inner dimensions");
  expect_error([] { run_ref({"Gemm", {rnd_f32({2, 3}, 1), rnd_f32({3, 4}, 2), rnd_f32({3}, 3)}}); },
               ErrorCode::InvalidModel, "does not broadcast");
  expect_error([] { run_ref({"Gemm", {rnd_f32({2, 3, 1}, 1), rnd_f32({3, 4}, 2)}}); }, ErrorCode::InvalidModel,
               "rank 2");
  expect_error([] { run_ref({"Gemm", {rnd_f32({2, 3}, 1)}}); }, ErrorCode::InvalidModel, "inputs");
}

// NumPy matmul by definition: broadcast batch indices, promote 1-D operands.
std::vector<float> naive_matmul(const Tensor& a, const Tensor& b, Shape* out_shape) {
  Shape as = a.shape(), bs = b.shape();
  const bool a1 = as.size() == 1, b1 = bs.size() == 1;
  if (a1) as.insert(as.begin(), 1);
  if (b1) bs.push_back(1);
  const int64_t m = as[as.size() - 2], k = as.back(), n = bs.back();
  const size_t rank = std::max(as.size(), bs.size()) - 2;
  Shape batch(rank);
  const auto dim = [&](const Shape& s, size_t d) {  // batch dim d of s, right-aligned, 1 when absent
    const size_t lead = rank - (s.size() - 2);
    return d < lead ? int64_t{1} : s[d - lead];
  };
  for (size_t d = 0; d < rank; ++d) batch[d] = std::max(dim(as, d), dim(bs, d));
  std::vector<float> y;
  for (int64_t bi = 0; bi < shape_numel(batch); ++bi) {
    int64_t aoff = 0, boff = 0;
    for (size_t d = 0, rem = static_cast<size_t>(bi); d < rank; ++d) {
      int64_t stride = 1;
      for (size_t e = d + 1; e < rank; ++e) stride *= batch[e];
      const int64_t idx = static_cast<int64_t>(rem) / stride;
      rem %= static_cast<size_t>(stride);
      aoff = aoff * dim(as, d) + (dim(as, d) == 1 ? 0 : idx);
      boff = boff * dim(bs, d) + (dim(bs, d) == 1 ? 0 : idx);
    }
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (int64_t p = 0; p < k; ++p)
          s += static_cast<double>(a.data<float>()[aoff * m * k + i * k + p]) * b.data<float>()[boff * k * n + p * n + j];
        y.push_back(static_cast<float>(s));
      }
  }
  *out_shape = batch;
  if (!a1) out_shape->push_back(m);
  if (!b1) out_shape->push_back(n);
  return y;
}

TEST(NnMatMul, BroadcastAnd1dCases) {
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{3, 4}, {4, 5}},       {{2, 3, 4}, {2, 4, 5}}, {{2, 1, 3, 4}, {5, 4, 2}}, {{3, 4}, {6, 4, 2}},
      {{2, 3, 4}, {4, 2}},    {{1, 3, 4}, {7, 4, 2}}, {{4}, {4}},               {{4}, {2, 4, 3}},
      {{2, 3, 4}, {4}},       {{4}, {4, 3}},          {{3, 4}, {4}},            {{70, 300}, {300, 600}},
  };
  uint32_t seed = 20;
  for (const auto& [as, bs] : cases) {
    const Tensor a = rnd_f32(as, seed++), b = rnd_f32(bs, seed++);
    Shape out;
    const auto want = naive_matmul(a, b, &out);
    expect_close(run_ref({"MatMul", {a, b}})[0], out, want, 1e-4f, shape_str(as) + " x " + shape_str(bs));
  }
}

TEST(NnMatMul, OtherDtypes) {
  const Tensor a = rnd_f32({2, 3, 5}, 30), b = rnd_f32({5, 4}, 31);
  Shape out;
  const auto want = naive_matmul(a, b, &out);
  expect_close(run_ref({"MatMul", {nn::to_f64(a), nn::to_f64(b)}})[0], out, want, 1e-6f, "f64");
  expect_close(run_ref({"MatMul", {nn::to_f16(a), nn::to_f16(b)}})[0], out, want, 1e-2f, "f16");
  const auto yi = run_ref({"MatMul", {Tensor::from_vector(DataType::Int64, {2, 2}, std::vector<int64_t>{1, 2, 3, 4}),
                                       Tensor::from_vector(DataType::Int64, {2}, std::vector<int64_t>{10, -1})}})[0];
  EXPECT_EQ(values<int64_t>(yi), (std::vector<int64_t>{8, 26}));
}

TEST(NnMatMul, MatMulInteger) {
  // y = (a - a_zp) @ (b - b_zp), b_zp per column.
  const Tensor a = Tensor::from_vector(DataType::UInt8, {2, 3}, std::vector<uint8_t>{11, 7, 3, 10, 6, 2});
  const Tensor b = Tensor::from_vector(DataType::UInt8, {3, 2}, std::vector<uint8_t>{1, 4, 2, 5, 3, 6});
  const Tensor azp = Tensor::from_vector(DataType::UInt8, {}, std::vector<uint8_t>{2});
  const Tensor bzp = Tensor::from_vector(DataType::UInt8, {2}, std::vector<uint8_t>{1, 4});
  const auto y = run_ref({"MatMulInteger", {a, b, azp, bzp}})[0];
  EXPECT_EQ(y.dtype(), DataType::Int32);
  // a - 2 = [[9 5 1] [8 4 0]]; b - [1 4] = [[0 0] [1 1] [2 2]]
  EXPECT_EQ(values<int32_t>(y), (std::vector<int32_t>{7, 7, 4, 4}));
  const auto y2 = run_ref({"MatMulInteger", {a, b}})[0];
  EXPECT_EQ(values<int32_t>(y2), (std::vector<int32_t>{11 + 14 + 9, 44 + 35 + 18, 10 + 12 + 6, 40 + 30 + 12}));
}

TEST(NnMatMul, SymbolicShapesAndErrors) {
  const auto out = infer_only("MatMul", {{DataType::Float32, ir::SymShape{nn::sym("B"), nn::sym("S"), 64}},
                                             {DataType::Float32, ir::SymShape{64, 128}}});
  EXPECT_EQ(ir::sym_str(*out[0].shape), "[B,S,128]");
  const auto g = infer_only("Gemm", {{DataType::Float32, ir::SymShape{nn::sym("B"), 64}},
                                         {DataType::Float32, ir::SymShape{10, 64}}, {DataType::Float32, ir::SymShape{10}}},
                                {{"transB", attr_i(1)}});
  EXPECT_EQ(ir::sym_str(*g[0].shape), "[B,10]");
  expect_error([] { run_ref({"MatMul", {rnd_f32({2, 3}, 1), rnd_f32({4, 2}, 2)}}); }, ErrorCode::InvalidModel,
               "inner dimensions");
  expect_error([] { run_ref({"MatMul", {rnd_f32({2, 2, 3}, 1), rnd_f32({3, 3, 2}, 2)}}); },
               ErrorCode::InvalidModel, "broadcast");
}

// Softmax over groups of `n` elements spaced `stride` apart, by definition.
std::vector<float> naive_softmax(const std::vector<float>& x, int64_t outer, int64_t n, int64_t inner, int kind) {
  std::vector<float> y(x.size());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      const auto at = [&](int64_t j) { return static_cast<size_t>((o * n + j) * inner + i); };
      double mx = -INFINITY, sum = 0;
      int64_t arg = 0;
      for (int64_t j = 0; j < n; ++j)
        if (x[at(j)] > mx) { mx = x[at(j)]; arg = j; }
      for (int64_t j = 0; j < n; ++j) sum += std::exp(x[at(j)] - mx);
      for (int64_t j = 0; j < n; ++j)
        y[at(j)] = static_cast<float>(kind == 0 ? std::exp(x[at(j)] - mx) / sum
                                      : kind == 1 ? x[at(j)] - mx - std::log(sum)
                                                  : (j == arg ? 1.0 : 0.0));
    }
  return y;
}

TEST(NnSoftmax, OldAndNewOpsetSemantics) {
  const Tensor x = f32({2, 3, 4}, rnd(24, 40, -5.f, 5.f));
  const auto xv = values<float>(x);
  const char* ops[] = {"Softmax", "LogSoftmax", "Hardmax"};
  for (int kind = 0; kind < 3; ++kind) {
    // Opset 13: along axis 1 only (3 values, stride 4); default axis -1.
    expect_close(run_ref({ops[kind], {x}, {{"axis", attr_i(1)}}, 1, 13})[0], {2, 3, 4}, naive_softmax(xv, 2, 3, 4, kind),
                 1e-5f, std::string(ops[kind]) + " opset 13 axis 1");
    expect_close(run_ref({ops[kind], {x}, {}, 1, 13})[0], {2, 3, 4}, naive_softmax(xv, 6, 4, 1, kind), 1e-5f,
                 std::string(ops[kind]) + " opset 13 default axis");
    // Opset 11: coerced to [2, 12] at axis 1 (the default), normalized over all 12.
    expect_close(run_ref({ops[kind], {x}, {}, 1, 11})[0], {2, 3, 4}, naive_softmax(xv, 2, 12, 1, kind), 1e-5f,
                 std::string(ops[kind]) + " opset 11 default axis");
    expect_close(run_ref({ops[kind], {x}, {{"axis", attr_i(0)}}, 1, 11})[0], {2, 3, 4},
                 naive_softmax(xv, 1, 24, 1, kind), 1e-5f, std::string(ops[kind]) + " opset 11 axis 0");
    expect_close(run_ref({ops[kind], {x}, {{"axis", attr_i(-1)}}, 1, 11})[0], {2, 3, 4},
                 naive_softmax(xv, 6, 4, 1, kind), 1e-5f, std::string(ops[kind]) + " opset 11 axis -1");
  }
}

TEST(NnSoftmax, LargeValuesAndDtypes) {
  const Tensor x = f32({1, 3}, {1000.f, 1001.f, 1002.f});
  expect_close(run_ref({"Softmax", {x}})[0], {1, 3}, naive_softmax({0, 1, 2}, 1, 3, 1, 0), 1e-6f, "stable");
  const Tensor r = f32({4, 5}, rnd(20, 41, -3.f, 3.f));
  const auto want = naive_softmax(values<float>(r), 4, 5, 1, 0);
  expect_close(run_ref({"Softmax", {nn::to_f64(r)}})[0], {4, 5}, want, 1e-6f, "f64");
  expect_close(run_ref({"Softmax", {nn::to_f16(r)}})[0], {4, 5}, want, 3e-3f, "f16");
  expect_error([] { run_ref({"Softmax", {rnd_f32({2, 3}, 1)}, {{"axis", attr_i(2)}}}); }, ErrorCode::InvalidModel,
               "axis 2 is out of range");
}

TEST(NnEinsum, ExplicitAndImplicitForms) {
  const Tensor a = rnd_f32({3, 4}, 50), b = rnd_f32({4, 5}, 51);
  Shape out;
  const auto mm = naive_matmul(a, b, &out);
  expect_close(run_ref({"Einsum", {a, b}, {{"equation", attr_s("ij,jk->ik")}}, 1, 12})[0], {3, 5}, mm, 1e-5f, "ij,jk->ik");
  expect_close(run_ref({"Einsum", {a, b}, {{"equation", attr_s("ij, jk")}}, 1, 12})[0], {3, 5}, mm, 1e-5f, "implicit");
  // Implicit output lists labels alphabetically: "ba" names x's axes b, a, so the output "ab" is x^T.
  std::vector<float> tr, rowsum, colsum(4, 0.f);
  for (int64_t j = 0; j < 4; ++j)
    for (int64_t i = 0; i < 3; ++i) tr.push_back(a.data<float>()[i * 4 + j]);
  for (int64_t i = 0; i < 3; ++i) {
    float s = 0;
    for (int64_t j = 0; j < 4; ++j) { s += a.data<float>()[i * 4 + j]; colsum[static_cast<size_t>(j)] += a.data<float>()[i * 4 + j]; }
    rowsum.push_back(s);
  }
  expect_close(run_ref({"Einsum", {a}, {{"equation", attr_s("ij->ji")}}, 1, 12})[0], {4, 3}, tr, 0, "transpose");
  expect_close(run_ref({"Einsum", {a}, {{"equation", attr_s("ba")}}, 1, 12})[0], {4, 3}, tr, 0, "implicit transpose");
  expect_close(run_ref({"Einsum", {a}, {{"equation", attr_s("ij->i")}}, 1, 12})[0], {3}, rowsum, 1e-5f, "row sum");
  expect_close(run_ref({"Einsum", {a}, {{"equation", attr_s("ij->j")}}, 1, 12})[0], {4}, colsum, 1e-5f, "column sum");
  float total = 0;
  for (float v : rowsum) total += v;
  expect_close(run_ref({"Einsum", {a}, {{"equation", attr_s("ij->")}}, 1, 12})[0], {}, {total}, 1e-5f, "full sum");
}

TEST(NnEinsum, DiagonalEllipsisAndBroadcast) {
  const Tensor x = rnd_f32({2, 3, 3}, 52);
  std::vector<float> diag, trace;
  for (int64_t b = 0; b < 2; ++b) {
    float t = 0;
    for (int64_t i = 0; i < 3; ++i) {
      diag.push_back(x.data<float>()[b * 9 + i * 4]);
      t += x.data<float>()[b * 9 + i * 4];
    }
    trace.push_back(t);
  }
  expect_close(run_ref({"Einsum", {x}, {{"equation", attr_s("...ii->...i")}}, 1, 12})[0], {2, 3}, diag, 0, "batch diagonal");
  expect_close(run_ref({"Einsum", {x}, {{"equation", attr_s("bii->b")}}, 1, 12})[0], {2}, trace, 1e-5f, "trace");
  // Broadcast batch through the ellipsis: [2,1,3,4] x [5,4,2] → [2,5,3,2].
  const Tensor a = rnd_f32({2, 1, 3, 4}, 53), b = rnd_f32({5, 4, 2}, 54);
  Shape out;
  const auto want = naive_matmul(a, b, &out);
  expect_close(run_ref({"Einsum", {a, b}, {{"equation", attr_s("...ij,...jk->...ik")}}, 1, 12})[0], out, want, 1e-5f,
               "ellipsis broadcast");
  const Tensor u = rnd_f32({5}, 55), v = rnd_f32({5}, 56);
  double dot = 0;
  for (int64_t i = 0; i < 5; ++i) dot += u.data<float>()[i] * v.data<float>()[i];
  expect_close(run_ref({"Einsum", {nn::to_f64(u), nn::to_f64(v)}, {{"equation", attr_s("i,i")}}, 1, 12})[0], {},
               {static_cast<float>(dot)}, 1e-6f, "inner product f64");
  expect_error([&] { run_ref({"Einsum", {a}, {{"equation", attr_s("ij->i")}}, 1, 12}); }, ErrorCode::InvalidModel,
               "rank");
  expect_error([&] { run_ref({"Einsum", {u, v}, {{"equation", attr_s("i->i")}}, 1, 12}); }, ErrorCode::InvalidModel,
               "operand terms");
  expect_error([&] { run_ref({"Einsum", {u}, {{"equation", attr_s("i->j")}}, 1, 12}); }, ErrorCode::InvalidModel,
               "not in any input");
  expect_error([&] { run_ref({"Einsum", {rnd_f32({3, 4}, 1), rnd_f32({5, 2}, 2)}, {{"equation", attr_s("ij,jk->ik")}}, 1, 12}); },
               ErrorCode::InvalidModel, "two sizes");
}

}  // namespace
}  // namespace kiln::test
