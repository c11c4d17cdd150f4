// Gemm, MatMul and com.kiln FusedGemm / FusedMatMul on cuBLASLt
// (cublaslt_gemm.h). A bias per output column and a Relu or GELU ride in
// cuBLASLt's epilogue (BIAS, RELU(_BIAS), GELU(_BIAS)) where an algorithm
// takes it; any other
// activation, or an epilogue no algorithm takes, runs after as one
// elementwise pass (cublaslt_epilogue.h). MatMul's batch dims broadcast as in
// NumPy: one strided-batched call over the trailing batch dims where each
// operand is either whole or broadcast (batch stride 0), a loop over the rest.
#include <cstdlib>
#include <memory>
#include <string>

#include "backends/cuda/kernels/common.cuh"
#include "backends/cuda/kernels/cublaslt_epilogue.h"
#include "backends/cuda/kernels/cublaslt_gemm.h"
#include "backends/cuda/kernels/cudnn_util.h"
#include "backends/nn_params.h"
#include "core/env.h"
#include "ir/ops/fused_attrs.h"

namespace kiln::backend::cuda {

namespace {

uint32_t lt_align(const void* p) { return static_cast<uint32_t>(pointer_alignment(p, 256)); }

cudaDataType_t lt_type(const KernelContext& ctx, DataType dt) {
  cudaDataType_t t = CUDA_R_32F;
  if (!cuda_data_type(dt, &t)) unsupported(ctx, dt);
  return t;
}

// y[i, j] = scale * c[(c_rows == 1 ? 0 : i) * c_cols + (c_cols == 1 ? 0 : j)]: Gemm's C broadcast to [M, N].
template <typename T>
__global__ void broadcast_c_kernel(T* y, const T* c, int64_t m, int64_t n, int64_t c_rows, int64_t c_cols,
                                   double scale) {
  KILN_GRID_STRIDE(idx, m * n) {
    const int64_t i = idx / n, j = idx % n;
    const Acc<T> v = load(c[(c_rows == 1 ? 0 : i) * c_cols + (c_cols == 1 ? 0 : j)]);
    y[idx] = store<T>(v * static_cast<Acc<T>>(scale));
  }
}

void broadcast_c(const KernelContext& ctx, DataType dt, void* y, const void* c, int64_t m, int64_t n, int64_t c_rows,
                 int64_t c_cols, double scale) {
  cudaStream_t s = cuda_stream(ctx).get();
  dispatch_float(dt, ctx, [&](auto tag) {
    using T = decltype(tag);
    broadcast_c_kernel<T><<<grid_for(m * n), k_threads, 0, s>>>(static_cast<T*>(y), static_cast<const T*>(c), m, n,
                                                                c_rows, c_cols, scale);
    KILN_CUDA_LAUNCH("broadcast_c_kernel");
  });
}

// The activations cuBLASLt's epilogue computes: Relu, and GELU in its tanh
// form, which also stands for the erf form in 16-bit (|difference| < 5e-4,
// half an fp16 step at 1; the separate pass it saves reads and writes the
// whole output) unless KILN_EXACT_GELU=1.
bool epilogue_takes(const ir::FusedActivation& act, DataType dt) {
  if (act.kind == ir::Activation::Relu) return true;
  if (act.kind != ir::Activation::Gelu) return false;
  if (act.alpha != 0.f) return true;
  static const bool exact = env_flag("KILN_EXACT_GELU", false);
  return !exact && (dt == DataType::Float16 || dt == DataType::BFloat16);
}

cublasLtEpilogue_t epilogue_for(bool bias, const ir::FusedActivation& act, bool with_act) {
  if (with_act && act.kind == ir::Activation::Gelu) return bias ? CUBLASLT_EPILOGUE_GELU_BIAS : CUBLASLT_EPILOGUE_GELU;
  const bool relu = with_act && act.kind == ir::Activation::Relu;
  if (bias) return relu ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_BIAS;
  return relu ? CUBLASLT_EPILOGUE_RELU : CUBLASLT_EPILOGUE_DEFAULT;
}

// The plan for `p` with its epilogue, else without it (`fused` false then).
const GemmPlan& plan_with_fallback(const KernelContext& ctx, GemmCache& cache, GemmProblem& p, bool& fused) {
  CudaStream& s = cuda_stream(ctx);
  const GemmPlan* plan = cache.get(s.cublaslt(), p);
  fused = plan != nullptr;
  if (!plan && p.epilogue != CUBLASLT_EPILOGUE_DEFAULT) {
    p.epilogue = CUBLASLT_EPILOGUE_DEFAULT;
    p.align_bias = 256;
    plan = cache.get(s.cublaslt(), p);
  }
  if (!plan) throw Error(ErrorCode::Unsupported, ctx.node().label() + ": cuBLASLt has no algorithm for " + p.str());
  return *plan;
}

class GemmKernel final : public Kernel {
 public:
  GemmKernel(const ir::Node& node, int pick) : m_pick(pick) {
    if (node.domain == "com.kiln") m_act = ir::read_activation(node);
  }

