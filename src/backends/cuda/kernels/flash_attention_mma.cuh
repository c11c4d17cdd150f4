// Attention's "flash_mma" kernel: FlashAttention-2's register design on
// mma.sync m16n8k16 (fp32 accumulate). Only Q, K and V tiles pass through
// shared memory; scores, probabilities and the output stay in the fragments
// the tensor cores use (their layouts: mma.cuh). The score tile's C fragments are the probability tile's A fragments (two n
// tiles make one k tile), so P never leaves registers. A row's max and sum
// are held by the four lanes of its quad (g): shuffles over xor 1 and 2.
// Included by flash_attention.cu (FlashParams). The next K/V tile is copied
// (cp.async) while this one is in use.
#pragma once

namespace flash_detail {

using namespace mma_detail;

__device__ inline float quad_max(float v) {
  v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 1));
  return fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 2));
}
__device__ inline float quad_sum(float v) {
  v += __shfl_xor_sync(0xffffffffu, v, 1);
  return v + __shfl_xor_sync(0xffffffffu, v, 2);
}

// Rows [row0, row0 + 64) of a [rows, D] matrix (row stride ss) into shared
// memory (row stride LD) by cp.async; rows past the end are zeros.
template <typename T, int D, int LD>
__device__ inline void load_tile_async(T* dst, const T* src, int64_t ss, int64_t row0, int64_t rows) {
  constexpr int vec = 16 / sizeof(T), per_row = D / vec;
  for (int i = threadIdx.x; i < 64 * per_row; i += blockDim.x) {
    const int r = i / per_row, c = (i % per_row) * vec;
    const bool in = row0 + r < rows;
    cp_async16(dst + r * LD + c, in ? src + (row0 + r) * ss + c : src, in);
  }
}

}  // namespace flash_detail

template <int D>
struct MmaLayout {
  // T rows of the Q, K, V tiles, padded so that the 8 rows an ldmatrix reads
  // (16 bytes each) fall on 8 distinct groups of 4 banks.
  static constexpr int ld = D + 8;
  static constexpr int tile = 64 * ld;
  template <typename T>
  static constexpr size_t bytes() {
    return sizeof(T) * size_t{5} * tile;  // Q, then K and V twice (the tile in use and the next)
  }
};

