// The rewrites of cudnn_conv_reform.h: their geometry and the copy kernels.
#include <cstring>

#include "backends/cuda/kernels/common.cuh"
#include "backends/cuda/kernels/conv_few_channels.h"
#include "backends/cuda/kernels/cudnn_conv_reform.h"

namespace kiln::backend::cuda {

namespace {

constexpr int64_t k_pad_channels = 8;   // PadChannels' channels; the multiple S's channels round up to
constexpr int64_t k_s2d_max_c = 4;      // SpaceToDepth: 4C <= 16 channels, two 16-byte stores a position
constexpr int64_t k_max_cp = 16;

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

size_t copy_bytes(int64_t elems) { return scratch_bytes(static_cast<size_t>(elems) * 2); }

// X [n, c, hw] (plain) or [n, hw, c] (channels last), 16-bit, as [n, hw, 8]:
// a thread per output row, one 16-byte store. W goes through it as [k, c, rs].
__global__ void pad_channels_kernel(const uint16_t* __restrict__ x, uint4* __restrict__ y, int64_t n, int64_t c,
                                    int64_t hw, bool nhwc) {
  KILN_GRID_STRIDE(i, n * hw) {
    const int64_t img = i / hw, p = i - img * hw;
    uint16_t v[k_pad_channels] = {};
    for (int64_t k = 0; k < c; ++k) v[k] = nhwc ? x[i * c + k] : x[(img * c + k) * hw + p];
    uint4 o;
    memcpy(&o, v, sizeof o);
    y[i] = o;
  }
}

struct S2dArgs {
  int64_t n, c, h, w;     // X
  int64_t lh, lw, cp;     // S
  int64_t qh, qw;         // S's begin pad in blocks
  int64_t m, kh, kw, sh, sw, ah, aw;  // W and W'
};

// S [n, lh, lw, cp] from X: a thread per S position, its cp channels as
// (by, bx, c) then zeros, in 16-byte stores. Positions in the pads are zero.
__global__ void space_to_depth_kernel(const uint16_t* __restrict__ x, uint4* __restrict__ s, S2dArgs a, bool nhwc) {
  KILN_GRID_STRIDE(i, a.n * a.lh * a.lw) {
    const int64_t img = i / (a.lh * a.lw), r = i - img * (a.lh * a.lw);
    const int64_t by0 = 2 * (r / a.lw - a.qh), bx0 = 2 * (r % a.lw - a.qw);
    uint16_t v[k_max_cp] = {};
    for (int64_t b = 0; b < 4; ++b) {
      const int64_t iy = by0 + b / 2, ix = bx0 + b % 2;
      if (iy < 0 || iy >= a.h || ix < 0 || ix >= a.w) continue;
      for (int64_t k = 0; k < a.c; ++k)
        v[b * a.c + k] = nhwc ? x[((img * a.h + iy) * a.w + ix) * a.c + k] : x[((img * a.c + k) * a.h + iy) * a.w + ix];
    }
    uint4* out = s + i * (a.cp / k_pad_channels);
    for (int64_t q = 0; q < a.cp / k_pad_channels; ++q) memcpy(&out[q], v + q * k_pad_channels, sizeof(uint4));
  }
}

// W' [m, ah, aw, cp] from W: a thread per (m, ay, ax).
__global__ void space_to_depth_weights_kernel(const uint16_t* __restrict__ w, uint4* __restrict__ out, S2dArgs a,
                                              bool krsc) {
  KILN_GRID_STRIDE(i, a.m * a.ah * a.aw) {
    const int64_t m = i / (a.ah * a.aw), r = i - m * (a.ah * a.aw), ay = r / a.aw, ax = r % a.aw;
    uint16_t v[k_max_cp] = {};
    for (int64_t ch = 0; ch < 4 * a.c; ++ch) {
      const int64_t b = ch / a.c, k = ch % a.c;
      const int64_t ky = 2 * ay + b / 2 - a.sh, kx = 2 * ax + b % 2 - a.sw;
      if (ky < 0 || ky >= a.kh || kx < 0 || kx >= a.kw) continue;
      v[ch] = krsc ? w[((m * a.kh + ky) * a.kw + kx) * a.c + k] : w[((m * a.c + k) * a.kh + ky) * a.kw + kx];
    }
    for (int64_t q = 0; q < a.cp / k_pad_channels; ++q)
      memcpy(&out[i * (a.cp / k_pad_channels) + q], v + q * k_pad_channels, sizeof(uint4));
  }
}

}  // namespace

bool reform_applies(Reform r, const ir::Node& n, const ir::Graph& g) {
  const ir::SymShape* ws = sixteen_bit_conv_weights(n, g);
  if (r == Reform::None || !ws || !(*ws)[1].known()) return false;
  const int64_t c = (*ws)[1].value;
  if (r == Reform::PadChannels) return c >= 1 && c < k_pad_channels;
  return c >= 1 && c <= k_s2d_max_c && n.attr_ints("strides") == std::vector<int64_t>{2, 2} &&
         all_ones(n.attr_ints("dilations"));
}

Reformed reform_problem(KernelContext& ctx, Reform r, ConvProblem& p) {
  const bool sixteen = p.data_type == CUDNN_DATA_HALF || p.data_type == CUDNN_DATA_BFLOAT16;
  if (r == Reform::None || !sixteen || p.x_dims.size() != 4 || p.w_dims.size() != 4 || p.x_dims[1] != p.w_dims[1])
    ctx.fail("internal: only a 16-bit, 2-D, ungrouped convolution is reformed");
  Reformed rf;
  rf.reform = r;
  rf.c = p.x_dims[1];
  rf.kh = p.w_dims[2];
  rf.kw = p.w_dims[3];
  const int64_t n = p.x_dims[0], m = p.w_dims[0];
  if (r == Reform::PadChannels) {
    if (rf.c >= k_pad_channels) ctx.fail("internal: cudnn_c8 takes fewer than 8 input channels");
    rf.cp = k_pad_channels;
    p.x_dims[1] = p.w_dims[1] = rf.cp;
    rf.x_bytes = copy_bytes(n * p.x_dims[2] * p.x_dims[3] * rf.cp);
    rf.w_bytes = copy_bytes(m * rf.kh * rf.kw * rf.cp);
  } else {
    if (rf.c > k_s2d_max_c || p.strides != std::vector<int64_t>{2, 2} || p.dilations != std::vector<int64_t>{1, 1})
      ctx.fail("internal: cudnn_s2d takes stride-2, undilated convolutions over 1-4 channels");
    rf.cp = round_up(4 * rf.c, k_pad_channels);
    rf.sh = p.pre_pads[0] % 2;
    rf.sw = p.pre_pads[1] % 2;
    rf.qh = (p.pre_pads[0] + rf.sh) / 2;
    rf.qw = (p.pre_pads[1] + rf.sw) / 2;
    rf.ah = (rf.kh + rf.sh + 1) / 2;
    rf.aw = (rf.kw + rf.sw + 1) / 2;
    // Y[y] reads S rows y .. y + ah - 1.
    rf.lh = p.y_dims[2] - 1 + rf.ah;
    rf.lw = p.y_dims[3] - 1 + rf.aw;
    p.x_dims = {n, rf.cp, rf.lh, rf.lw};
    p.w_dims = {m, rf.cp, rf.ah, rf.aw};
    p.pre_pads = p.post_pads = {0, 0};
    p.strides = p.dilations = {1, 1};
    rf.x_bytes = copy_bytes(n * rf.lh * rf.lw * rf.cp);
    rf.w_bytes = copy_bytes(m * rf.ah * rf.aw * rf.cp);
  }
  p.x_strides = nhwc_strides(p.x_dims);
  p.w_strides = nhwc_strides(p.w_dims);
  return rf;
}

void reform_operands(KernelContext& ctx, const Reformed& rf, const Tensor& x, bool x_nhwc, const Tensor& w,
                     bool w_nhwc, void* x_out, void* w_out) {
  cudaStream_t stream = cuda_stream(ctx).get();
  const auto* xs = static_cast<const uint16_t*>(x.raw());
  const auto* ws = static_cast<const uint16_t*>(w.raw());
  const Shape& xd = x.shape();
  const Shape& wd = w.shape();
  if (rf.reform == Reform::PadChannels) {
    const int64_t hw = xd[2] * xd[3], rs = wd[2] * wd[3];
    pad_channels_kernel<<<grid_for(xd[0] * hw), k_threads, 0, stream>>>(xs, static_cast<uint4*>(x_out), xd[0], rf.c,
                                                                        hw, x_nhwc);
    KILN_CUDA_LAUNCH("pad_channels_kernel");
    pad_channels_kernel<<<grid_for(wd[0] * rs), k_threads, 0, stream>>>(ws, static_cast<uint4*>(w_out), wd[0], rf.c,
                                                                        rs, w_nhwc);
    KILN_CUDA_LAUNCH("pad_channels_kernel");
    return;
  }
  S2dArgs a{xd[0], rf.c, xd[2], xd[3], rf.lh, rf.lw, rf.cp, rf.qh, rf.qw, wd[0], rf.kh, rf.kw, rf.sh, rf.sw, rf.ah, rf.aw};
  space_to_depth_kernel<<<grid_for(a.n * a.lh * a.lw), k_threads, 0, stream>>>(xs, static_cast<uint4*>(x_out), a,
                                                                                x_nhwc);
  KILN_CUDA_LAUNCH("space_to_depth_kernel");
  space_to_depth_weights_kernel<<<grid_for(a.m * a.ah * a.aw), k_threads, 0, stream>>>(
      ws, static_cast<uint4*>(w_out), a, w_nhwc);
  KILN_CUDA_LAUNCH("space_to_depth_weights_kernel");
}

}  // namespace kiln::backend::cuda
