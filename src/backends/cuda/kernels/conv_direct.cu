// The direct_mma convolution of conv_direct.h.
#include <algorithm>
#include <tuple>
#include <utility>

#include "backends/cuda/kernels/common.cuh"
#include "backends/cuda/kernels/conv_direct.h"
#include "backends/cuda/kernels/conv_few_channels.h"
#include "backends/cuda/kernels/mma.cuh"
#include "backends/cuda/kernels/smem_limit.h"
#include "backends/nn_params.h"
#include "ir/ops/fused_attrs.h"
#include "ir/ops/nn_attrs.h"

namespace kiln::backend::cuda {

namespace {

using mma_detail::max2;
using mma_detail::max8;

constexpr int k_tile = 128;  // output positions per block tile: 8 warps x 16 rows
constexpr int k_warps = k_tile / 16;
constexpr int k_block = k_warps * 32;
constexpr int k_max_rows = 24;  // C x KH, the k slices of 8
constexpr int k_max_m = 64;
constexpr int k_max_new = 1;  // rows a warp loads for the next conv row (C x SH <= 8)

// The width of a ring row: the input columns of k_tile positions and an
// 8-wide kernel (stride S), rounded up to even.
template <int S>
constexpr int k_pwp = ((k_tile - 1) * S + 8 + 1) / 2 * 2;
template <int S>
constexpr int k_chunks = (k_pwp<S> + 31) / 32;  // 32-wide chunks of a ring row

struct DirectArgs {
  const void* x;
  const void* wp;    // [m8, kp]: W packed, k = (c * kh + ky) * 8 + kx, zeros past W
  const void* bias;  // [m] or null
  void* y;
  int32_t n, c, h, w, oh, ow, m;
  int32_t kh, sh, sw, ph, pw;
  int32_t rows, rp;  // C x KH; rounded up to even (k steps of 16 = two rows)
  int32_t kp;        // rp * 8
  int32_t ldw;       // shared W row stride: kp + 8 (conflict-free B fragments)
  int32_t ring;      // input rows kept per channel: kh + sh
  bool slide;        // C x SH <= k_warps * k_max_new: a conv row loads only its new input rows
  int32_t tiles_per_row;
  int64_t units;     // work items: conv rows of one tile column, or pooled rows, of one image
  int32_t bands;     // units per image
  int32_t band;      // conv rows a unit takes (plain), pooled rows (pool)
  bool x_nhwc, y_nhwc, relu, y_vec;  // y_vec: 16-byte stores (m % 8 == 0, Y aligned)
  // FusedConvPool: Y is MaxPool(conv), [n, m, poh, pow]; conv rows are one
  // tile wide (ow <= k_tile).
  bool pool;
  int32_t pkh, pkw, psh, psw, pph, ppw, poh, pow;
};

int32_t round_even(int32_t v) { return (v + 1) / 2 * 2; }

// Two 16-bit values at p (S = 1: p may be odd, two loads).
template <int S>
__device__ inline uint32_t load_pair(const uint16_t* p) {
  if constexpr (S == 2) {
    return *reinterpret_cast<const uint32_t*>(p);
  } else {
    return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 16);
  }
}

// X's element as T's bits: a 16-bit X as it is, a float32 one rounded.
template <typename T, typename XT>
__device__ inline uint16_t x_bits(XT v) {
  if constexpr (std::is_same_v<XT, uint16_t>) {
    return v;
  } else {
    const T h = store<T>(v);
    uint16_t r;
    memcpy(&r, &h, 2);
    return r;
  }
}

// A unit of work: conv rows lo..hi of one image, columns ox0 .. ox0 + cnt;
// with a pool, pooled rows pb0 .. pb1 - 1 of Y.
struct Unit {
  int32_t img, ox0, cnt, lo, hi, pb0, pb1;
};
__device__ inline Unit unit_at(const DirectArgs& a, int64_t u) {
  Unit r;
  r.img = static_cast<int32_t>(u / a.bands);
  const auto b = static_cast<int32_t>(u - static_cast<int64_t>(r.img) * a.bands);
  if (!a.pool) {
    const int32_t band = b / a.tiles_per_row;
    r.ox0 = (b - band * a.tiles_per_row) * k_tile;
    r.cnt = min(k_tile, a.ow - r.ox0);
    r.lo = band * a.band;
    r.hi = min(r.lo + a.band, a.oh) - 1;
    r.pb0 = r.pb1 = 0;
  } else {
    r.pb0 = b * a.band;
    r.pb1 = min(r.pb0 + a.band, a.poh);
    r.lo = max(r.pb0 * a.psh - a.pph, 0);
    r.hi = min((r.pb1 - 1) * a.psh - a.pph + a.pkh - 1, a.oh - 1);
    r.ox0 = 0;
    r.cnt = a.ow;
  }
  return r;
}

// The ring: per channel `ring` input rows of k_pwp<S> columns, input row iy
// in slot iy mod ring, then one row of zeros (the k slice past C x KH).
__device__ inline int32_t slot_of(const DirectArgs& a, int32_t iy) {
  const int32_t r = iy % a.ring;
  return r < 0 ? r + a.ring : r;
}

// Loads input row iy of channel c, columns ox0 * S - pw ... (zeros outside
// X), into registers: every load issued before any value is used.
template <typename T, typename XT, int S>
__device__ inline void load_row(const DirectArgs& a, const XT* x, int32_t img, int32_t c, int32_t iy, int32_t ox0,
                                int lane, uint16_t (&v)[k_chunks<S>]) {
  const bool row_in = iy >= 0 && iy < a.h;
  const int32_t ix0 = ox0 * S - a.pw + lane;
  const int64_t step = a.x_nhwc ? a.c : 1;  // element ix of the row is xr[ix * step]
  const XT* xr = x + (a.x_nhwc ? (static_cast<int64_t>(img) * a.h + iy) * a.w * a.c + c
                               : ((static_cast<int64_t>(img) * a.c + c) * a.h + iy) * a.w) +
                 ix0 * step;
#pragma unroll
  for (int q = 0; q < k_chunks<S>; ++q) {
    const int32_t ix = ix0 + 32 * q;
    v[q] = row_in && ix >= 0 && ix < a.w ? x_bits<T>(xr[32 * q * step]) : uint16_t{0};
  }
}

template <int S>
__device__ inline void store_row(uint16_t* dst, int lane, const uint16_t (&v)[k_chunks<S>]) {
#pragma unroll
  for (int q = 0; q < k_chunks<S>; ++q) {
    const int j = lane + 32 * q;
    if (j < k_pwp<S>) dst[j] = v[q];
  }
}

// The k slices' ring offsets for conv row oy (threads tid < rp): slice r =
// (c, ky) reads input row oy * sh - ph + ky of channel c.
template <int S>
__device__ inline void write_table(const DirectArgs& a, int32_t* table, int32_t oy, int tid) {
  if (tid >= a.rp) return;
  int32_t row = a.c * a.ring;  // the zero row
  if (tid < a.rows) {
    const int32_t c = tid / a.kh, ky = tid - c * a.kh;
    row = c * a.ring + slot_of(a, oy * a.sh - a.ph + ky);
  }
  table[tid] = row * k_pwp<S>;
}

// Every input row of conv row oy into the ring (a unit's first row): a warp
// per row.
template <typename T, typename XT, int S>
__device__ inline void fill_ring(const DirectArgs& a, const XT* x, uint16_t* ring, const Unit& un, int32_t oy,
                                 int warp, int lane) {
  for (int r = warp; r < a.rows; r += k_warps) {
    const int32_t c = r / a.kh, iy = oy * a.sh - a.ph + r - c * a.kh;
    uint16_t v[k_chunks<S>];
    load_row<T, XT, S>(a, x, un.img, c, iy, un.ox0, lane, v);
    store_row<S>(ring + (c * a.ring + slot_of(a, iy)) * k_pwp<S>, lane, v);
  }
}

// The input rows conv row t has and row t - 1 had not (the window's last
// sh rows): warp w takes rows w and w + k_warps of the C x SH.
template <typename T, typename XT, int S>
__device__ inline void load_new(const DirectArgs& a, const XT* x, const Unit& un, int32_t t, int warp, int lane,
                                uint16_t (&v)[k_max_new][k_chunks<S>]) {
#pragma unroll
  for (int i = 0; i < k_max_new; ++i) {
    const int q = warp + i * k_warps;
    if (q >= a.c * a.sh) break;
    const int32_t c = q / a.sh, iy = t * a.sh - a.ph + a.kh - a.sh + (q - c * a.sh);
    load_row<T, XT, S>(a, x, un.img, c, iy, un.ox0, lane, v[i]);
  }
}

template <int S>
__device__ inline void store_new(const DirectArgs& a, uint16_t* ring, int32_t t, int warp, int lane,
                                 const uint16_t (&v)[k_max_new][k_chunks<S>]) {
#pragma unroll
  for (int i = 0; i < k_max_new; ++i) {
    const int q = warp + i * k_warps;
    if (q >= a.c * a.sh) break;
    const int32_t c = q / a.sh, iy = t * a.sh - a.ph + a.kh - a.sh + (q - c * a.sh);
    store_row<S>(ring + (c * a.ring + slot_of(a, iy)) * k_pwp<S>, lane, v[i]);
  }
}

// A conv row's values (bias and activation applied, rounded to T) as the
// accumulator fragments hold them, a pair per register: out[nt][0] at
// position warp * 16 + g, out[nt][1] at + 8, channels nt * 8 + 2t, + 1.
template <int NT>
using Pairs = uint32_t[NT][2];

template <int NT>
__device__ inline void stage_pairs(uint16_t* staging, int ld, int warp, int g, int t, const Pairs<NT>& v) {
  const int r = warp * 16 + g;
#pragma unroll
  for (int nt = 0; nt < NT; ++nt) {
    *reinterpret_cast<uint32_t*>(staging + r * ld + nt * 8 + 2 * t) = v[nt][0];
    *reinterpret_cast<uint32_t*>(staging + (r + 8) * ld + nt * 8 + 2 * t) = v[nt][1];
  }
}

// Pooled row p of image img from the staged vertical maxima (one conv row's
// positions): each output column's window across the staged positions.
// PER: 16-byte vectors of channels a position (0: a.m / 8, at run time).
template <typename T, int PER>
__device__ inline void pool_row_vec(const DirectArgs& a, const uint16_t* staging, int ld, int32_t img, int32_t p) {
  const int per = PER ? PER : a.m / 8;
  uint16_t* yr = static_cast<uint16_t*>(a.y) + (static_cast<int64_t>(img) * a.poh + p) * a.pow * a.m;
  for (int i = threadIdx.x; i < a.pow * per; i += blockDim.x) {
    const int q = i / per, j = i - q * per;
    const int x0 = q * a.psw - a.ppw;
    bool any = false;
    uint4 best{};
    for (int kx = 0; kx < a.pkw; ++kx) {
      const int xx = x0 + kx;
      if (xx < 0 || xx >= a.ow) continue;
      const uint4 v = *reinterpret_cast<const uint4*>(staging + xx * ld + j * 8);
      best = any ? max8<T>(best, v) : v;
      any = true;
    }
    reinterpret_cast<uint4*>(yr)[i] = best;  // every window holds a column (pads < kernel)
  }
}

template <typename T>
__device__ inline void pool_row_scalar(const DirectArgs& a, const uint16_t* staging, int ld, int32_t img, int32_t p) {
  auto* y = static_cast<uint16_t*>(a.y);
  for (int i = threadIdx.x; i < a.pow * a.m; i += blockDim.x) {
    int q, ch;
    if (a.y_nhwc) {
      q = i / a.m;
      ch = i - q * a.m;
    } else {
      ch = i / a.pow;
      q = i - ch * a.pow;
    }
    const int x0 = q * a.psw - a.ppw;
    uint16_t best = 0;
    float bv = 0.f;
    bool any = false;
    for (int kx = 0; kx < a.pkw; ++kx) {
      const int xx = x0 + kx;
      if (xx < 0 || xx >= a.ow) continue;
      const uint16_t bits = staging[xx * ld + ch];
      T v;
      memcpy(&v, &bits, 2);
      const float f = load(v);
      if (!any || f > bv) {
        bv = f;
        best = bits;
      }
      any = true;
    }
    const int64_t at = a.y_nhwc ? ((static_cast<int64_t>(img) * a.poh + p) * a.pow + q) * a.m + ch
                                : ((static_cast<int64_t>(img) * a.m + ch) * a.poh + p) * a.pow + q;
    y[at] = best;
  }
}

// Conv row oy's staged values out to Y.
template <int NT, int LDS>
__device__ inline void row_out(const DirectArgs& a, const uint16_t* staging, const Unit& un, int32_t oy) {
  constexpr int M8 = NT * 8;
  auto* y = static_cast<uint16_t*>(a.y);
  const int tid = threadIdx.x;
  const int32_t cnt = un.cnt;
  if (a.y_nhwc) {
    // The tile is cnt whole rows of Y, one contiguous run.
    uint16_t* yb = y + ((static_cast<int64_t>(un.img) * a.oh + oy) * a.ow + un.ox0) * a.m;
    if (a.y_vec && a.m == M8) {
      for (int i = tid; i < cnt * NT; i += blockDim.x) {
        const int p = i / NT, j = i - p * NT;
        reinterpret_cast<uint4*>(yb)[i] = *reinterpret_cast<const uint4*>(staging + p * LDS + j * 8);
      }
    } else {
      for (int i = tid; i < cnt * a.m; i += blockDim.x) {
        const int p = i / a.m, ch = i - p * a.m;
        yb[i] = staging[p * LDS + ch];
      }
    }
  } else {
    // Plain Y: each channel's cnt positions are one run of its plane's row.
    for (int i = tid; i < cnt * a.m; i += blockDim.x) {
      const int ch = i / cnt, p = i - ch * cnt;
      y[((static_cast<int64_t>(un.img) * a.m + ch) * a.oh + oy) * a.ow + un.ox0 + p] = staging[p * LDS + ch];
    }
  }
}

// Two blocks an SM at least (128 registers a thread): one block's loads and
// syncs overlap the other's products.
// XT: uint16_t (X of T) or float (a float32 X, rounded as it is read).
template <typename T, typename XT, int NT, int S>  // NT even
__global__ void __launch_bounds__(k_block, 2) direct_conv_kernel(DirectArgs a) {
  using namespace mma_detail;
  constexpr int M8 = NT * 8, LDS = M8 + 8;  // staging row stride: conflict-free fragment stores
  constexpr int PWP = k_pwp<S>;
  extern __shared__ __align__(16) unsigned char smem_direct[];
  uint16_t* ws = reinterpret_cast<uint16_t*>(smem_direct);
  uint16_t* ring = ws + (M8 * a.ldw + 7) / 8 * 8;
  uint16_t* staging = ring + ((a.c * a.ring + 1) * PWP + 7) / 8 * 8;
  float* bias_s = reinterpret_cast<float*>(staging + k_tile * LDS);
  int32_t* tables = reinterpret_cast<int32_t*>(bias_s + M8);  // [2][k_max_rows]: by the conv row's parity
  const auto* x = static_cast<const XT*>(a.x);
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32, g = lane / 4, t = lane % 4;

  // W into shared memory, 16 bytes a copy (kp and ldw are multiples of 8);
  // B as float; the zero row.
  const int w_vecs = M8 * a.kp / 8, row_vecs = a.kp / 8;
  const auto* wp = static_cast<const uint4*>(a.wp);
  for (int i = tid; i < w_vecs; i += blockDim.x) {
    const int n = i / row_vecs;
    reinterpret_cast<uint4*>(ws + n * a.ldw)[i - n * row_vecs] = wp[i];
  }
  const T* bias = static_cast<const T*>(a.bias);
  for (int i = tid; i < M8; i += blockDim.x) bias_s[i] = bias && i < a.m ? load(bias[i]) : 0.f;
  for (int i = tid; i < PWP; i += blockDim.x) ring[a.c * a.ring * PWP + i] = 0;

  // The pooled rows' running maxima, by the rows' parity: a conv row is in
  // at most two (consecutive) windows when the pool's kernel is at most
  // twice its stride (checked by the factory).
  uint32_t run[2][NT][2] = {};
  uint16_t nv[k_max_new][k_chunks<S>];  // the next conv row's new input rows

  int64_t u = blockIdx.x;
  Unit un = unit_at(a, u);
  int32_t oy = un.lo;
  bool start = true;  // oy begins a unit: its ring is filled whole
  while (true) {
    if (start) {
      __syncthreads();  // the last unit's rows are read
      fill_ring<T, XT, S>(a, x, ring, un, oy, warp, lane);
      write_table<S>(a, tables + (oy & 1) * k_max_rows, oy, tid);
      if (a.slide && oy < un.hi) load_new<T, XT, S>(a, x, un, oy + 1, warp, lane, nv);
      start = false;
    }
    __syncthreads();  // the ring and table hold conv row oy; row oy - 1 is computed
    // Row oy + 1's new input rows go where row oy - 1's first rows were
    // (read by no one now), and row oy + 2's are loaded while oy computes.
    if (a.slide && oy < un.hi) {
      store_new<S>(a, ring, oy + 1, warp, lane, nv);
      write_table<S>(a, tables + ((oy + 1) & 1) * k_max_rows, oy + 1, tid);
      if (oy + 1 < un.hi) load_new<T, XT, S>(a, x, un, oy + 2, warp, lane, nv);
    }
    float acc[NT][4] = {};
    const bool active = warp * 16 < un.cnt;
    if (active) {
      const int32_t* table = tables + (oy & 1) * k_max_rows;
      const int p0 = (warp * 16 + g) * S + 2 * t, p1 = p0 + 8 * S;
      // Two k steps a basic block: the second's loads are scheduled
      // during the first's products.
#pragma unroll 2
      for (int ks = 0; ks < a.rp / 2; ++ks) {
        const uint16_t* r0 = ring + table[2 * ks];
        const uint16_t* r1 = ring + table[2 * ks + 1];
        const uint32_t af[4] = {load_pair<S>(r0 + p0), load_pair<S>(r0 + p1), load_pair<S>(r1 + p0),
                                load_pair<S>(r1 + p1)};
        // B for two n tiles an ldmatrix: matrices (nt, k 0-7), (nt, k 8-15),
        // (nt + 1, k 0-7), (nt + 1, k 8-15), rows n, so that lane 4g + t
        // gets n = g, k = 2t, 2t + 1: b0 and b1 of each tile. Every
        // fragment is loaded before the first product (the asm statements
        // keep their order: interleaved, each product waited for its load).
        uint32_t bf[NT / 2][4];
#pragma unroll
        for (int i = 0; i < NT / 2; ++i)
          ldmatrix_x4(bf[i], ws + ((2 * i + lane / 16) * 8 + lane % 8) * a.ldw + ks * 16 + (lane / 8 % 2) * 8);
#pragma unroll
        for (int i = 0; i < NT / 2; ++i) {
          mma<T>(acc[2 * i], af, bf[i][0], bf[i][1]);
          mma<T>(acc[2 * i + 1], af, bf[i][2], bf[i][3]);
        }
      }
    }
    Pairs<NT> out;
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) {
      const float2 b = *reinterpret_cast<const float2*>(bias_s + nt * 8 + 2 * t);
      float e[4] = {acc[nt][0] + b.x, acc[nt][1] + b.y, acc[nt][2] + b.x, acc[nt][3] + b.y};
      if (a.relu)
        for (float& f : e) f = fmaxf(f, 0.f);
      out[nt][0] = pack<T>(e[0], e[1]);
      out[nt][1] = pack<T>(e[2], e[3]);
    }

    if (!a.pool) {
      if (active) stage_pairs<NT>(staging, LDS, warp, g, t, out);
      __syncthreads();
      row_out<NT, LDS>(a, staging, un, oy);
    } else {
      // The pooled rows whose windows hold conv row oy, within this band.
      const int32_t num = oy + a.pph - a.pkh + 1;
      const int32_t first = max(num <= 0 ? 0 : (num + a.psh - 1) / a.psh, un.pb0);
      const int32_t last = min((oy + a.pph) / a.psh, un.pb1 - 1);
#pragma unroll
      for (int s = 0; s < 2; ++s) {
        const int32_t p = first + s;
        if (p > last) break;
        const int32_t top = p * a.psh - a.pph;
        const bool opens = oy == max(top, 0), closes = oy == min(top + a.pkh - 1, a.oh - 1);
        // run[p & 1], by a branch: registers cannot be indexed at run time.
        const auto fold = [&](uint32_t(&r)[NT][2]) {
#pragma unroll
          for (int nt = 0; nt < NT; ++nt)
#pragma unroll
            for (int h = 0; h < 2; ++h) r[nt][h] = opens ? out[nt][h] : max2<T>(r[nt][h], out[nt][h]);
          if (!closes) return;
          if (active) stage_pairs<NT>(staging, LDS, warp, g, t, r);
          __syncthreads();
          if (a.y_nhwc && a.y_vec) {
            if (a.m == M8) pool_row_vec<T, NT>(a, staging, LDS, un.img, p);
            else pool_row_vec<T, 0>(a, staging, LDS, un.img, p);
          } else {
            pool_row_scalar<T>(a, staging, LDS, un.img, p);
          }
          __syncthreads();  // the staging is read before it is written again
        };
        if (p & 1) fold(run[1]);
        else fold(run[0]);
      }
    }
    if (oy < un.hi) {
      ++oy;
      start = !a.slide;
    } else {
      u += gridDim.x;
      if (u >= a.units) break;
      un = unit_at(a, u);
      oy = un.lo;
      start = true;
    }
  }
}

