// The stem_mma kernel of conv_stem.h.
#include <algorithm>
#include <cstdint>
#include <tuple>
#include <type_traits>
#include <utility>

#include "backends/cuda/kernels/common.cuh"
#include "backends/cuda/kernels/conv_direct.h"
#include "backends/cuda/kernels/conv_few_channels.h"
#include "backends/cuda/kernels/conv_stem.h"
#include "backends/cuda/kernels/mma.cuh"
#include "backends/cuda/kernels/smem_limit.h"
#include "backends/nn_params.h"
#include "ir/ops/fused_attrs.h"
#include "ir/ops/nn_attrs.h"

namespace kiln::backend::cuda {

namespace {

using namespace mma_detail;

constexpr int k_c = 3, k_kh = 7;            // the stem's input channels and kernel rows
constexpr int k_rows = k_c * k_kh;          // k slices of 8 (kernel columns padded to 8)
constexpr int k_steps = k_rows / 2;         // whole k16 steps
constexpr bool k_tail = k_rows % 2 == 1;    // then one k8 step
constexpr int k_kp = (k_rows + 1) / 2 * 16;  // packed W's row: k = (ky * k_c + c) * 8 + kx
constexpr int k_pwp = 240;     // a buffer row: input columns -pw - 2 .. 237 - pw - 2
constexpr int k_lead = 2;      // buffer columns before the input's column -pw
constexpr int k_lds = 40;      // staged position stride: 32 channels + 8 (conflict-free fragment stores)
constexpr int k_group_cols = 28;  // conv columns a warp pools (it computes 32 from 28w - 1)
constexpr int k_group_pool = 14;  // pooled columns a warp
constexpr int k_max_groups = 4;   // warps across a row: 56 pooled columns
constexpr int k_max_band = 8;     // pooled rows a unit
constexpr int k_items = 2;        // 4-value loads of the next unit a thread issues each conv row
constexpr int k_pool_items = k_group_pool * 4;  // a warp's pooled values a row: 14 columns x 4 x 8 channels
constexpr int k_max_threads = k_max_groups * 2 * 32;

// The largest buffer column read: warp 3's last position, kx 7.
static_assert(k_group_cols * 2 * (k_max_groups - 1) + 2 * 31 + 7 < k_pwp, "a buffer row holds every column read");

struct StemArgs {
  const void* x;        // [n, 3, h, w]
  const uint16_t* wp;   // [m, k_kp], zeros past W
  const void* bias;     // [m] or null
  uint16_t* y;          // [n, poh, pow, m]
  int32_t h, w, w4, oh, ow, m, ph, pw, poh, pow;
  int32_t groups;       // warps across a row: ceil(pow / 14)
  int32_t band, bands;  // pooled rows a unit; units an image
  int64_t units;
  int32_t buf_halves;   // one input buffer: (4 band + k_kh) rows x k_c x k_pwp
  int32_t step_rows, step_k4;  // blockDim.x loads: whole rows of w4, and the rest
  bool relu;
};

// A unit: pooled rows pb0 .. pb1 - 1 of image img (its X at x_off), from
// conv rows lo .. hi, which read input rows iy0 .. (`items` 4-value loads,
// channel by channel).
struct StemUnit {
  int32_t img, pb0, pb1, lo, hi, iy0, items;
  int64_t x_off;
};
__device__ inline StemUnit stem_unit(const StemArgs& a, int64_t u) {
  StemUnit r;
  r.img = static_cast<int32_t>(u / a.bands);
  r.pb0 = static_cast<int32_t>(u - static_cast<int64_t>(r.img) * a.bands) * a.band;
  r.pb1 = min(r.pb0 + a.band, a.poh);
  r.lo = max(2 * r.pb0 - 1, 0);
  r.hi = min(2 * r.pb1 - 1, a.oh - 1);
  r.iy0 = 2 * r.lo - a.ph;
  r.items = (2 * (r.hi - r.lo) + k_kh) * k_c * a.w4;
  r.x_off = static_cast<int64_t>(r.img) * k_c * a.h * a.w;
  return r;
}

// A thread's next load of a unit, i = row * w4 + k4 (row: (input row - iy0)
// * k_c + c). A thread's loads are tid, tid + blockDim.x, ...: walked by
// adding, not dividing (a division by w4 is some 20 instructions).
struct Cursor {
  int32_t i, row, k4;
};
__device__ inline void advance(const StemArgs& a, Cursor& c) {
  c.i += static_cast<int32_t>(blockDim.x);
  c.row += a.step_rows;
  c.k4 += a.step_k4;
  if (c.k4 >= a.w4) {
    c.k4 -= a.w4;
    ++c.row;
  }
}

// Four input values as loaded (float32 or 16-bit), rounded when stored.
template <typename XT>
using Quad = std::conditional_t<std::is_same_v<XT, float>, float4, uint2>;

// Load at of unit un: four values of one input row of one channel (zeros
// outside X); dst is where they go in a buffer.
template <typename XT>
__device__ inline Quad<XT> fetch(const StemArgs& a, const StemUnit& un, const Cursor& at, int32_t& dst) {
  const int32_t ir = at.row / k_c, c = at.row - ir * k_c, iy = un.iy0 + ir;
  dst = at.row * k_pwp + k_lead + a.pw + 4 * at.k4;
  Quad<XT> v{};
  if (iy >= 0 && iy < a.h)
    v = __ldg(reinterpret_cast<const Quad<XT>*>(static_cast<const XT*>(a.x) + un.x_off +
                                                 static_cast<int64_t>(c * a.h + iy) * a.w) +
              at.k4);
  return v;
}

template <typename T, typename XT>
__device__ inline void put(uint16_t* buf, int32_t dst, const Quad<XT>& v) {
  uint32_t lo, hi;
  if constexpr (std::is_same_v<XT, float>) {
    lo = pack<T>(v.x, v.y);
    hi = pack<T>(v.z, v.w);
  } else {
    lo = v.x;
    hi = v.y;
  }
  uint16_t* d = buf + dst;
  if (dst & 1) {  // odd pads: the A fragments' pairs start at even columns, the loads at odd ones
    d[0] = static_cast<uint16_t>(lo);
    *reinterpret_cast<uint32_t*>(d + 1) = (lo >> 16) | (hi << 16);
    d[3] = static_cast<uint16_t>(hi >> 16);
  } else {
    *reinterpret_cast<uint32_t*>(d) = lo;
    *reinterpret_cast<uint32_t*>(d + 2) = hi;
  }
}

// This thread's loads of unit un from `at` on into buf: eight in flight
// before their stores, so that a unit's first input is not eight DRAM round
// trips a load apart.
template <typename T, typename XT>
__device__ inline void load_rest(const StemArgs& a, const StemUnit& un, uint16_t* buf, Cursor at) {
  constexpr int k_batch = 8;
  while (at.i < un.items) {
    Quad<XT> v[k_batch];
    int32_t d[k_batch];
#pragma unroll
    for (int k = 0; k < k_batch; ++k) {
      d[k] = -1;
      if (at.i < un.items) v[k] = fetch<XT>(a, un, at, d[k]);
      advance(a, at);
    }
#pragma unroll
    for (int k = 0; k < k_batch; ++k)
      if (d[k] >= 0) put<T, XT>(buf, d[k], v[k]);
  }
}

__device__ inline uint32_t lds32(const uint16_t* p) { return *reinterpret_cast<const uint32_t*>(p); }

// One block an SM: eight warps of up to 255 registers (84 hold W).
template <typename T, typename XT>
__global__ void __launch_bounds__(k_max_threads, 1) stem_kernel(StemArgs a) {
  extern __shared__ __align__(16) unsigned char smem_stem[];
  uint16_t* cur = reinterpret_cast<uint16_t*>(smem_stem);
  uint16_t* nxt = cur + a.buf_halves;
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32, g = lane / 4, t = lane % 4;
  const int grp = warp % a.groups, half_n = warp / a.groups;  // column group, 32-channel half
  uint16_t* stage = cur + 2 * a.buf_halves + warp * 32 * k_lds;

  // W's fragments for this warp's 32 channels, and B.
  uint32_t bw[k_steps][4][2];
  uint32_t bt[4];
  float2 bias[4];
#pragma unroll
  for (int nt = 0; nt < 4; ++nt) {
    const int n = half_n * 32 + nt * 8 + g;
    const uint16_t* wr = a.wp + n * k_kp + 2 * t;
#pragma unroll
    for (int ks = 0; ks < k_steps; ++ks) {
      bw[ks][nt][0] = __ldg(reinterpret_cast<const unsigned int*>(wr + ks * 16));
      bw[ks][nt][1] = __ldg(reinterpret_cast<const unsigned int*>(wr + ks * 16 + 8));
    }
    bt[nt] = k_tail ? __ldg(reinterpret_cast<const unsigned int*>(wr + k_steps * 16)) : 0u;
    const int ch = half_n * 32 + nt * 8 + 2 * t;
    const T* b = static_cast<const T*>(a.bias);
    bias[nt] = b ? make_float2(load(b[ch]), load(b[ch + 1])) : make_float2(0.f, 0.f);
  }

  // The pad columns of both buffers, never written after.
  const int32_t pad_cols = k_pwp - a.w, all_rows = 2 * a.buf_halves / k_pwp;
  for (int32_t i = tid; i < all_rows * pad_cols; i += blockDim.x) {
    const int32_t row = i / pad_cols, j = i - row * pad_cols;
    cur[row * k_pwp + (j < k_lead + a.pw ? j : j + a.w)] = 0;
  }
  const Cursor first_load{tid, tid / a.w4, tid % a.w4};
  int64_t u = blockIdx.x;
  StemUnit un = stem_unit(a, u);
  load_rest<T, XT>(a, un, cur, first_load);
  __syncthreads();

  uint4 run0[2], run1[2];  // pooled rows' running maxima, by the rows' parity
  const int32_t chan0 = half_n * 32;
  const bool relu = a.relu;
  while (true) {
    const int64_t u_next = u + gridDim.x;
    const bool has_next = u_next < a.units;
    StemUnit nu{};
    if (has_next) nu = stem_unit(a, u_next);
    Cursor next_at = first_load;  // this thread's next load of the next unit
    for (int32_t r = un.lo; r <= un.hi; ++r) {
      // A slice of the next unit's input: loaded now, stored after the products.
      Quad<XT> pf[k_items];
      int32_t pd[k_items];
#pragma unroll
      for (int k = 0; k < k_items; ++k) {
        pd[k] = -1;
        if (has_next && next_at.i < nu.items) pf[k] = fetch<XT>(a, nu, next_at, pd[k]);
        advance(a, next_at);
      }

      // Conv row r at this warp's 32 positions and 32 channels: slice s =
      // ky * k_c + c is buffer row 2 (r - lo) k_c + s.
      const uint16_t* base = cur + 2 * (r - un.lo) * k_c * k_pwp + 2 * k_group_cols * grp + 2 * g + 2 * t;
      // Tile by tile (16 positions), so that the first tile's bias, Relu and
      // staging overlap the second's products.
      __syncwarp();  // the last row's staged values are read
#pragma unroll
      for (int mt = 0; mt < 2; ++mt) {
        float acc[4][4] = {};
#pragma unroll
        for (int ks = 0; ks < k_steps; ++ks) {
          const uint16_t* p = base + 2 * ks * k_pwp + 32 * mt;
          const uint32_t af[4] = {lds32(p), lds32(p + 16), lds32(p + k_pwp), lds32(p + k_pwp + 16)};
#pragma unroll
          for (int nt = 0; nt < 4; ++nt) mma<T>(acc[nt], af, bw[ks][nt][0], bw[ks][nt][1]);
        }
        if constexpr (k_tail) {
          const uint16_t* p = base + (k_rows - 1) * k_pwp + 32 * mt;
          const uint32_t a0 = lds32(p), a1 = lds32(p + 16);
#pragma unroll
          for (int nt = 0; nt < 4; ++nt) mma_k8<T>(acc[nt], a0, a1, bt[nt]);
        }
        // Bias, activation, rounding; staged for the pool across columns.
#pragma unroll
        for (int nt = 0; nt < 4; ++nt) {
          float e[4] = {acc[nt][0] + bias[nt].x, acc[nt][1] + bias[nt].y, acc[nt][2] + bias[nt].x,
                        acc[nt][3] + bias[nt].y};
#pragma unroll
          for (float& f : e) f = relu ? fmaxf(f, 0.f) : f;
          const int pos = 16 * mt + g;
          *reinterpret_cast<uint32_t*>(stage + pos * k_lds + nt * 8 + 2 * t) = pack<T>(e[0], e[1]);
          *reinterpret_cast<uint32_t*>(stage + (pos + 8) * k_lds + nt * 8 + 2 * t) = pack<T>(e[2], e[3]);
        }
      }
      __syncwarp();

      // Across columns: pooled column 14 grp + j from positions 2j .. 2j + 2
      // (conv columns 28 grp - 1 + ...), those inside the row.
      uint4 hp[2];
#pragma unroll
      for (int k = 0; k < 2; ++k) {
        const int item = lane + 32 * k, j = item >> 2, c8 = item & 3;
        hp[k] = uint4{};
        if (item >= k_pool_items) continue;
        bool any = false;
#pragma unroll
        for (int d = 0; d < 3; ++d) {
          const int ox = k_group_cols * grp - 1 + 2 * j + d;
          if (ox < 0 || ox >= a.ow) continue;
          const uint4 v = *reinterpret_cast<const uint4*>(stage + (2 * j + d) * k_lds + c8 * 8);
          hp[k] = any ? max8<T>(hp[k], v) : v;
          any = true;
        }
      }

      // Down rows: conv row r is in pooled rows r/2 .. (r+1)/2 (those of this unit).
      const int32_t first = max(r >> 1, un.pb0), last = min((r + 1) >> 1, un.pb1 - 1);
#pragma unroll
      for (int s = 0; s < 2; ++s) {
        const int32_t p = first + s;
        if (p > last) break;
        const bool opens = r == max(2 * p - 1, 0), closes = r == min(2 * p + 1, a.oh - 1);
        const auto fold = [&](uint4(&run)[2]) {
#pragma unroll
          for (int k = 0; k < 2; ++k) run[k] = opens ? hp[k] : max8<T>(run[k], hp[k]);
          if (!closes) return;
#pragma unroll
          for (int k = 0; k < 2; ++k) {
            const int item = lane + 32 * k, j = item >> 2, c8 = item & 3;
            const int32_t q = k_group_pool * grp + j;
            if (item >= k_pool_items || q >= a.pow) continue;
            const int64_t at = ((static_cast<int64_t>(un.img) * a.poh + p) * a.pow + q) * a.m + chan0 + c8 * 8;
            *reinterpret_cast<uint4*>(a.y + at) = run[k];
          }
        };
        if (p & 1) fold(run1);
        else fold(run0);
      }

#pragma unroll
      for (int k = 0; k < k_items; ++k)
        if (pd[k] >= 0) put<T, XT>(nxt, pd[k], pf[k]);
    }
    if (!has_next) break;
    // What this unit's rows did not reach of the next one's input.
    load_rest<T, XT>(a, nu, nxt, next_at);
    __syncthreads();  // the next buffer is whole; this one is read by no one
    uint16_t* const done = cur;
    cur = nxt;
    nxt = done;
    u = u_next;
    un = nu;
  }
}

// W (K,C,R,S or K,R,S,C) -> [m, k_kp], k = (ky * k_c + c) * 8 + kx, zeros
// past W: a thread per value.
__global__ void pack_stem_weights_kernel(const uint16_t* __restrict__ w, uint16_t* __restrict__ out, int32_t m,
                                         int32_t kw, bool krsc) {
  KILN_GRID_STRIDE(i, static_cast<int64_t>(m) * k_kp) {
    const auto o = static_cast<int32_t>(i / k_kp), k = static_cast<int32_t>(i % k_kp);
    const int32_t s = k / 8, kx = k % 8, ky = s / k_c, ch = s % k_c;
    uint16_t v = 0;
    if (s < k_rows && kx < kw)
      v = krsc ? w[((static_cast<int64_t>(o) * k_kh + ky) * kw + kx) * k_c + ch]
               : w[((static_cast<int64_t>(o) * k_c + ch) * k_kh + ky) * kw + kx];
    out[i] = v;
  }
}

int32_t buf_halves_of(int32_t band) { return (4 * band + k_kh) * k_c * k_pwp; }
size_t stem_smem(int32_t band, int warps) {
  return (size_t{2} * buf_halves_of(band) + static_cast<size_t>(warps) * 32 * k_lds) * 2;
}

// The pool stem_mma takes: 3x3, stride 2, begin pads 1, end pads 0 or 1.
bool stem_pool(const ir::Window& w) {
  return pool_fits(w) && w.kernel[0] == 3 && w.kernel[1] == 3 && w.strides[0] == 2 && w.strides[1] == 2 &&
         w.pads[0] == 1 && w.pads[1] == 1 && w.pads[2] <= 1 && w.pads[3] <= 1;
}

// The runtime geometry stem_mma takes (the rest is checked at build time).
bool stem_fits(int64_t w, int64_t pw, int64_t pooled_w) {
  return w % 4 == 0 && pw >= 0 && w + pw + k_lead <= k_pwp && pooled_w >= 1 &&
         pooled_w <= int64_t{k_max_groups} * k_group_pool;
}

class StemConvKernel final : public Kernel {
 public:
  explicit StemConvKernel(const ir::Node& node) : m_fallback(make_direct_conv(node)) {
    m_relu = ir::read_activation(node).kind == ir::Activation::Relu;
    m_w_krsc = node.attr_i("kiln_w_layout", 0) == 1;
    std::tie(m_pool_node, m_window) = pool_of(node);
  }

