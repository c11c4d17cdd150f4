// Attention's "flash_mma" kernel: FlashAttention-2's register design on
// mma.sync m16n8k16 (fp32 accumulate). Only Q, K and V tiles pass through
// shared memory; scores, probabilities and the output stay in the fragments
// the tensor cores use, whose layout PTX defines (lane = 4 * g + t):
//   A 16x16 (row): regs {row g | g+8} x {cols 2t, 2t+1 | +8}, two 16-bit values each
//   B 16x8  (col): regs {k 2t, 2t+1 | +8} at col g
//   C 16x8  (f32): c0, c1 at row g, cols 2t, 2t+1; c2, c3 at row g+8
// The score tile's C fragments are the probability tile's A fragments (two n
// tiles make one k tile), so P never leaves registers. A row's max and sum
// are held by the four lanes of its quad (g): shuffles over xor 1 and 2.
// Included by flash_attention.cu (FlashParams, load_tile, k_rows, k_cols).
#pragma once

namespace mma_detail {

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

template <typename T>
__device__ inline uint32_t pack2(T lo, T hi) {
  uint16_t a, b;
  if constexpr (std::is_same_v<T, half>) {
    a = __half_as_ushort(lo);
    b = __half_as_ushort(hi);
  } else {
    a = __bfloat16_as_ushort(lo);
    b = __bfloat16_as_ushort(hi);
  }
  return static_cast<uint32_t>(a) | (static_cast<uint32_t>(b) << 16);
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

__device__ inline float quad_max(float v) {
  v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 1));
  return fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 2));
}
__device__ inline float quad_sum(float v) {
  v += __shfl_xor_sync(0xffffffffu, v, 1);
  return v + __shfl_xor_sync(0xffffffffu, v, 2);
}

}  // namespace mma_detail

template <int D>
struct MmaLayout {
  static constexpr int ld = D + 8;  // T rows of the Q, K, V tiles (padded: a row starts 4 banks on)
  template <typename T>
  static constexpr size_t bytes() {
    return sizeof(T) * size_t{3} * 64 * ld;
  }
};

