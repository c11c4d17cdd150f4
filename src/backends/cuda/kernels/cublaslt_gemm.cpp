#include "backends/cuda/kernels/cublaslt_gemm.h"

#include "kiln/error.h"

namespace kiln::backend::cuda {

namespace {

template <typename V>
void set_desc(cublasLtMatmulDesc_t d, cublasLtMatmulDescAttributes_t attr, const V& v) {
  KILN_CUBLAS(cublasLtMatmulDescSetAttribute(d, attr, &v, sizeof(V)));
}
template <typename V>
void set_layout(cublasLtMatrixLayout_t l, cublasLtMatrixLayoutAttribute_t attr, const V& v) {
  KILN_CUBLAS(cublasLtMatrixLayoutSetAttribute(l, attr, &v, sizeof(V)));
}
template <typename V>
void set_pref(cublasLtMatmulPreference_t p, cublasLtMatmulPreferenceAttributes_t attr, const V& v) {
  KILN_CUBLAS(cublasLtMatmulPreferenceSetAttribute(p, attr, &v, sizeof(V)));
}

LtMatrixLayout batched_layout(cudaDataType_t type, int64_t rows, int64_t cols, int64_t ld, int32_t batch,
                              int64_t stride) {
  LtMatrixLayout l = make_layout(type, static_cast<uint64_t>(rows), static_cast<uint64_t>(cols), ld);
  if (batch > 1) {
    set_layout(l.get(), CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, batch);
    set_layout(l.get(), CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, stride);
  }
  return l;
}

std::unique_ptr<GemmPlan> build(cublasLtHandle_t handle, const GemmProblem& p) {
  auto plan = std::make_unique<GemmPlan>();
  plan->double_scale = p.ab_type == CUDA_R_64F;
  const cublasComputeType_t compute = plan->double_scale ? CUBLAS_COMPUTE_64F : CUBLAS_COMPUTE_32F;
  const cudaDataType_t scale = plan->double_scale ? CUDA_R_64F : CUDA_R_32F;
  plan->op = make_matmul_desc(compute, scale);
  // Column-major D^T[N,M] = op(B)^T[N,K] * op(A)^T[K,M]: cuBLASLt's A is our
  // B's buffer, its B our A's.
  const int32_t op_a = p.tb ? CUBLAS_OP_T : CUBLAS_OP_N, op_b = p.ta ? CUBLAS_OP_T : CUBLAS_OP_N;
  set_desc(plan->op.get(), CUBLASLT_MATMUL_DESC_TRANSA, op_a);
  set_desc(plan->op.get(), CUBLASLT_MATMUL_DESC_TRANSB, op_b);
  if (p.epilogue != CUBLASLT_EPILOGUE_DEFAULT) {
    const uint32_t epi = static_cast<uint32_t>(p.epilogue);
    set_desc(plan->op.get(), CUBLASLT_MATMUL_DESC_EPILOGUE, epi);
    if (p.epilogue & CUBLASLT_EPILOGUE_BIAS) {
      // The heuristic reads the bias pointer's alignment only: an address
      // with the alignment the real pointer will have.
      const void* stand_in = reinterpret_cast<const void*>(static_cast<uintptr_t>(p.align_bias));
      set_desc(plan->op.get(), CUBLASLT_MATMUL_DESC_BIAS_POINTER, stand_in);
    }
  }
  plan->a = p.tb ? batched_layout(p.ab_type, p.k, p.n, p.ldb, p.batch, p.stride_b)
                 : batched_layout(p.ab_type, p.n, p.k, p.ldb, p.batch, p.stride_b);
  plan->b = p.ta ? batched_layout(p.ab_type, p.m, p.k, p.lda, p.batch, p.stride_a)
                 : batched_layout(p.ab_type, p.k, p.m, p.lda, p.batch, p.stride_a);
  plan->c = batched_layout(p.cd_type, p.n, p.m, p.ldc, p.batch, p.stride_c);

  LtPreference pref = make_preference();
  set_pref(pref.get(), CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, k_gemm_workspace);
  set_pref(pref.get(), CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, p.align_b);
  set_pref(pref.get(), CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, p.align_a);
  set_pref(pref.get(), CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, p.align_c);
  set_pref(pref.get(), CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, p.align_c);

  cublasLtMatmulHeuristicResult_t results[2]{};
  int found = 0;
  const int want = p.pick > 0 ? 2 : 1;
  const cublasStatus_t s = cublasLtMatmulAlgoGetHeuristic(handle, plan->op.get(), plan->a.get(), plan->b.get(),
                                                          plan->c.get(), plan->c.get(), pref.get(), want, results, &found);
  if (s == CUBLAS_STATUS_NOT_SUPPORTED || (s == CUBLAS_STATUS_SUCCESS && found < 1)) return nullptr;
  KILN_CUBLAS(s);
  // The alternative falls back to the first result when there is no second.
  const bool second = p.pick > 0 && found > 1 && results[1].state == CUBLAS_STATUS_SUCCESS;
  const cublasLtMatmulHeuristicResult_t& result = results[second ? 1 : 0];
  if (result.state != CUBLAS_STATUS_SUCCESS) return nullptr;
  plan->algo = result.algo;
  plan->workspace = result.workspaceSize;
  return plan;
}

}  // namespace

bool cuda_data_type(DataType dt, cudaDataType_t* out) {
  switch (dt) {
    case DataType::Float32: *out = CUDA_R_32F; return true;
    case DataType::Float16: *out = CUDA_R_16F; return true;
    case DataType::BFloat16: *out = CUDA_R_16BF; return true;
    case DataType::Float64: *out = CUDA_R_64F; return true;
    default: return false;
  }
}

std::string GemmProblem::str() const {
  return "[" + std::to_string(m) + "x" + std::to_string(k) + "]" + (ta ? "^T" : "") + " * [" + std::to_string(k) +
         "x" + std::to_string(n) + "]" + (tb ? "^T" : "") + " x" + std::to_string(batch) + " (type " +
         std::to_string(static_cast<int>(ab_type)) + "->" + std::to_string(static_cast<int>(cd_type)) + ", epilogue " +
         std::to_string(static_cast<int>(epilogue)) + ")";
}

const GemmPlan* GemmCache::get(cublasLtHandle_t handle, const GemmProblem& p) {
  for (const auto& [key, plan] : m_plans)
    if (key == p) return plan.get();
  m_plans.emplace_back(p, build(handle, p));
  return m_plans.back().second.get();
}

void run_gemm(cublasLtHandle_t handle, const GemmPlan& plan, double alpha, const void* a, const void* b, double beta,
              const void* c, void* d, const void* bias, void* workspace, cudaStream_t stream) {
  if (bias) set_desc(plan.op.get(), CUBLASLT_MATMUL_DESC_BIAS_POINTER, bias);
  const float alpha_f = static_cast<float>(alpha), beta_f = static_cast<float>(beta);
  const void* pa = plan.double_scale ? static_cast<const void*>(&alpha) : &alpha_f;
  const void* pb = plan.double_scale ? static_cast<const void*>(&beta) : &beta_f;
  KILN_CUBLAS(cublasLtMatmul(handle, plan.op.get(), pa, b, plan.a.get(), a, plan.b.get(), pb, c ? c : d,
                             plan.c.get(), d, plan.c.get(), &plan.algo, workspace, plan.workspace, stream));
}

}  // namespace kiln::backend::cuda
