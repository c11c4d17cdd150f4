// Reference GEMM for the nn kernels: i-k-j loops over cache-sized blocks of B,
// so the innermost loop streams one row of B into one row of C (vectorizable).
#include <algorithm>
#include <vector>

#include "backends/cpu/kernels/nn_kernels.h"

namespace kiln::backend::nn {

namespace {

// Row-major copy of the transpose of a [rows x cols] matrix with leading dim ld.
template <typename T>
std::vector<T> transposed(const T* src, int64_t rows, int64_t cols, int64_t ld) {
  std::vector<T> out(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) out[static_cast<size_t>(c * rows + r)] = src[r * ld + c];
  return out;
}

constexpr int64_t k_block_k = 128;
constexpr int64_t k_block_n = 512;

}  // namespace

template <typename T>
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
          const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i) {
    T* row = c + i * ldc;
    if (beta == T(0)) std::fill(row, row + n, T(0));  // beta 0 ignores C, even NaN
    else if (beta != T(1)) for (int64_t j = 0; j < n; ++j) row[j] *= beta;
  }
  if (m == 0 || n == 0 || k == 0) return;
  // Transposed operands are copied once into plain row-major form.
  std::vector<T> at, bt;
  if (ta) { at = transposed(a, k, m, lda); a = at.data(); lda = k; }
  if (tb) { bt = transposed(b, n, k, ldb); b = bt.data(); ldb = n; }
  for (int64_t k0 = 0; k0 < k; k0 += k_block_k) {
    const int64_t k1 = std::min(k, k0 + k_block_k);
    for (int64_t j0 = 0; j0 < n; j0 += k_block_n) {
      const int64_t j1 = std::min(n, j0 + k_block_n);
      for (int64_t i = 0; i < m; ++i) {
        T* __restrict crow = c + i * ldc;
        const T* arow = a + i * lda;
        for (int64_t kk = k0; kk < k1; ++kk) {
          const T av = alpha * arow[kk];
          const T* __restrict brow = b + kk * ldb;
          for (int64_t j = j0; j < j1; ++j) crow[j] += av * brow[j];
        }
      }
    }
  }
}

#define KILN_GEMM(T)                                                                                 \
  template void gemm<T>(bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t, const T*, int64_t, \
                        T, T*, int64_t);
KILN_GEMM(float)
KILN_GEMM(double)
KILN_GEMM(int32_t)
KILN_GEMM(int64_t)
KILN_GEMM(uint32_t)
KILN_GEMM(uint64_t)
#undef KILN_GEMM

}  // namespace kiln::backend::nn