// W (K,C,R,S or K,R,S,C) -> [m8, kp] with zeros past W: a thread per value.
__global__ void pack_direct_weights_kernel(const uint16_t* __restrict__ w, uint16_t* __restrict__ out, int32_t m,
                                           int32_t m8, int32_t c, int32_t kh, int32_t kw, int32_t kp, bool krsc) {
  KILN_GRID_STRIDE(i, static_cast<int64_t>(m8) * kp) {
    const auto o = static_cast<int32_t>(i / kp), k = static_cast<int32_t>(i % kp);
    const int32_t r = k / 8, kx = k % 8, ch = r / kh, ky = r % kh;
    uint16_t v = 0;
    if (o < m && ch < c && kx < kw)
      v = krsc ? w[((static_cast<int64_t>(o) * kh + ky) * kw + kx) * c + ch]
               : w[((static_cast<int64_t>(o) * c + ch) * kh + ky) * kw + kx];
    out[i] = v;
  }
}

// The sizes a geometry gives: n tiles of 8 (in pairs, one ldmatrix each),
// k slices rounded up to even (k steps of 16), W's shared row stride (8
// past kp: conflict-free B fragments), the ring's rows per channel.
struct Sizes {
  int32_t nt, rp, kp, ldw, ring;
};
Sizes sizes_of(int64_t m, int64_t c, int64_t kh, int64_t sh) {
  Sizes z;
  z.nt = static_cast<int32_t>((m + 15) / 16 * 2);
  z.rp = round_even(static_cast<int32_t>(c * kh));
  z.kp = z.rp * 8;
  z.ldw = z.kp + 8;
  z.ring = static_cast<int32_t>(kh + sh);
  return z;
}

