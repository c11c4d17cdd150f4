// RAII for cuBLASLt descriptors: each is destroyed by its owner.
#pragma once

#include <cublasLt.h>

#include <utility>

#include "backends/cuda/cuda_check.h"

namespace kiln::backend::cuda {

template <typename H, cublasStatus_t (*Destroy)(H)>
class LtOwned {
 public:
  LtOwned() = default;
  explicit LtOwned(H h) : m_h(h) {}
  ~LtOwned() { reset(); }
  LtOwned(LtOwned&& o) noexcept : m_h(std::exchange(o.m_h, nullptr)) {}
  LtOwned& operator=(LtOwned&& o) noexcept {
    if (this != &o) {
      reset();
      m_h = std::exchange(o.m_h, nullptr);
    }
    return *this;
  }
  LtOwned(const LtOwned&) = delete;
  LtOwned& operator=(const LtOwned&) = delete;

  H get() const { return m_h; }
  void reset() {
    if (m_h) Destroy(m_h);
    m_h = nullptr;
  }

 private:
  H m_h = nullptr;
};

using LtMatmulDesc = LtOwned<cublasLtMatmulDesc_t, cublasLtMatmulDescDestroy>;
using LtMatrixLayout = LtOwned<cublasLtMatrixLayout_t, cublasLtMatrixLayoutDestroy>;
using LtPreference = LtOwned<cublasLtMatmulPreference_t, cublasLtMatmulPreferenceDestroy>;

inline LtMatmulDesc make_matmul_desc(cublasComputeType_t compute, cudaDataType_t scale) {
  cublasLtMatmulDesc_t d = nullptr;
  KILN_CUBLAS(cublasLtMatmulDescCreate(&d, compute, scale));
  return LtMatmulDesc(d);
}
inline LtMatrixLayout make_layout(cudaDataType_t type, uint64_t rows, uint64_t cols, int64_t ld) {
  cublasLtMatrixLayout_t l = nullptr;
  KILN_CUBLAS(cublasLtMatrixLayoutCreate(&l, type, rows, cols, ld));
  return LtMatrixLayout(l);
}
inline LtPreference make_preference() {
  cublasLtMatmulPreference_t p = nullptr;
  KILN_CUBLAS(cublasLtMatmulPreferenceCreate(&p));
  return LtPreference(p);
}

}  // namespace kiln::backend::cuda