  void run(KernelContext& ctx) override {
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    const params::GemmParams gp = params::gemm_params(ctx);
    const DataType dt = a.dtype();
    const cudaDataType_t type = lt_type(ctx, dt);
    const bool ta = gp.ta, tb = gp.tb;
    const double alpha = gp.alpha, beta = gp.beta;
    const int64_t m = gp.m, k = gp.k, n = gp.n, c_rows = gp.c_rows, c_cols = gp.c_cols;
    const Tensor* c = gp.c;
    if (c && c->dtype() != dt) ctx.fail("C must have the dtype of A");
    Tensor& y = ctx.output(0, dt, {m, n});
    if (!y.numel()) return;
    CudaStream& s = cuda_stream(ctx);

    // C as cuBLASLt's C (full [M, N]), as a bias epilogue (one row, beta 1),
    // or broadcast into Y first and accumulated there.
    const bool c_full = c && c_rows == m && c_cols == n;
    const bool c_row = c && !c_full && c_rows == 1 && c_cols == n && beta == 1.0;
    const void* c_ptr = nullptr;
    const void* bias = c_row ? c->raw() : nullptr;
    double beta_eff = 0;
    if (c_full) {
      c_ptr = c->raw();
      beta_eff = beta;
    } else if (c && !c_row) {
      broadcast_c(ctx, dt, y.raw(), c->raw(), m, n, c_rows, c_cols, 1.0);
      c_ptr = y.raw();
      beta_eff = beta;
    }
    if (k == 0) {  // no products: Y = beta * C (+ bias), activated
      if (c_ptr) broadcast_c(ctx, dt, y.raw(), c_ptr, m, n, m, n, beta_eff);
      else KILN_CUDA(cudaMemsetAsync(y.raw(), 0, y.nbytes(), s.get()));
      bias_activation(ctx, dt, y.raw(), bias, m * n, 1, n, m_act);
      return;
    }
    GemmProblem p;
    p.pick = m_pick;
    p.ab_type = p.cd_type = type;
    p.ta = ta;
    p.tb = tb;
    p.m = m;
    p.n = n;
    p.k = k;
    p.lda = a.shape()[1];
    p.ldb = b.shape()[1];
    p.ldc = n;
    p.align_a = lt_align(a.raw());
    p.align_b = lt_align(b.raw());
    p.align_c = std::min(lt_align(y.raw()), c_ptr ? lt_align(c_ptr) : 256u);
    p.align_bias = bias ? lt_align(bias) : 256u;
    const bool epi_act = epilogue_takes(m_act, dt);
    p.epilogue = epilogue_for(bias != nullptr, m_act, epi_act);
    bool fused = false;
    const GemmPlan& plan = plan_with_fallback(ctx, m_cache, p, fused);
    void* ws = plan.workspace ? s.workspace(plan.workspace) : nullptr;
    run_gemm(s.cublaslt(), plan, alpha, a.raw(), b.raw(), beta_eff, c_ptr, y.raw(), fused ? bias : nullptr, ws, s.get());
    // Whatever the epilogue did not do.
    bias_activation(ctx, dt, y.raw(), fused ? nullptr : bias, m * n, 1, n,
                    fused && epi_act ? ir::FusedActivation{} : m_act);
  }