  void run(KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    const Tensor& w = ctx.input(1);
    const DataType dt = w.dtype();
    if (!is_16bit(dt) || (x.dtype() != dt && x.dtype() != DataType::Float32) ||
        (ctx.has_input(2) && ctx.input(2).dtype() != dt))
      ctx.fail("stem_mma takes W and B of one 16-bit dtype, X of it or float32");
    if (x.rank() != 4) ctx.fail("stem_mma takes 2-D convolutions, X is " + shape_str(x.shape()));
    const params::ConvGeometry geo = params::conv_geometry(ctx, ctx.node(), x.shape(), w.shape());
    const ir::Window& win = geo.w;
    if (geo.group != 1 || geo.c != k_c || geo.kernel[0] != k_kh || geo.kernel[1] > 8 ||
        (geo.m != 32 && geo.m != 64) || win.strides[0] != 2 || win.strides[1] != 2 || !all_ones(win.dilations))
      ctx.fail("internal: stem_mma does not take this geometry");
    if (ctx.has_input(2) && (ctx.input(2).rank() != 1 || ctx.input(2).shape()[0] != geo.m))
      ctx.fail("bias B " + shape_str(ctx.input(2).shape()) + " does not fit");
    ir::Window pool_win = m_window;
    const int64_t poh = ir::window_out_dim(m_pool_node, pool_win, 0, geo.grid[0]);
    const int64_t pow = ir::window_out_dim(m_pool_node, pool_win, 1, geo.grid[1]);
    // X read 16 (float32) or 8 bytes at a time: a tensor of kiln's aligns;
    // one the caller placed may not.
    const size_t align = x.dtype() == DataType::Float32 ? 16 : 8;
    if (!stem_fits(geo.spatial[1], win.pads[1], pow) || reinterpret_cast<uintptr_t>(x.raw()) % align != 0) {
      m_fallback->run(ctx);
      return;
    }
    Tensor& y = ctx.output(0, dt, {geo.n, geo.m, poh, pow});
    if (!y.numel()) return;
    if (reinterpret_cast<uintptr_t>(y.raw()) % 16 != 0) ctx.fail("internal: stem_mma's Y is not 16-byte aligned");
    CudaStream& s = cuda_stream(ctx);

    StemArgs a{};
    a.x = x.raw();
    a.bias = ctx.has_input(2) ? ctx.input(2).raw() : nullptr;
    a.y = static_cast<uint16_t*>(y.raw());
    a.h = static_cast<int32_t>(geo.spatial[0]);
    a.w = static_cast<int32_t>(geo.spatial[1]);
    a.w4 = a.w / 4;
    a.oh = static_cast<int32_t>(geo.grid[0]);
    a.ow = static_cast<int32_t>(geo.grid[1]);
    a.m = static_cast<int32_t>(geo.m);
    a.ph = static_cast<int32_t>(win.pads[0]);
    a.pw = static_cast<int32_t>(win.pads[1]);
    a.poh = static_cast<int32_t>(poh);
    a.pow = static_cast<int32_t>(pow);
    a.groups = (a.pow + k_group_pool - 1) / k_group_pool;
    a.relu = m_relu;
    const int warps = a.groups * (a.m / 32);
    a.step_rows = warps * 32 / a.w4;
    a.step_k4 = warps * 32 % a.w4;

    // W packed into the workspace every run (a few KiB): refitted or
    // streamed weights are read as they are now.
    auto* packed = static_cast<uint16_t*>(s.workspace(static_cast<size_t>(a.m) * k_kp * 2));
    pack_stem_weights_kernel<<<grid_for(int64_t{a.m} * k_kp), k_threads, 0, s.get()>>>(
        static_cast<const uint16_t*>(w.raw()), packed, a.m, static_cast<int32_t>(geo.kernel[1]), m_w_krsc);
    KILN_CUDA_LAUNCH("pack_stem_weights_kernel");
    a.wp = packed;

    if (m_sms == 0) KILN_CUDA(cudaDeviceGetAttribute(&m_sms, cudaDevAttrMultiProcessorCount, s.device()));
    const auto launch = [&](auto kernel) {
      // The shared-memory limit (only ever raised) and the occupancy are
      // settled once per node, before any capture, for the longest band.
      if (m_per_sm == 0) {
        allow_smem(reinterpret_cast<const void*>(kernel), stem_smem(k_max_band, k_max_groups * 2));
        KILN_CUDA(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&m_per_sm, kernel, warps * 32,
                                                                 stem_smem(k_max_band, warps)));
        m_per_sm = std::max(m_per_sm, 1);
      }
      const int64_t resident = int64_t{m_sms} * m_per_sm;
      // The band whose rounds of resident blocks compute the fewest conv
      // rows (a band of P pooled rows computes 2P + 1).
      int64_t best = -1;
      for (const int32_t p : {8, 4, 2, 1}) {
        const int64_t units = int64_t{geo.n} * ((a.poh + p - 1) / p);
        const int64_t cost = (units + resident - 1) / resident * (2 * p + 1);
        if (best < 0 || cost < best) {
          best = cost;
          a.band = p;
        }
      }
      a.bands = (a.poh + a.band - 1) / a.band;
      a.units = int64_t{geo.n} * a.bands;
      a.buf_halves = buf_halves_of(a.band);
      const auto blocks = static_cast<unsigned>(std::min<int64_t>(a.units, resident));
      kernel<<<blocks, warps * 32, stem_smem(a.band, warps), s.get()>>>(a);
      KILN_CUDA_LAUNCH("stem_kernel");
    };
    const bool x_f32 = x.dtype() == DataType::Float32;
    if (dt == DataType::Float16) {
      if (x_f32) launch(stem_kernel<half, float>);
      else launch(stem_kernel<half, uint16_t>);
    } else {
      if (x_f32) launch(stem_kernel<bf16, float>);
      else launch(stem_kernel<bf16, uint16_t>);
    }
  }