// Shared memory of a block: W, the ring and its zero row, the staging (in
// 16-bit values), then B (floats) and the two k-slice tables (ints).
size_t smem_bytes(const Sizes& z, int64_t c, int64_t sw) {
  const auto align8 = [](size_t v) { return (v + 7) / 8 * 8; };
  const size_t pwp = sw == 2 ? k_pwp<2> : k_pwp<1>;
  return (align8(static_cast<size_t>(z.nt) * 8 * z.ldw) + align8((static_cast<size_t>(c) * z.ring + 1) * pwp) +
          static_cast<size_t>(k_tile) * (z.nt * 8 + 8)) * 2 +
         (static_cast<size_t>(z.nt) * 8 + 2 * k_max_rows) * 4;
}
constexpr size_t k_max_smem = 96 << 10;  // two blocks an SM on sm_80+ (direct_conv_applies checks it)

class DirectConvKernel final : public Kernel {
 public:
  explicit DirectConvKernel(const ir::Node& node) : m_pool(node.op_type == "FusedConvPool") {
    if (node.domain == "com.kiln") m_relu = ir::read_activation(node).kind == ir::Activation::Relu;
    const std::vector<int64_t> in = node.attr_ints("kiln_in_layouts");
    m_x_nhwc = !in.empty() && in[0] == 1;
    m_y_nhwc = node.attr_i("kiln_out_layout", 0) == 1;
    m_w_krsc = node.attr_i("kiln_w_layout", 0) == 1;
    if (m_pool) std::tie(m_pool_node, m_window) = pool_of(node);
  }

