// Shared by the CUDA detection family (detection.cu, resize*.cu,
// grid_sample.cu, roi_align.cu, nms.cu): the sub-family registrations,
// rounding-exact arithmetic helpers and workspace carving.
//
// The CPU kernels compute coordinates and weights in double (box geometry of
// NMS in float) without fused multiply-adds (the CPU build has no -mfma).
// nvcc contracts a*b+c into an FMA by default, which rounds once instead of
// twice and can move a nearest-neighbour index or an IoU comparison across a
// boundary; the *_rn intrinsics are never contracted, so device code that
// must agree with the CPU bit for bit uses them.
#pragma once

#include <cstdint>
#include <memory>
#include <type_traits>

#include "backends/cuda/kernels/common.cuh"

namespace kiln::backend::cuda {

void register_cuda_detection_resize(KernelRegistry& r);       // resize.cu (Resize, Upsample)
void register_cuda_detection_grid_sample(KernelRegistry& r);  // grid_sample.cu
void register_cuda_detection_roi_align(KernelRegistry& r);    // roi_align.cu
void register_cuda_detection_nms(KernelRegistry& r);          // nms.cu (NonMaxSuppression)

namespace det {

// ---- uncontracted arithmetic ----
__device__ __forceinline__ double dadd(double a, double b) { return __dadd_rn(a, b); }
__device__ __forceinline__ double dsub(double a, double b) { return __dsub_rn(a, b); }
__device__ __forceinline__ double dmul(double a, double b) { return __dmul_rn(a, b); }
__device__ __forceinline__ double ddiv(double a, double b) { return __ddiv_rn(a, b); }
__device__ __forceinline__ float fadd(float a, float b) { return __fadd_rn(a, b); }
__device__ __forceinline__ float fsub(float a, float b) { return __fsub_rn(a, b); }
__device__ __forceinline__ float fmul(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ float fdiv(float a, float b) { return __fdiv_rn(a, b); }

template <typename A>
__device__ __forceinline__ A add_rn(A a, A b) {
  if constexpr (std::is_same_v<A, float>) return __fadd_rn(a, b);
  else return __dadd_rn(a, b);
}
template <typename A>
__device__ __forceinline__ A mul_rn(A a, A b) {
  if constexpr (std::is_same_v<A, float>) return __fmul_rn(a, b);
  else return __dmul_rn(a, b);
}

// std::max / std::min exactly (NaN handling included): max(a, b) = a < b ? b : a.
template <typename V>
__host__ __device__ __forceinline__ V std_max(V a, V b) { return a < b ? b : a; }
template <typename V>
__host__ __device__ __forceinline__ V std_min(V a, V b) { return b < a ? b : a; }

// Element i of a float tensor of dtype dt as double, as read_double() reads
// it on the CPU (16-bit floats widen through float).
__device__ __forceinline__ double read_float(const void* p, DataType dt, int64_t i) {
  switch (dt) {
    case DataType::Float64: return static_cast<const double*>(p)[i];
    case DataType::Float16: return static_cast<double>(__half2float(static_cast<const half*>(p)[i]));
    case DataType::BFloat16: return static_cast<double>(__bfloat162float(static_cast<const bf16*>(p)[i]));
    default: return static_cast<double>(static_cast<const float*>(p)[i]);
  }
}

// Splits one workspace block into 256-byte aligned pieces: call take() for
// each piece to size it (base == nullptr), then again over the real block.
class Carver {
 public:
  explicit Carver(void* base = nullptr) : m_base(static_cast<char*>(base)) {}
  template <typename V>
  V* take(int64_t count) {
    const size_t at = m_used;
    m_used += (static_cast<size_t>(count) * sizeof(V) + 255) / 256 * 256;
    return m_base ? reinterpret_cast<V*>(m_base + at) : nullptr;
  }
  size_t used() const { return m_used; }

 private:
  char* m_base;
  size_t m_used = 0;
};

inline bool is_float_or_unknown(const ir::Graph& g, ir::ValueId v) {
  return dtype_in(g, v, {DataType::Float32, DataType::Float64, DataType::Float16, DataType::BFloat16});
}

}  // namespace det
}  // namespace kiln::backend::cuda