template <typename T, int D>
__global__ void __launch_bounds__(128) flash_mma_kernel(FlashParams p) {
  using namespace mma_detail;
  constexpr int ld = MmaLayout<D>::ld;
  extern __shared__ __align__(128) unsigned char smem_mma[];
  T* sq = reinterpret_cast<T*>(smem_mma);
  T* sk = sq + 64 * ld;
  T* sv = sk + 64 * ld;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  const int64_t b = blockIdx.y / p.heads, h = blockIdx.y % p.heads, kh = h / p.group;
  const int64_t q0 = static_cast<int64_t>(blockIdx.x) * 64;
  const T* qb = static_cast<const T*>(p.q) + b * p.qs[0] + h * p.qs[1];
  const T* kb = static_cast<const T*>(p.k) + b * p.ks[0] + kh * p.ks[1];
  const T* vb = static_cast<const T*>(p.v) + b * p.vs[0] + kh * p.vs[1];

  load_tile<T, D, ld>(sq, qb, p.qs[2], q0, p.sq);
  __syncthreads();
  // The warp's 16 query rows as A fragments, one per 16 of the head dim.
  uint32_t qa[D / 16][4];
  const T* qw = sq + warp * 16 * ld;
#pragma unroll
  for (int kt = 0; kt < D / 16; ++kt) {
    const int c = kt * 16 + 2 * t;
    qa[kt][0] = *reinterpret_cast<const uint32_t*>(qw + g * ld + c);
    qa[kt][1] = *reinterpret_cast<const uint32_t*>(qw + (g + 8) * ld + c);
    qa[kt][2] = *reinterpret_cast<const uint32_t*>(qw + g * ld + c + 8);
    qa[kt][3] = *reinterpret_cast<const uint32_t*>(qw + (g + 8) * ld + c + 8);
  }
  float o[D / 8][4];
#pragma unroll
  for (int i = 0; i < D / 8; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.f;
  float m0 = -INFINITY, m1 = -INFINITY, l0 = 0.f, l1 = 0.f;  // rows g and g + 8; l is this lane's part

  for (int64_t k0 = 0; k0 < p.skv; k0 += 64) {
    __syncthreads();  // the last tile's readers are done
    load_tile<T, D, ld>(sk, kb, p.ks[2], k0, p.skv);
    load_tile<T, D, ld>(sv, vb, p.vs[2], k0, p.skv);
    __syncthreads();
    // S = Q K^T: 8 tiles of 8 keys. B's column n is key n: K's row, contiguous in k.
    float s[8][4];
#pragma unroll
    for (int nt = 0; nt < 8; ++nt) {
      s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.f;
      const T* kr = sk + (nt * 8 + g) * ld + 2 * t;
#pragma unroll
      for (int kt = 0; kt < D / 16; ++kt)
        mma<T>(s[nt], qa[kt], *reinterpret_cast<const uint32_t*>(kr + kt * 16),
               *reinterpret_cast<const uint32_t*>(kr + kt * 16 + 8));
    }
    // Online softmax in base 2; keys past the end are -inf.
    const int64_t valid = p.skv - k0;
    float mx0 = -INFINITY, mx1 = -INFINITY;
#pragma unroll
    for (int nt = 0; nt < 8; ++nt)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const bool in = nt * 8 + 2 * t + e < valid;
        s[nt][e] = in ? s[nt][e] * p.scale_log2 : -INFINITY;
        s[nt][2 + e] = in ? s[nt][2 + e] * p.scale_log2 : -INFINITY;
        mx0 = fmaxf(mx0, s[nt][e]);
        mx1 = fmaxf(mx1, s[nt][2 + e]);
      }
    const float n0 = fmaxf(m0, quad_max(mx0)), n1 = fmaxf(m1, quad_max(mx1));  // finite: a tile has a key
    const float a0 = exp2f(m0 - n0), a1 = exp2f(m1 - n1);
    m0 = n0;
    m1 = n1;
    l0 *= a0;
    l1 *= a1;
#pragma unroll
    for (int i = 0; i < D / 8; ++i) {
      o[i][0] *= a0;
      o[i][1] *= a0;
      o[i][2] *= a1;
      o[i][3] *= a1;
    }
#pragma unroll
    for (int nt = 0; nt < 8; ++nt) {
      s[nt][0] = exp2f(s[nt][0] - n0);
      s[nt][1] = exp2f(s[nt][1] - n0);
      s[nt][2] = exp2f(s[nt][2] - n1);
      s[nt][3] = exp2f(s[nt][3] - n1);
      l0 += s[nt][0] + s[nt][1];
      l1 += s[nt][2] + s[nt][3];
    }
    // O += P V: P's k tile j is score tiles 2j and 2j+1; V's B fragment
    // takes two keys (rows) per register at column g.
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const uint32_t pa[4] = {pack<T>(s[2 * j][0], s[2 * j][1]), pack<T>(s[2 * j][2], s[2 * j][3]),
                              pack<T>(s[2 * j + 1][0], s[2 * j + 1][1]), pack<T>(s[2 * j + 1][2], s[2 * j + 1][3])};
      const T* vr = sv + (j * 16 + 2 * t) * ld + g;
#pragma unroll
      for (int dn = 0; dn < D / 8; ++dn) {
        const T* c = vr + dn * 8;
        mma<T>(o[dn], pa, pack2<T>(c[0], c[ld]), pack2<T>(c[8 * ld], c[9 * ld]));
      }
    }
  }

  const float inv0 = 1.f / quad_sum(l0), inv1 = 1.f / quad_sum(l1);
  const int64_t r0 = q0 + warp * 16 + g, r1 = r0 + 8;
  T* y0 = static_cast<T*>(p.y) + b * p.ys[0] + h * p.ys[1] + r0 * p.ys[2] + 2 * t;
  T* y1 = y0 + 8 * p.ys[2];
#pragma unroll
  for (int dn = 0; dn < D / 8; ++dn) {
    if (r0 < p.sq) *reinterpret_cast<uint32_t*>(y0 + dn * 8) = pack<T>(o[dn][0] * inv0, o[dn][1] * inv0);
    if (r1 < p.sq) *reinterpret_cast<uint32_t*>(y1 + dn * 8) = pack<T>(o[dn][2] * inv1, o[dn][3] * inv1);
  }
}