  void run(KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    const Tensor& w = ctx.input(1);
    const DataType dt = w.dtype();
    const bool x_f32 = m_pool && x.dtype() == DataType::Float32;
    if (!is_16bit(dt) || (x.dtype() != dt && !x_f32) || (ctx.has_input(2) && ctx.input(2).dtype() != dt))
      ctx.fail("direct_mma takes W and B of one 16-bit dtype, X of it (or float32 when pooled)");
    if (x.rank() != 4) ctx.fail("direct_mma takes 2-D convolutions, X is " + shape_str(x.shape()));
    const params::ConvGeometry geo = params::conv_geometry(ctx, ctx.node(), x.shape(), w.shape());
    const ir::Window& win = geo.w;
    if (geo.group != 1 || !all_ones(win.dilations) || (win.strides[1] != 1 && win.strides[1] != 2) ||
        geo.kernel[1] > 8 || geo.c * geo.kernel[0] > k_max_rows || geo.m > k_max_m)
      ctx.fail("internal: direct_mma does not take this geometry");
    const Tensor* b = nullptr;
    if (ctx.has_input(2)) {
      b = &ctx.input(2);
      if (b->rank() != 1 || b->shape()[0] != geo.m) ctx.fail("bias B " + shape_str(b->shape()) + " does not fit");
    }
    DirectArgs a{};
    a.n = static_cast<int32_t>(geo.n);
    a.c = static_cast<int32_t>(geo.c);
    a.h = static_cast<int32_t>(geo.spatial[0]);
    a.w = static_cast<int32_t>(geo.spatial[1]);
    a.oh = static_cast<int32_t>(geo.grid[0]);
    a.ow = static_cast<int32_t>(geo.grid[1]);
    a.m = static_cast<int32_t>(geo.m);
    Shape y_shape = geo.y_shape;
    if (m_pool) {
      if (!pool_fits(m_window) || a.ow > k_tile)
        ctx.fail("internal: direct_mma pools rows of at most " + std::to_string(k_tile) + " positions");
      ir::Window pw = m_window;
      a.pool = true;
      a.pkh = static_cast<int32_t>(pw.kernel[0]);
      a.pkw = static_cast<int32_t>(pw.kernel[1]);
      a.psh = static_cast<int32_t>(pw.strides[0]);
      a.psw = static_cast<int32_t>(pw.strides[1]);
      a.pph = static_cast<int32_t>(pw.pads[0]);
      a.ppw = static_cast<int32_t>(pw.pads[1]);
      // The schema's output size: MaxPool's over the conv output.
      a.poh = static_cast<int32_t>(ir::window_out_dim(m_pool_node, pw, 0, a.oh));
      a.pow = static_cast<int32_t>(ir::window_out_dim(m_pool_node, pw, 1, a.ow));
      y_shape = {geo.n, geo.m, a.poh, a.pow};
    }
    Tensor& y = ctx.output(0, dt, y_shape);
    if (!y.numel()) return;
    CudaStream& s = cuda_stream(ctx);

    a.x = x.raw();
    a.bias = b ? b->raw() : nullptr;
    a.y = y.raw();
    a.kh = static_cast<int32_t>(geo.kernel[0]);
    a.sh = static_cast<int32_t>(win.strides[0]);
    a.sw = static_cast<int32_t>(win.strides[1]);
    a.ph = static_cast<int32_t>(win.pads[0]);
    a.pw = static_cast<int32_t>(win.pads[1]);
    const Sizes z = sizes_of(a.m, a.c, a.kh, a.sh);
    a.rows = a.c * a.kh;
    a.rp = z.rp;
    a.kp = z.kp;
    a.ldw = z.ldw;
    a.ring = z.ring;
    a.slide = a.c * a.sh <= k_warps * k_max_new;
    a.tiles_per_row = (a.ow + k_tile - 1) / k_tile;
    a.x_nhwc = m_x_nhwc;
    a.y_nhwc = m_y_nhwc;
    a.relu = m_relu;
    a.y_vec = a.m % 8 == 0 && reinterpret_cast<uintptr_t>(y.raw()) % 16 == 0;
    const int nt = z.nt;

    // W packed into the workspace every run (a few KiB): refitted or
    // streamed weights are read as they are now.
    auto* packed = static_cast<uint16_t*>(s.workspace(static_cast<size_t>(nt) * 8 * a.kp * 2));
    pack_direct_weights_kernel<<<grid_for(int64_t{nt} * 8 * a.kp), k_threads, 0, s.get()>>>(
        static_cast<const uint16_t*>(w.raw()), packed, a.m, nt * 8, a.c, a.kh, static_cast<int32_t>(geo.kernel[1]),
        a.kp, m_w_krsc);
    KILN_CUDA_LAUNCH("pack_direct_weights_kernel");
    a.wp = packed;

    const size_t smem = smem_bytes(z, a.c, a.sw);
    if (smem > k_max_smem) ctx.fail("internal: direct_mma's shared memory exceeds its limit");
    if (m_sms == 0) KILN_CUDA(cudaDeviceGetAttribute(&m_sms, cudaDevAttrMultiProcessorCount, s.device()));
    const auto launch = [&](auto kernel) {
      // Persistent blocks, as many as the SMs hold at once (W is copied into
      // shared memory once per block). The shared-memory limit (only ever
      // raised) and the occupancy are settled once per node, before any
      // capture.
      if (m_per_sm == 0) {
        allow_smem(reinterpret_cast<const void*>(kernel), smem);
        KILN_CUDA(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&m_per_sm, kernel, k_block, smem));
        m_per_sm = std::max(m_per_sm, 1);
      }
      const int64_t resident = int64_t{m_sms} * m_per_sm;
      // A unit is a band of rows of one image (and tile column): its first
      // conv row reads every input row of its window, the others only the
      // stride's new ones; a band of P pooled rows computes about 2P + 1
      // conv rows for 2P (stride 2). The longest band that still leaves two
      // units a resident block.
      const int32_t rows_of = a.pool ? a.poh : a.oh, per_band = a.pool ? 1 : a.tiles_per_row;
      a.band = 1;
      for (const int32_t p : {16, 8, 4, 2})
        if ((!a.pool || p <= 8) && int64_t{a.n} * per_band * ((rows_of + p - 1) / p) >= 2 * resident) {
          a.band = p;
          break;
        }
      a.bands = (rows_of + a.band - 1) / a.band * per_band;
      a.units = int64_t{a.n} * a.bands;
      const auto blocks = static_cast<unsigned>(std::min<int64_t>(a.units, resident));
      kernel<<<blocks, k_block, smem, s.get()>>>(a);
      KILN_CUDA_LAUNCH("direct_conv_kernel");
    };
    const auto by_width = [&](auto tag) {
      using T = decltype(tag);
      const auto pick = [&](auto nt_c) {
        constexpr int NT = decltype(nt_c)::value;
        if (x_f32) {
          if (a.sw == 2) launch(direct_conv_kernel<T, float, NT, 2>);
          else launch(direct_conv_kernel<T, float, NT, 1>);
        } else {
          if (a.sw == 2) launch(direct_conv_kernel<T, uint16_t, NT, 2>);
          else launch(direct_conv_kernel<T, uint16_t, NT, 1>);
        }
      };
      switch (nt) {
        case 2: pick(std::integral_constant<int, 2>{}); break;
        case 4: pick(std::integral_constant<int, 4>{}); break;
        case 6: pick(std::integral_constant<int, 6>{}); break;
        default: pick(std::integral_constant<int, 8>{}); break;
      }
    };
    if (dt == DataType::Float16) by_width(half{});
    else by_width(bf16{});
  }

 private:
  bool m_pool;
  ir::Node m_pool_node;  // FusedConvPool's pool stage and its window
  ir::Window m_window;
  bool m_relu = false, m_x_nhwc = false, m_y_nhwc = false, m_w_krsc = false;
  int m_sms = 0, m_per_sm = 0;  // m_per_sm: of the one instance a node's dtype and geometry pick
};

}  // namespace