 private:
  int m_pick;
  ir::FusedActivation m_act;
  GemmCache m_cache;
};

// NumPy matmul shapes, as the CPU computes them (backends/nn_params.h), with
// the operands' batch dims padded with 1s to the broadcast batch's rank.
using params::MatMulShape;

MatMulShape padded_matmul_shape(const KernelContext& ctx, const Shape& as, const Shape& bs) {
  MatMulShape s = params::matmul_shape(ctx, as, bs);
  const size_t rank = s.batch.size();
  s.a_batch.insert(s.a_batch.begin(), rank - s.a_batch.size(), 1);
  s.b_batch.insert(s.b_batch.begin(), rank - s.b_batch.size(), 1);
  return s;
}

int64_t product(const Shape& s, size_t begin = 0) {
  int64_t p = 1;
  for (size_t i = begin; i < s.size(); ++i) p *= s[i];
  return p;
}

// How the batch runs: `count` matrices per cuBLASLt call (A, B whole or
// broadcast over them), one call per entry of the offsets (in matrices).
struct BatchSplit {
  bool fold = false;  // B shared by every batch and A whole: one GEMM over all rows of A
  int64_t count = 1;
  bool a_whole = true, b_whole = true;
  std::vector<int64_t> a_off, b_off, y_off;
};

BatchSplit split_batch(const MatMulShape& s) {
  BatchSplit b;
  const size_t rank = s.batch.size();
  const int64_t total = product(s.batch);
  if (product(s.b_batch) == 1 && product(s.a_batch) == total) {
    b.fold = true;
    b.a_off = b.b_off = b.y_off = {0};
    return b;
  }
  const auto suffix_ok = [&](const Shape& own, size_t from) {
    bool whole = true, none = true;
    for (size_t d = from; d < rank; ++d) {
      whole = whole && own[d] == s.batch[d];
      none = none && own[d] == 1;
    }
    return whole || none;
  };
  size_t p = rank;
  while (p > 0 && suffix_ok(s.a_batch, p - 1) && suffix_ok(s.b_batch, p - 1)) --p;
  b.count = product(s.batch, p);
  for (size_t d = p; d < rank; ++d) {
    if (s.a_batch[d] != s.batch[d]) b.a_whole = false;
    if (s.b_batch[d] != s.batch[d]) b.b_whole = false;
  }
  // Per-dim matrix strides of each operand over the leading (looped) dims.
  std::vector<int64_t> sa(p), sb(p);
  for (size_t d = 0; d < p; ++d) {
    sa[d] = s.a_batch[d] == 1 ? 0 : product(s.a_batch, d + 1);
    sb[d] = s.b_batch[d] == 1 ? 0 : product(s.b_batch, d + 1);
  }
  const int64_t outer = product(Shape(s.batch.begin(), s.batch.begin() + static_cast<ptrdiff_t>(p)));
  std::vector<int64_t> idx(p, 0);
  for (int64_t o = 0; o < outer; ++o) {
    int64_t oa = 0, ob = 0;
    for (size_t d = 0; d < p; ++d) {
      oa += idx[d] * sa[d];
      ob += idx[d] * sb[d];
    }
    b.a_off.push_back(oa);
    b.b_off.push_back(ob);
    b.y_off.push_back(o * b.count);
    for (size_t d = p; d-- > 0;) {
      if (++idx[d] < s.batch[d]) break;
      idx[d] = 0;
    }
  }
  return b;
}

class MatMulKernel final : public Kernel {
 public:
  MatMulKernel(const ir::Node& node, int pick) : m_fused(node.domain == "com.kiln"), m_pick(pick) {
    if (m_fused) m_act = ir::read_activation(node);
  }

