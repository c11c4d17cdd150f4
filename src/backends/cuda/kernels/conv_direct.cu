// The direct_mma convolution of conv_direct.h.
#include <algorithm>

#include "backends/cuda/kernels/common.cuh"
#include "backends/cuda/kernels/conv_direct.h"
#include "backends/cuda/kernels/conv_few_channels.h"
#include "backends/cuda/kernels/mma.cuh"
#include "backends/nn_params.h"
#include "ir/ops/fused_attrs.h"

namespace kiln::backend::cuda {

namespace {

constexpr int k_tile = 128;  // output positions per block tile: 8 warps x 16 rows
constexpr int k_warps = k_tile / 16;
constexpr int k_block = k_warps * 32;
constexpr int k_max_rows = 24;  // C x KH, the k slices of 8
constexpr int k_max_m = 64;

struct DirectArgs {
  const void* x;
  const void* wp;    // [m8, kp]: W packed, k = (c * kh + ky) * 8 + kx, zeros past W
  const void* bias;  // [m] or null
  void* y;
  int32_t n, c, h, w, oh, ow, m;
  int32_t kh, sh, sw, ph, pw;
  int32_t rows, rp;  // C x KH; rounded up to even (k steps of 16 = two rows)
  int32_t kp;        // rp * 8
  int32_t pwp;       // patch row width: (k_tile - 1) * sw + 8, even
  int32_t ldw;       // shared W row stride: kp + 8 (conflict-free B fragments)
  int32_t tiles_per_row;
  int64_t tiles;
  bool x_nhwc, y_nhwc, relu, y_vec;  // y_vec: 16-byte stores (m % 8 == 0, Y aligned)
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

template <typename T, int NT, int S>  // NT even
__global__ void __launch_bounds__(k_block) direct_conv_kernel(DirectArgs a) {
  using namespace mma_detail;
  constexpr int M8 = NT * 8, LDS = M8 + 8;  // staging row stride: conflict-free fragment stores
  extern __shared__ __align__(16) unsigned char smem_direct[];
  uint16_t* ws = reinterpret_cast<uint16_t*>(smem_direct);
  uint16_t* buf = ws + ((M8 * a.ldw + 7) / 8 * 8);  // the patch, then the output staging
  const auto* x = static_cast<const uint16_t*>(a.x);
  const auto* wp = static_cast<const uint16_t*>(a.wp);
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32, g = lane / 4, t = lane % 4;

  for (int i = tid; i < M8 * a.kp; i += blockDim.x) ws[(i / a.kp) * a.ldw + i % a.kp] = wp[i];

  for (int64_t tile = blockIdx.x; tile < a.tiles; tile += gridDim.x) {
    const int64_t row = tile / a.tiles_per_row;  // (image, output row)
    const int32_t ox0 = static_cast<int32_t>(tile - row * a.tiles_per_row) * k_tile;
    const auto img = static_cast<int32_t>(row / a.oh), oy = static_cast<int32_t>(row % a.oh);
    const int32_t cnt = min(k_tile, a.ow - ox0);
    const int32_t iy0 = oy * a.sh - a.ph, ix0 = ox0 * S - a.pw;
    __syncthreads();  // W is in place; the last tile's staging is read
    // The patch: row r = (c, ky) holds X[img, c, iy0 + ky, ix0 ...], zeros
    // outside X and in the padding rows.
    // A warp per row, its lanes along it: the row's address and validity
    // are worked out once. Each lane waits for its loads in turn, which
    // bounds this kernel (0.73 ms for ResNet-50's stem at batch 256 on an
    // H100, its traffic ~0.16 ms): loading the next tile's patch into
    // registers during this one's products is written (commit 664fffe) but
    // has not run on a GPU.
    for (int r = warp; r < a.rp; r += k_warps) {
      const int c = r / a.kh, iy = iy0 + r - c * a.kh;
      const bool row_in = r < a.rows && iy >= 0 && iy < a.h;
      // Element ix of the row is xr[ix * step].
      const int64_t step = a.x_nhwc ? a.c : 1;
      const uint16_t* xr = x + (a.x_nhwc ? (static_cast<int64_t>(img) * a.h + iy) * a.w * a.c + c
                                         : ((static_cast<int64_t>(img) * a.c + c) * a.h + iy) * a.w);
      uint16_t* br = buf + r * a.pwp;
      for (int j = lane; j < a.pwp; j += 32) {
        const int ix = ix0 + j;
        br[j] = row_in && ix >= 0 && ix < a.w ? xr[ix * step] : uint16_t{0};
      }
    }
    __syncthreads();
    float acc[NT][4] = {};
    const bool active = warp * 16 < cnt;
    if (active) {
      const int p0 = (warp * 16 + g) * S + 2 * t, p1 = p0 + 8 * S;
      for (int ks = 0; ks < a.rp / 2; ++ks) {
        const uint16_t* r0 = buf + (2 * ks) * a.pwp;
        const uint16_t* r1 = r0 + a.pwp;
        const uint32_t af[4] = {load_pair<S>(r0 + p0), load_pair<S>(r0 + p1), load_pair<S>(r1 + p0),
                                load_pair<S>(r1 + p1)};
        // B for two n tiles an ldmatrix: matrices (nt, k 0-7), (nt, k 8-15),
        // (nt + 1, k 0-7), (nt + 1, k 8-15), rows n, so that lane 4g + t
        // gets n = g, k = 2t, 2t + 1: b0 and b1 of each tile.
#pragma unroll
        for (int nt = 0; nt < NT; nt += 2) {
          uint32_t bf[4];
          ldmatrix_x4(bf, ws + ((nt + lane / 16) * 8 + lane % 8) * a.ldw + ks * 16 + (lane / 8 % 2) * 8);
          mma<T>(acc[nt], af, bf[0], bf[1]);
          mma<T>(acc[nt + 1], af, bf[2], bf[3]);
        }
      }
    }
    __syncthreads();  // the patch is read: staging takes its place
    if (active) {
      const T* bias = static_cast<const T*>(a.bias);
#pragma unroll
      for (int nt = 0; nt < NT; ++nt) {
        const int col = nt * 8 + 2 * t;
        const float b0 = bias && col < a.m ? load(bias[col]) : 0.f;
        const float b1 = bias && col + 1 < a.m ? load(bias[col + 1]) : 0.f;
        float v[4] = {acc[nt][0] + b0, acc[nt][1] + b1, acc[nt][2] + b0, acc[nt][3] + b1};
        if (a.relu)
          for (float& e : v) e = fmaxf(e, 0.f);
        const int r = warp * 16 + g;
        *reinterpret_cast<uint32_t*>(buf + r * LDS + col) = pack<T>(v[0], v[1]);
        *reinterpret_cast<uint32_t*>(buf + (r + 8) * LDS + col) = pack<T>(v[2], v[3]);
      }
    }
    __syncthreads();
    auto* y = static_cast<uint16_t*>(a.y);
    if (a.y_nhwc) {
      // The tile is cnt whole rows of Y, one contiguous run.
      uint16_t* yb = y + (row * a.ow + ox0) * a.m;
      if (a.y_vec) {
        const int per = a.m / 8;
        for (int i = tid; i < cnt * per; i += blockDim.x) {
          const int p = i / per, j = i - p * per;
          reinterpret_cast<uint4*>(yb)[i] = *reinterpret_cast<const uint4*>(buf + p * LDS + j * 8);
        }
      } else {
        for (int i = tid; i < cnt * a.m; i += blockDim.x) {
          const int p = i / a.m, ch = i - p * a.m;
          yb[i] = buf[p * LDS + ch];
        }
      }
    } else {
      // Plain Y: each channel's cnt positions are one run of its plane's row.
      for (int i = tid; i < cnt * a.m; i += blockDim.x) {
        const int ch = i / cnt, p = i - ch * cnt;
        y[((static_cast<int64_t>(img) * a.m + ch) * a.oh + oy) * a.ow + ox0 + p] = buf[p * LDS + ch];
      }
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

class DirectConvKernel final : public Kernel {
 public:
  explicit DirectConvKernel(const ir::Node& node) {
    if (node.domain == "com.kiln") m_relu = ir::read_activation(node).kind == ir::Activation::Relu;
    const std::vector<int64_t> in = node.attr_ints("kiln_in_layouts");
    m_x_nhwc = !in.empty() && in[0] == 1;
    m_y_nhwc = node.attr_i("kiln_out_layout", 0) == 1;
    m_w_krsc = node.attr_i("kiln_w_layout", 0) == 1;
  }

  void run(KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    const Tensor& w = ctx.input(1);
    const DataType dt = x.dtype();
    if (!is_16bit(dt) || w.dtype() != dt || (ctx.has_input(2) && ctx.input(2).dtype() != dt))
      ctx.fail("direct_mma takes X, W and B of one 16-bit dtype");
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
    Tensor& y = ctx.output(0, dt, geo.y_shape);
    if (!y.numel()) return;
    CudaStream& s = cuda_stream(ctx);

    DirectArgs a{};
    a.x = x.raw();
    a.bias = b ? b->raw() : nullptr;
    a.y = y.raw();
    a.n = static_cast<int32_t>(geo.n);
    a.c = static_cast<int32_t>(geo.c);
    a.h = static_cast<int32_t>(geo.spatial[0]);
    a.w = static_cast<int32_t>(geo.spatial[1]);
    a.oh = static_cast<int32_t>(geo.grid[0]);
    a.ow = static_cast<int32_t>(geo.grid[1]);
    a.m = static_cast<int32_t>(geo.m);
    a.kh = static_cast<int32_t>(geo.kernel[0]);
    a.sh = static_cast<int32_t>(win.strides[0]);
    a.sw = static_cast<int32_t>(win.strides[1]);
    a.ph = static_cast<int32_t>(win.pads[0]);
    a.pw = static_cast<int32_t>(win.pads[1]);
    a.rows = a.c * a.kh;
    a.rp = round_even(a.rows);
    a.kp = a.rp * 8;
    a.pwp = round_even((k_tile - 1) * a.sw + 8);
    a.ldw = a.kp + 8;
    a.tiles_per_row = (a.ow + k_tile - 1) / k_tile;
    a.tiles = static_cast<int64_t>(a.n) * a.oh * a.tiles_per_row;
    a.x_nhwc = m_x_nhwc;
    a.y_nhwc = m_y_nhwc;
    a.relu = m_relu;
    a.y_vec = a.m % 8 == 0 && reinterpret_cast<uintptr_t>(y.raw()) % 16 == 0;
    const int nt = (a.m + 15) / 16 * 2;  // n tiles of 8, in pairs (one ldmatrix each)

    // W packed into the workspace every run (a few KiB): refitted or
    // streamed weights are read as they are now.
    auto* packed = static_cast<uint16_t*>(s.workspace(static_cast<size_t>(nt) * 8 * a.kp * 2));
    pack_direct_weights_kernel<<<grid_for(int64_t{nt} * 8 * a.kp), k_threads, 0, s.get()>>>(
        static_cast<const uint16_t*>(w.raw()), packed, a.m, nt * 8, a.c, a.kh, static_cast<int32_t>(geo.kernel[1]),
        a.kp, m_w_krsc);
    KILN_CUDA_LAUNCH("pack_direct_weights_kernel");
    a.wp = packed;

    const size_t w_smem = (static_cast<size_t>(nt) * 8 * a.ldw + 7) / 8 * 8 * 2;
    const size_t buf = std::max(static_cast<size_t>(a.rp) * a.pwp, static_cast<size_t>(k_tile) * (nt * 8 + 8)) * 2;
    const size_t smem = w_smem + buf;
    if (m_sms == 0) KILN_CUDA(cudaDeviceGetAttribute(&m_sms, cudaDevAttrMultiProcessorCount, s.device()));
    // Persistent blocks (W is copied into shared memory once per block):
    // enough for every SM to hold several.
    const auto blocks = static_cast<unsigned>(std::min<int64_t>(a.tiles, int64_t{m_sms} * 8));
    const auto launch = [&](auto kernel) {
      kernel<<<blocks, k_block, smem, s.get()>>>(a);
      KILN_CUDA_LAUNCH("direct_conv_kernel");
    };
    const auto by_width = [&](auto tag) {
      using T = decltype(tag);
      const auto pick = [&](auto nt_c) {
        constexpr int NT = decltype(nt_c)::value;
        if (a.sw == 2) launch(direct_conv_kernel<T, NT, 2>);
        else launch(direct_conv_kernel<T, NT, 1>);
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
  bool m_relu = false, m_x_nhwc = false, m_y_nhwc = false, m_w_krsc = false;
  int m_sms = 0;
};

}  // namespace

bool direct_conv_applies(const ir::Node& n, const ir::Graph& g) {
  const ir::SymShape* ws = sixteen_bit_conv_weights(n, g);
  if (!ws) return false;
  if (n.domain == "com.kiln") {
    if (n.has_input(3)) return false;  // Z
    const ir::Activation act = ir::read_activation(n).kind;
    if (act != ir::Activation::None && act != ir::Activation::Relu) return false;
  }
  if (!ir::shape_known(*ws)) return false;
  const int64_t m = (*ws)[0].value, c = (*ws)[1].value, kh = (*ws)[2].value, kw = (*ws)[3].value;
  const std::vector<int64_t> strides = n.attr_ints("strides");
  const int64_t sw = strides.size() == 2 ? strides[1] : 1;
  return m >= 1 && m <= k_max_m && c >= 1 && c * kh <= k_max_rows && kw <= 8 && (sw == 1 || sw == 2) &&
         all_ones(n.attr_ints("dilations"));
}

std::unique_ptr<Kernel> make_direct_conv(const ir::Node& n) { return std::make_unique<DirectConvKernel>(n); }

}  // namespace kiln::backend::cuda
