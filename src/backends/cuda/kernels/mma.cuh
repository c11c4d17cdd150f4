// Tensor-core building blocks on mma.sync (sm_80+), shared by kiln's own
// matrix kernels (flash_mma attention, the direct stem convolution): the
// fragment layouts PTX defines for m16n8k16 with fp32 accumulation
// (lane = 4 * g + t):
//   A 16x16 (row): regs {row g | g+8} x {cols 2t, 2t+1 | +8}, two 16-bit values each
//   B 16x8  (col): regs {k 2t, 2t+1 | +8} at col g
//   C 16x8  (f32): c0, c1 at row g, cols 2t, 2t+1; c2, c3 at row g+8
// Include from .cu files only, after common.cuh.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

namespace kiln::backend::cuda::mma_detail {

template <typename T>
__device__ inline uint32_t pack(float lo, float hi) {
  uint32_t r;
  if constexpr (std::is_same_v<T, half>) {
    const __half2 h = __floats2half2_rn(lo, hi);
    memcpy(&r, &h, 4);
  } else {
    const __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
    memcpy(&r, &h, 4);
  }
  return r;
}

// The larger of two pairs of T, per half (a NaN loses to a number): the
// pooling kernels' maximum (direct_mma, stem_mma).
template <typename T>
__device__ inline uint32_t max2(uint32_t a, uint32_t b) {
  uint32_t r;
  if constexpr (std::is_same_v<T, half>) {
    __half2 x, y;
    memcpy(&x, &a, 4);
    memcpy(&y, &b, 4);
    const __half2 m = __hmax2(x, y);
    memcpy(&r, &m, 4);
  } else {
    __nv_bfloat162 x, y;
    memcpy(&x, &a, 4);
    memcpy(&y, &b, 4);
    const __nv_bfloat162 m = __hmax2(x, y);
    memcpy(&r, &m, 4);
  }
  return r;
}

template <typename T>
__device__ inline uint4 max8(uint4 a, const uint4& b) {
  a.x = max2<T>(a.x, b.x);
  a.y = max2<T>(a.y, b.y);
  a.z = max2<T>(a.z, b.z);
  a.w = max2<T>(a.w, b.w);
  return a;
}

// d = a . b + d
template <typename T>
__device__ inline void mma(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  if constexpr (std::is_same_v<T, half>) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  } else {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
}

// d = a . b + d over k = 8 (a K whose last step is half a k16 one): A is
// {row g | g+8} x cols 2t, 2t+1 (a[0], a[1]), B k 2t, 2t+1 at col g.
template <typename T>
__device__ inline void mma_k8(float (&d)[4], uint32_t a0, uint32_t a1, uint32_t b0) {
  if constexpr (std::is_same_v<T, half>) {
    asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5}, {%6}, {%0,%1,%2,%3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a0), "r"(a1), "r"(b0));
  } else {
    asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5}, {%6}, {%0,%1,%2,%3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a0), "r"(a1), "r"(b0));
  }
}

// cp.async (16 bytes, zero-filled when !valid) and ldmatrix: the tiles reach
// shared memory without passing through registers, the next K/V tile while
// this one is in use, and a warp takes four 8x8 fragments an instruction.
__device__ inline void cp_async16(void* dst, const void* src, bool valid) {
  const auto s = static_cast<unsigned>(__cvta_generic_to_shared(dst));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(src), "r"(valid ? 16 : 0));
}
__device__ inline void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ inline void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}
__device__ inline void ldmatrix_x4(uint32_t (&r)[4], const void* p) {
  const auto s = static_cast<unsigned>(__cvta_generic_to_shared(p));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(s));
}
__device__ inline void ldmatrix_x4_trans(uint32_t (&r)[4], const void* p) {
  const auto s = static_cast<unsigned>(__cvta_generic_to_shared(p));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(s));
}

}  // namespace kiln::backend::cuda::mma_detail