bool direct_conv_applies(const ir::Node& n, const ir::Graph& g) {
  const ir::SymShape* ws = sixteen_bit_conv_weights(n, g, /*float_x_ok=*/n.op_type == "FusedConvPool");
  if (!ws) return false;
  if (n.domain == "com.kiln") {
    if (n.has_input(3)) return false;  // Z
    const ir::Activation act = ir::read_activation(n).kind;
    if (act != ir::Activation::None && act != ir::Activation::Relu) return false;
  }
  if (!ir::shape_known(*ws)) return false;
  const int64_t m = (*ws)[0].value, c = (*ws)[1].value, kh = (*ws)[2].value, kw = (*ws)[3].value;
  const std::vector<int64_t> strides = n.attr_ints("strides");
  const int64_t sh = strides.size() == 2 ? strides[0] : 1, sw = strides.size() == 2 ? strides[1] : 1;
  if (!(m >= 1 && m <= k_max_m && c >= 1 && c * kh <= k_max_rows && kw <= 8 && (sw == 1 || sw == 2) && sh >= 1 &&
        sh <= 4 && all_ones(n.attr_ints("dilations"))))
    return false;
  if (smem_bytes(sizes_of(m, c, kh, sh), c, sw) > k_max_smem) return false;
  if (n.op_type != "FusedConvPool") return true;
  // Pooled: each conv row one tile wide, so its width must be known.
  const auto& xs = g.value(n.inputs[0]).shape;
  if (!xs || xs->size() != 4 || !(*xs)[3].known()) return false;
  try {
    if (!pool_fits(pool_of(n).second)) return false;
    ir::Window w = ir::read_window(n, 2, {kh, kw}, false);
    return ir::window_out_dim(n, w, 1, (*xs)[3].value) <= k_tile;
  } catch (const Error&) {
    return false;
  }
}

std::unique_ptr<Kernel> make_direct_conv(const ir::Node& n) { return std::make_unique<DirectConvKernel>(n); }

}  // namespace kiln::backend::cuda