template <typename T, int D>
__global__ void __launch_bounds__(128) flash_mma_kernel(FlashParams p) {
  using namespace mma_detail;
  using namespace flash_detail;
  constexpr int ld = MmaLayout<D>::ld, tile = MmaLayout<D>::tile;
  extern __shared__ __align__(128) unsigned char smem_mma[];
  T* sq = reinterpret_cast<T*>(smem_mma);
  T* const skv = sq + tile;  // buffer i: K at skv + 2 * i * tile, V one tile on
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  // The row and column this lane addresses for an ldmatrix x4: matrix
  // lane / 8, row lane % 8 of it.
  const int lm = lane >> 3, lr = lane & 7;
  const int64_t b = blockIdx.y / p.heads, h = blockIdx.y % p.heads, kh = h / p.group;
  const int64_t q0 = static_cast<int64_t>(blockIdx.x) * 64;
  const T* qb = static_cast<const T*>(p.q) + b * p.qs[0] + h * p.qs[1];
  const T* kb = static_cast<const T*>(p.k) + b * p.ks[0] + kh * p.ks[1];
  const T* vb = static_cast<const T*>(p.v) + b * p.vs[0] + kh * p.vs[1];
  const int64_t tiles = (p.skv + 63) / 64;

  load_tile_async<T, D, ld>(sq, qb, p.qs[2], q0, p.sq);
  load_tile_async<T, D, ld>(skv, kb, p.ks[2], 0, p.skv);
  load_tile_async<T, D, ld>(skv + tile, vb, p.vs[2], 0, p.skv);
  cp_async_commit();

  uint32_t qa[D / 16][4];  // the warp's 16 query rows as A fragments, one per 16 of the head dim
  float o[D / 8][4];
#pragma unroll
  for (int i = 0; i < D / 8; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.f;
  float m0 = -INFINITY, m1 = -INFINITY, l0 = 0.f, l1 = 0.f;  // rows g and g + 8; l is this lane's part

  for (int64_t j = 0; j < tiles; ++j) {
    // The next tile's copy runs while this one is used: it goes to the buffer
    // the last iteration read, which its closing barrier released.
    if (j + 1 < tiles) {
      T* nk = skv + ((j + 1) & 1) * 2 * tile;
      load_tile_async<T, D, ld>(nk, kb, p.ks[2], (j + 1) * 64, p.skv);
      load_tile_async<T, D, ld>(nk + tile, vb, p.vs[2], (j + 1) * 64, p.skv);
    }
    cp_async_commit();
    cp_async_wait<1>();  // all but the group just issued: this tile (and Q)
    __syncthreads();
    if (j == 0) {
      // A 16x16 fragment: matrices (rows 0-7 | 8-15) x (cols 0-7 | 8-15), in
      // the order a0..a3 takes them.
      const T* qw = sq + (warp * 16 + lr + (lm & 1) * 8) * ld + (lm >> 1) * 8;
#pragma unroll
      for (int kt = 0; kt < D / 16; ++kt) ldmatrix_x4(qa[kt], qw + kt * 16);
    }
    const T* sk = skv + (j & 1) * 2 * tile;
    const T* sv = sk + tile;
    // S = Q K^T: 8 tiles of 8 keys. B's column n is key n, K's row: one x4
    // gives the (b0, b1) of two 16-wide k steps. The last tile's products
    // past the end are skipped (uniform over the block): a sequence of 197
    // leaves 5 keys there.
    const int64_t valid = p.skv - j * 64;
    float s[8][4];
#pragma unroll
    for (int nt = 0; nt < 8; ++nt) {
      s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.f;
      if (nt * 8 >= valid) continue;
      const T* kr = sk + (nt * 8 + lr) * ld + lm * 8;
#pragma unroll
      for (int kt = 0; kt < D / 16; kt += 2) {
        uint32_t kf[4];
        ldmatrix_x4(kf, kr + kt * 16);
        mma<T>(s[nt], qa[kt], kf[0], kf[1]);
        mma<T>(s[nt], qa[kt + 1], kf[2], kf[3]);
      }
    }
    // Online softmax in base 2; keys past the end are -inf.
    float mx0 = -INFINITY, mx1 = -INFINITY;
#pragma unroll
    for (int nt = 0; nt < 8; ++nt)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const bool in = valid >= 64 || nt * 8 + 2 * t + e < valid;
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
    // O += P V: P's k tile kk is score tiles 2kk and 2kk+1. V's B fragment
    // (two keys per register at column g) is a transposed ldmatrix of V's
    // rows: matrices (keys 0-7 | 8-15) x (dims of tile dn | dn + 1).
#pragma unroll
    for (int kk = 0; kk < 4; ++kk) {
      if (kk * 16 >= valid) break;  // probabilities of keys past the end are 0
      const uint32_t pa[4] = {pack<T>(s[2 * kk][0], s[2 * kk][1]), pack<T>(s[2 * kk][2], s[2 * kk][3]),
                              pack<T>(s[2 * kk + 1][0], s[2 * kk + 1][1]),
                              pack<T>(s[2 * kk + 1][2], s[2 * kk + 1][3])};
      const T* vr = sv + (kk * 16 + (lm & 1) * 8 + lr) * ld + (lm >> 1) * 8;
#pragma unroll
      for (int dn = 0; dn < D / 8; dn += 2) {
        uint32_t vf[4];
        ldmatrix_x4_trans(vf, vr + dn * 8);
        mma<T>(o[dn], pa, vf[0], vf[1]);
        mma<T>(o[dn + 1], pa, vf[2], vf[3]);
      }
    }
    __syncthreads();  // this tile's readers are done before its buffer is refilled
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