  void run(KernelContext& ctx) override {
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    if (a.dtype() != b.dtype()) ctx.fail("A and B must have the same dtype");
    const DataType dt = a.dtype();
    const cudaDataType_t type = lt_type(ctx, dt);
    const MatMulShape s = padded_matmul_shape(ctx, a.shape(), b.shape());
    const Tensor* bias = m_fused ? ctx.optional_input(2) : nullptr;
    if (bias && bias->dtype() != dt) ctx.fail("the added input must have the output's dtype");
    if (bias && (bias->rank() != 1 || s.out.empty() || bias->shape()[0] != s.out.back()))
      ctx.fail("added input " + shape_str(bias->shape()) + " does not fit the output " + shape_str(s.out));
    Tensor& y = ctx.output(0, dt, s.out);
    if (!y.numel()) return;
    CudaStream& st = cuda_stream(ctx);
    const int64_t cols = s.out.empty() ? 1 : s.out.back();
    const void* bias_ptr = bias ? bias->raw() : nullptr;
    if (s.k == 0) {
      KILN_CUDA(cudaMemsetAsync(y.raw(), 0, y.nbytes(), st.get()));
      bias_activation(ctx, dt, y.raw(), bias_ptr, y.numel(), 1, cols, m_act);
      return;
    }
    const BatchSplit split = split_batch(s);
    const size_t es = dtype_size(dt);
    const auto* a0 = static_cast<const char*>(a.raw());
    const auto* b0 = static_cast<const char*>(b.raw());
    auto* y0 = static_cast<char*>(y.raw());
    GemmProblem p;
    p.pick = m_pick;
    p.ab_type = p.cd_type = type;
    p.m = split.fold ? product(s.batch) * s.m : s.m;
    p.n = s.n;
    p.k = s.k;
    p.lda = s.k;
    p.ldb = s.n;
    p.ldc = s.n;
    p.batch = static_cast<int32_t>(split.count);
    p.stride_a = split.a_whole ? s.m * s.k : 0;
    p.stride_b = split.b_whole ? s.k * s.n : 0;
    p.stride_c = s.m * s.n;
    p.align_a = p.align_b = p.align_c = 256;
    for (size_t i = 0; i < split.a_off.size(); ++i) {
      p.align_a = std::min(p.align_a, lt_align(a0 + split.a_off[i] * s.m * s.k * static_cast<int64_t>(es)));
      p.align_b = std::min(p.align_b, lt_align(b0 + split.b_off[i] * s.k * s.n * static_cast<int64_t>(es)));
      p.align_c = std::min(p.align_c, lt_align(y0 + split.y_off[i] * s.m * s.n * static_cast<int64_t>(es)));
    }
    // The bias epilogue adds one value per column of each matrix: FusedMatMul's
    // bias when Y's last dim is N (B not 1-D).
    const bool epi_bias = bias && !s.b_vector;
    // The activation rides in the epilogue only when no bias is left to add
    // after the GEMM (1-D B: the bias runs per row, after), else Y would be
    // act(AB) + bias instead of act(AB + bias).
    const bool epi_act = epilogue_takes(m_act, dt) && (epi_bias || !bias);
    p.align_bias = epi_bias ? lt_align(bias_ptr) : 256u;
    p.epilogue = epilogue_for(epi_bias, m_act, epi_act);
    bool fused = false;
    const GemmPlan& plan = plan_with_fallback(ctx, m_cache, p, fused);
    void* ws = plan.workspace ? st.workspace(plan.workspace) : nullptr;
    for (size_t i = 0; i < split.a_off.size(); ++i)
      run_gemm(st.cublaslt(), plan, 1.0, a0 + split.a_off[i] * s.m * s.k * static_cast<int64_t>(es),
               b0 + split.b_off[i] * s.k * s.n * static_cast<int64_t>(es), 0.0, nullptr,
               y0 + split.y_off[i] * s.m * s.n * static_cast<int64_t>(es), fused && epi_bias ? bias_ptr : nullptr, ws,
               st.get());
    const bool bias_done = fused && epi_bias, act_done = fused && epi_act;
    bias_activation(ctx, dt, y.raw(), bias_done ? nullptr : bias_ptr, y.numel(), 1, cols,
                    act_done ? ir::FusedActivation{} : m_act);
  }

 private:
  bool m_fused;
  int m_pick;
  ir::FusedActivation m_act;
  GemmCache m_cache;
};

void check_node(const ir::Node& n, const ir::Graph& g) {
  for (size_t i = 0; i < n.inputs.size(); ++i)
    if (!dtype_in(g, n.inputs[i], {DataType::Float32, DataType::Float16, DataType::BFloat16, DataType::Float64}))
      throw Error(ErrorCode::Unsupported, n.label() + ": dtype " + std::string(dtype_name(g.value(n.inputs[i]).dtype)) +
                                              " is not supported by the cuBLASLt kernels (f32, f16, bf16, f64)");
  if (n.domain == "com.kiln") ir::read_activation(n);
}

}  // namespace

void register_cuda_matmul(KernelRegistry& r) {
  // cuBLASLt's second heuristic pick first, its first (the default) last:
  // the builder times both (as for the cuDNN convolutions).
  for (const int pick : {1, 0}) {
    const std::string name = pick ? "cublaslt_alt" : "cublaslt";
    for (const char* op : {"Gemm", "FusedGemm"})
      r.add(op, [pick](const ir::Node& n, const ir::Graph& g) -> std::unique_ptr<Kernel> {
        check_node(n, g);
        return std::make_unique<GemmKernel>(n, pick);
      }, name);
    for (const char* op : {"MatMul", "FusedMatMul"})
      r.add(op, [pick](const ir::Node& n, const ir::Graph& g) -> std::unique_ptr<Kernel> {
        check_node(n, g);
        return std::make_unique<MatMulKernel>(n, pick);
      }, name);
  }
}

}  // namespace kiln::backend::cuda
