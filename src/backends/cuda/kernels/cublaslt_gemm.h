// Row-major (batched) GEMM on cuBLASLt, the matrix product every CUDA nn
// kernel here uses (Gemm, MatMul, the fused ones, Attention, Einsum):
//   D[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C   (+ epilogue)
// computed as the column-major D^T = op(B)^T op(A)^T, so no layout order
// attribute is needed. fp32 computes in full fp32 (CUBLAS_COMPUTE_32F, never
// TF32), f16/bf16 accumulate in fp32, f64 in f64. Plans (descriptors and the
// heuristic's algorithm) are cached per problem by the kernel instance.
#pragma once

#include <cublasLt.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "backends/cuda/kernels/cublaslt_util.h"
#include "kiln/tensor.h"

namespace kiln::backend::cuda {

// Scratch budget of one matmul.
constexpr uint64_t k_gemm_workspace = uint64_t{32} << 20;

struct GemmProblem {
  cudaDataType_t ab_type = CUDA_R_32F;  // A and B
  cudaDataType_t cd_type = CUDA_R_32F;  // C and D
  bool ta = false, tb = false;
  int64_t m = 0, n = 0, k = 0;
  int64_t lda = 0, ldb = 0, ldc = 0;  // row-major leading dims of the stored matrices
  int32_t batch = 1;
  int64_t stride_a = 0, stride_b = 0, stride_c = 0;  // elements between batch matrices (0: broadcast)
  cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_DEFAULT;  // BIAS: one value per column of D
  uint32_t align_a = 256, align_b = 256, align_c = 256, align_bias = 256;
  int pick = 0;  // which heuristic result: 0 the first, 1 the second (candidate "cublaslt_alt"), else the last found
  bool operator==(const GemmProblem&) const = default;
  std::string str() const;
};

struct GemmPlan {
  LtMatmulDesc op;
  LtMatrixLayout a, b, c;  // column-major views: a = B's buffer, b = A's buffer; c serves C and D
  cublasLtMatmulAlgo_t algo{};
  size_t workspace = 0;
  bool double_scale = false;
};

class GemmCache {
 public:
  // The plan, or nullptr when cuBLASLt has no algorithm for the problem (a
  // caller with an epilogue then retries without one).
  const GemmPlan* get(cublasLtHandle_t handle, const GemmProblem& p);

 private:
  std::vector<std::pair<GemmProblem, std::unique_ptr<GemmPlan>>> m_plans;
};

// Runs the plan on `stream`; alpha/beta are converted to the scale type.
// `c` may be `d` (or anything when beta is 0); `bias` is read with a BIAS
// epilogue only; `workspace` holds plan.workspace bytes.
void run_gemm(cublasLtHandle_t handle, const GemmPlan& plan, double alpha, const void* a, const void* b, double beta,
              const void* c, void* d, const void* bias, void* workspace, cudaStream_t stream);

// cudaDataType_t of a float dtype; false for others.
bool cuda_data_type(DataType dt, cudaDataType_t* out);

}  // namespace kiln::backend::cuda