 private:
  std::unique_ptr<Kernel> m_fallback;  // direct_mma, for an X this one cannot read
  ir::Node m_pool_node;
  ir::Window m_window;
  bool m_relu = false, m_w_krsc = false;
  int m_sms = 0, m_per_sm = 0;
};

}  // namespace

bool stem_conv_applies(const ir::Node& n, const ir::Graph& g) {
  if (n.op_type != "FusedConvPool" || !direct_conv_applies(n, g)) return false;  // Z, activation, dtypes, pool
  const std::vector<int64_t> in = n.attr_ints("kiln_in_layouts");
  if ((!in.empty() && in[0] != 0) || n.attr_i("kiln_out_layout", 0) != 1) return false;
  const ir::SymShape* ws = sixteen_bit_conv_weights(n, g, true);
  const auto& xs = g.value(n.inputs[0]).shape;
  if (!ws || !xs || xs->size() != 4 || !(*xs)[1].known() || !(*xs)[3].known()) return false;
  const int64_t m = (*ws)[0].value, c = (*ws)[1].value, kh = (*ws)[2].value;
  if ((m != 32 && m != 64) || c != k_c || kh != k_kh || n.attr_ints("strides") != std::vector<int64_t>{2, 2})
    return false;
  try {
    auto [pool, pool_win] = pool_of(n);
    if (!stem_pool(pool_win)) return false;
    ir::Window conv_win = ir::read_window(n, 2, {kh, (*ws)[3].value}, false);
    const int64_t ow = ir::window_out_dim(n, conv_win, 1, (*xs)[3].value);
    return stem_fits((*xs)[3].value, conv_win.pads[1], ir::window_out_dim(pool, pool_win, 1, ow));
  } catch (const Error&) {
    return false;
  }
}

std::unique_ptr<Kernel> make_stem_conv(const ir::Node& n) { return std::make_unique<StemConvKernel>(n); }

}  // namespace kiln::backend::cuda
