// Gemm, MatMul (NumPy batched broadcasting, 1-D operands) and MatMulInteger
// reference kernels over nn::gemm.
#include <algorithm>
#include <optional>

#include "backends/cpu/kernels/nn_kernels.h"
#include "backends/nn_params.h"

namespace kiln::backend {

namespace {

using nn::AccIn;
using nn::AccOut;
using nn::product;

// Shapes of a NumPy matmul (a_batch/b_batch unpadded), as CUDA computes them.
using params::MatMulShape;
using params::matmul_shape;

// Matrix offsets (in matrices) of an operand with batch dims `own` for each
// batch index of the broadcast batch shape `batch`.
std::vector<int64_t> batch_offsets(const Shape& own, const Shape& batch) {
  const size_t rank = batch.size(), lead = rank - own.size();
  std::vector<int64_t> stride(rank, 0);
  for (int64_t d = static_cast<int64_t>(rank) - 1, s = 1; d >= static_cast<int64_t>(lead); --d) {
    const int64_t dim = own[static_cast<size_t>(d) - lead];
    stride[static_cast<size_t>(d)] = dim == 1 ? 0 : s;
    s *= dim;
  }
  std::vector<int64_t> out(static_cast<size_t>(product(batch)));
  std::vector<int64_t> idx(rank, 0);
  for (auto& o : out) {
    int64_t off = 0;
    for (size_t d = 0; d < rank; ++d) off += idx[d] * stride[d];
    o = off;
    for (size_t d = rank; d-- > 0;) {
      if (++idx[d] < batch[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

template <typename T>
void batched_matmul(const MatMulShape& s, const T* a, const T* b, T* y) {
  // B shared by every batch and A not broadcast: one GEMM over all rows of A.
  if (product(s.b_batch) == 1 && s.a_batch == s.batch) {
    nn::gemm<T>(false, false, product(s.batch) * s.m, s.n, s.k, T(1), a, s.k, b, s.n, T(0), y, s.n);
    return;
  }
  const auto ao = batch_offsets(s.a_batch, s.batch), bo = batch_offsets(s.b_batch, s.batch);
  for (size_t i = 0; i < ao.size(); ++i)
    nn::gemm<T>(false, false, s.m, s.n, s.k, T(1), a + ao[i] * s.m * s.k, s.k, b + bo[i] * s.k * s.n, s.n, T(0),
                y + static_cast<int64_t>(i) * s.m * s.n, s.n);
}

// Calls f(T{}) for the integer types nn::gemm is instantiated for.
template <typename F>
bool dispatch_gemm_int(DataType dt, F&& f) {
  switch (dt) {
    case DataType::Int32: f(int32_t{}); return true;
    case DataType::Int64: f(int64_t{}); return true;
    case DataType::UInt32: f(uint32_t{}); return true;
    case DataType::UInt64: f(uint64_t{}); return true;
    default: return false;
  }
}

void run_matmul(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  if (a.dtype() != b.dtype()) ctx.fail("A and B must have the same dtype");
  const MatMulShape s = matmul_shape(ctx, a.shape(), b.shape());
  Tensor& y = ctx.output(0, a.dtype(), s.out);
  if (dispatch_gemm_int(a.dtype(), [&](auto tag) {
        using T = decltype(tag);
        batched_matmul<T>(s, a.data<T>(), b.data<T>(), y.data<T>());
      }))
    return;
  nn::dispatch_acc(ctx, a.dtype(), [&](auto tag) {
    using A = decltype(tag);
    const AccIn<A> aa(a), ba(b);
    AccOut<A> ya(y);
    batched_matmul<A>(s, aa.data(), ba.data(), ya.data());
    ya.commit();
  });
}

void run_gemm(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  const params::GemmParams p = params::gemm_params(ctx);
  const bool ta = p.ta, tb = p.tb;
  const float alpha = p.alpha, beta = p.beta;
  const int64_t m = p.m, k = p.k, n = p.n, c_rows = p.c_rows, c_cols = p.c_cols;
  const Tensor* c = p.c;  // broadcasts one way to [M, N]: rows/cols of 1 repeat
  Tensor& y = ctx.output(0, a.dtype(), {m, n});
  const auto compute = [&](auto tag, const auto* ap, const auto* bp, const auto* cp, auto* yp) {
    using T = decltype(tag);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j)
        yp[i * n + j] = cp ? static_cast<T>(beta) * cp[(c_rows == 1 ? 0 : i) * c_cols + (c_cols == 1 ? 0 : j)] : T(0);
    nn::gemm<T>(ta, tb, m, n, k, static_cast<T>(alpha), ap, ta ? m : k, bp, tb ? k : n, T(1), yp, n);
  };
  if (dispatch_gemm_int(a.dtype(), [&](auto tag) {
        using T = decltype(tag);
        if (c && c->dtype() != a.dtype()) ctx.fail("C must have the dtype of A");
        compute(tag, a.data<T>(), b.data<T>(), c ? c->data<T>() : nullptr, y.data<T>());
      }))
    return;
  nn::dispatch_acc(ctx, a.dtype(), [&](auto tag) {
    using A = decltype(tag);
    const AccIn<A> aa(a), ba(b);
    std::optional<AccIn<A>> ca;
    if (c) ca.emplace(*c);
    AccOut<A> ya(y);
    compute(tag, aa.data(), ba.data(), ca ? ca->data() : static_cast<const A*>(nullptr), ya.data());
    ya.commit();
  });
}

// Operand minus its zero point, widened to int32. The zero point is a scalar,
// or 1-D with one value per row of A (`per` = M, `row_major`) or per column of
// B (`per` = N).
std::vector<int32_t> centered(KernelContext& ctx, const Tensor& t, size_t zp_input, int64_t per, bool per_row,
                              int64_t cols) {
  std::vector<int32_t> zp{0};
  if (ctx.has_input(zp_input)) {
    const Tensor& z = ctx.input(zp_input);
    if (z.rank() > 1 || (z.numel() != 1 && z.numel() != per))
      ctx.fail("zero point " + shape_str(z.shape()) + " must be a scalar or have " + std::to_string(per) + " values");
    zp.clear();
    for (int64_t i = 0; i < z.numel(); ++i) zp.push_back(static_cast<int32_t>(read_int(z, i)));
  }
  std::vector<int32_t> out(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) {
    const int64_t which = zp.size() == 1 ? 0 : per_row ? (i / cols) % per : i % cols;
    out[static_cast<size_t>(i)] = static_cast<int32_t>(read_int(t, i)) - zp[static_cast<size_t>(which)];
  }
  return out;
}

void run_matmul_integer(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  for (const Tensor* t : {&a, &b})
    if (t->dtype() != DataType::Int8 && t->dtype() != DataType::UInt8)
      ctx.fail("inputs must be int8 or uint8, got " + std::string(dtype_name(t->dtype())));
  const MatMulShape s = matmul_shape(ctx, a.shape(), b.shape());
  Tensor& y = ctx.output(0, DataType::Int32, s.out);
  const std::vector<int32_t> ac = centered(ctx, a, 2, s.m, true, s.k);
  const std::vector<int32_t> bc = centered(ctx, b, 3, s.n, false, s.n);
  batched_matmul<int32_t>(s, ac.data(), bc.data(), y.data<int32_t>());
}

}  // namespace

void register_cpu_matmul(KernelRegistry& r) {
  r.add_fn("Gemm", run_gemm);
  r.add_fn("MatMul", run_matmul);
  r.add_fn("MatMulInteger", run_matmul_integer);
}

}  // namespace kiln::backend
