// The mma_pair kernel of conv_pair.h.
#include <algorithm>
#include <cstdint>

#include "backends/cuda/kernels/common.cuh"
#include "backends/cuda/kernels/conv_few_channels.h"
#include "backends/cuda/kernels/conv_pair.h"
#include "backends/cuda/kernels/mma.cuh"
#include "backends/cuda/kernels/smem_limit.h"
#include "ir/ops/fused_attrs.h"

namespace kiln::backend::cuda {

namespace {

using namespace mma_detail;

constexpr int k_bm = 128, k_bn = 128, k_bk = 64;  // Y tile (pixels x channels), K chunk
constexpr int k_pair_threads = 256;                // eight warps: 2 (pixels) x 4 (channels) of 64 x 32
constexpr int k_stage = (k_bm + k_bn) * k_bk;      // 16-bit values a pipeline stage holds: A, then W
constexpr int k_ldc = k_bn + 8;                    // staged Y row stride (conflict-free fragment stores)
constexpr size_t k_pair_smem = size_t{2} * k_stage * 2;  // two stages, 64 KiB; the staged tile fits in it
static_assert(size_t{k_bm} * k_ldc * 2 <= k_pair_smem, "the staged Y tile must fit in the pipeline's memory");

// One convolution's operands: X channels last [n, h, w, c], W [m, c].
struct Operand {
  const uint16_t* x;
  const uint16_t* w;
  int32_t c, h, w_cols, s;  // channels, input rows and columns, stride
  int32_t chunks;           // K chunks: ceil(c / k_bk)
  bool direct;              // stride 1 over Y's rows and columns: pixel p is X's row p
};

struct PairArgs {
  Operand in0, in1;
  const void* bias0;  // [m] or null
  const void* bias1;
  void* y;            // channels last [pixels, m]
  int64_t pixels;     // n * oh * ow
  int32_t oh, ow, m;
  int32_t n_tiles;    // ceil(m / k_bn)
  bool relu;
};

// The offset of pixel p's channels in o.x.
__device__ inline int64_t row_of(const Operand& o, int64_t p, int32_t oh, int32_t ow) {
  if (o.direct) return p * o.c;
  const int64_t hw = int64_t{oh} * ow;
  const int64_t n = p / hw;
  const auto r = static_cast<int32_t>(p - n * hw);
  const int32_t y = r / ow, x = r - y * ow;
  return ((n * o.h + int64_t{y} * o.s) * o.w_cols + int64_t{x} * o.s) * o.c;
}

// The 16-byte piece `piece` of row r in a 64-wide tile, XOR-swizzled so that
// ldmatrix's eight rows at one piece hit eight different bank groups.
__device__ inline int swz(int r, int piece) { return r * k_bk + ((piece ^ (r & 7)) << 3); }

// K chunk kc (X's chunks, then X2's) of A (k_bm pixels) and W (k_bn output
// channels) into a stage; zeros past the pixels, channels and K.
__device__ inline void load_chunk(const PairArgs& a, int kc, uint16_t* stage, int64_t m0, int n0, int tid) {
  const bool second = kc >= a.in0.chunks;
  const Operand o = second ? a.in1 : a.in0;
  const int piece = tid & 7;
  const int k = (second ? kc - a.in0.chunks : kc) * k_bk + piece * 8;
  const bool k_in = k < o.c;
  uint16_t* as = stage;
  uint16_t* ws = stage + k_bm * k_bk;
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    const int r = (tid >> 3) + 32 * j;
    const int64_t p = m0 + r;
    const bool xv = k_in && p < a.pixels;
    cp_async16(as + swz(r, piece), xv ? o.x + row_of(o, p, a.oh, a.ow) + k : o.x, xv);
    const bool wv = k_in && n0 + r < a.m;
    cp_async16(ws + swz(r, piece), wv ? o.w + int64_t{n0 + r} * o.c + k : o.w, wv);
  }
}

template <typename T>
__device__ inline void compute_chunk(const uint16_t* stage, float (&acc)[4][4][4], int warp_m, int warp_n, int lane) {
  const uint16_t* as = stage;
  const uint16_t* ws = stage + k_bm * k_bk;
#pragma unroll
  for (int ks = 0; ks < k_bk / 16; ++ks) {
    uint32_t af[4][4], bf[2][4];
#pragma unroll
    for (int mi = 0; mi < 4; ++mi) {
      // Lanes 0-15 address rows 0-15 at k 0-7, lanes 16-31 at k 8-15: a0..a3.
      const int r = warp_m * 64 + mi * 16 + (lane & 15);
      ldmatrix_x4(af[mi], as + swz(r, ks * 2 + (lane >> 4)));
    }
#pragma unroll
    for (int nj = 0; nj < 2; ++nj) {
      // Lanes 0-7: channels 0-7 at k 0-7, 8-15: at k 8-15, 16-31: channels
      // 8-15 likewise: b0, b1 of two n8 tiles.
      const int r = warp_n * 32 + nj * 16 + (lane & 7) + ((lane >> 4) << 3);
      ldmatrix_x4(bf[nj], ws + swz(r, ks * 2 + ((lane >> 3) & 1)));
    }
#pragma unroll
    for (int mi = 0; mi < 4; ++mi)
#pragma unroll
      for (int ni = 0; ni < 4; ++ni) mma<T>(acc[mi][ni], af[mi], bf[ni >> 1][(ni & 1) * 2], bf[ni >> 1][(ni & 1) * 2 + 1]);
  }
}

template <typename T>
__global__ void __launch_bounds__(k_pair_threads, 2) pair_gemm_kernel(PairArgs a) {
  extern __shared__ __align__(16) uint16_t smem[];
  const int tid = static_cast<int>(threadIdx.x), lane = tid & 31, warp = tid >> 5;
  const int warp_m = warp >> 2, warp_n = warp & 3;
  // The output-channel tiles of one pixel tile are neighbours in launch
  // order: the second reads A from L2.
  const int n0 = static_cast<int>(blockIdx.x % static_cast<unsigned>(a.n_tiles)) * k_bn;
  const int64_t m0 = static_cast<int64_t>(blockIdx.x / static_cast<unsigned>(a.n_tiles)) * k_bm;
  float acc[4][4][4] = {};
  const int nk = a.in0.chunks + a.in1.chunks;
  // Two stages: chunk kc + 2 loads while chunk kc + 1 is computed. One
  // group committed per chunk (empty past the end), so "all but the newest
  // group" is always chunk kc.
  load_chunk(a, 0, smem, m0, n0, tid);
  cp_async_commit();
  if (nk > 1) load_chunk(a, 1, smem + k_stage, m0, n0, tid);
  cp_async_commit();
  for (int kc = 0; kc < nk; ++kc) {
    cp_async_wait<1>();
    __syncthreads();
    compute_chunk<T>(smem + (kc & 1) * k_stage, acc, warp_m, warp_n, lane);
    __syncthreads();
    if (kc + 2 < nk) load_chunk(a, kc + 2, smem + (kc & 1) * k_stage, m0, n0, tid);
    cp_async_commit();
  }
  cp_async_wait<0>();

  // Bias (both), activation, 16-bit, staged as whole rows of the tile.
  const int g = lane >> 2, t = lane & 3;
  uint16_t* cs = smem;
#pragma unroll
  for (int ni = 0; ni < 4; ++ni) {
    const int col = warp_n * 32 + ni * 8 + 2 * t;
    float b0 = 0.f, b1 = 0.f;
    if (n0 + col < a.m) {
      const void* const biases[2] = {a.bias0, a.bias1};
#pragma unroll
      for (const void* bp : biases)
        if (bp) {
          const T* b = static_cast<const T*>(bp) + n0 + col;
          b0 += load(b[0]);
          b1 += load(b[1]);
        }
    }
#pragma unroll
    for (int mi = 0; mi < 4; ++mi) {
      const int r = warp_m * 64 + mi * 16 + g;
      float v[4] = {acc[mi][ni][0] + b0, acc[mi][ni][1] + b1, acc[mi][ni][2] + b0, acc[mi][ni][3] + b1};
      if (a.relu)
        for (float& e : v) e = fmaxf(e, 0.f);
      *reinterpret_cast<uint32_t*>(cs + r * k_ldc + col) = pack<T>(v[0], v[1]);
      *reinterpret_cast<uint32_t*>(cs + (r + 8) * k_ldc + col) = pack<T>(v[2], v[3]);
    }
  }
  __syncthreads();
  auto* y = static_cast<uint16_t*>(a.y);
  for (int i = tid; i < k_bm * (k_bn / 8); i += k_pair_threads) {
    const int r = i / (k_bn / 8), piece = i % (k_bn / 8);
    const int64_t p = m0 + r;
    const int n = n0 + piece * 8;
    if (p < a.pixels && n < a.m)
      *reinterpret_cast<uint4*>(y + p * a.m + n) = *reinterpret_cast<const uint4*>(cs + r * k_ldc + piece * 8);
  }
}

// Output rows and columns of a 1x1 convolution with stride s, no pads.
int64_t out_dim(int64_t d, int64_t s) { return (d - 1) / s + 1; }

int64_t stride_of(const std::vector<int64_t>& strides, size_t i) { return strides.size() == 2 ? strides[i] : 1; }

bool one_stride(const std::vector<int64_t>& strides) {
  return strides.empty() || (strides.size() == 2 && strides[0] == strides[1] && strides[0] >= 1);
}

class PairGemmKernel final : public Kernel {
 public:
  explicit PairGemmKernel(const ir::Node& node)
      : m_relu(ir::read_activation(node).kind == ir::Activation::Relu),
        m_s{stride_of(node.attr_ints("strides"), 0), stride_of(node.attr_ints("z_strides"), 0)} {}

  void run(KernelContext& ctx) override {
    const Tensor& x0 = ctx.input(0);
    const Tensor& x1 = ctx.input(3);
    const DataType dt = x0.dtype();
    for (size_t i : {size_t{1}, size_t{2}, size_t{3}, size_t{4}, size_t{5}})
      if (ctx.has_input(i) && ctx.input(i).dtype() != dt) ctx.fail("mma_pair takes all inputs in one 16-bit dtype");
    if (!is_16bit(dt)) ctx.fail("mma_pair takes 16-bit data");
    if (x0.rank() != 4 || x1.rank() != 4) ctx.fail("mma_pair takes 4-D X and X2");
    const Tensor& w0 = ctx.input(1);
    const Tensor& w1 = ctx.input(4);
    const int64_t m = w0.shape()[0];
    if (w0.shape() != Shape{m, x0.shape()[1], 1, 1} || w1.shape() != Shape{m, x1.shape()[1], 1, 1})
      ctx.fail("mma_pair: W " + shape_str(w0.shape()) + " and W2 " + shape_str(w1.shape()) +
               " must be 1x1 over X's and X2's channels with one output channel count");
    for (size_t i : {size_t{2}, size_t{5}})
      if (ctx.has_input(i) && ctx.input(i).shape() != Shape{m}) ctx.fail("mma_pair: a bias must have shape [M]");
    const int64_t n = x0.shape()[0];
    const int64_t oh = out_dim(x0.shape()[2], m_s[0]), ow = out_dim(x0.shape()[3], m_s[0]);
    if (x1.shape()[0] != n || out_dim(x1.shape()[2], m_s[1]) != oh || out_dim(x1.shape()[3], m_s[1]) != ow)
      ctx.fail("the two convolutions' outputs differ: X " + shape_str(x0.shape()) + ", X2 " + shape_str(x1.shape()));
    Tensor& y = ctx.output(0, dt, {n, m, oh, ow});
    if (!y.numel()) return;
    for (const void* p : {x0.raw(), x1.raw(), w0.raw(), w1.raw(), static_cast<const void*>(y.raw())})
      if (reinterpret_cast<uintptr_t>(p) % 16 != 0) ctx.fail("internal: mma_pair needs 16-byte aligned tensors");

    PairArgs a{};
    const auto operand = [&](const Tensor& x, const Tensor& w, int64_t s) {
      Operand o{};
      o.x = static_cast<const uint16_t*>(x.raw());
      o.w = static_cast<const uint16_t*>(w.raw());
      o.c = static_cast<int32_t>(x.shape()[1]);
      o.h = static_cast<int32_t>(x.shape()[2]);
      o.w_cols = static_cast<int32_t>(x.shape()[3]);
      o.s = static_cast<int32_t>(s);
      o.chunks = (o.c + k_bk - 1) / k_bk;
      o.direct = s == 1 && x.shape()[2] == oh && x.shape()[3] == ow;
      return o;
    };
    a.in0 = operand(x0, w0, m_s[0]);
    a.in1 = operand(x1, w1, m_s[1]);
    a.bias0 = ctx.has_input(2) ? ctx.input(2).raw() : nullptr;
    a.bias1 = ctx.has_input(5) ? ctx.input(5).raw() : nullptr;
    a.y = y.raw();
    a.pixels = n * oh * ow;
    a.oh = static_cast<int32_t>(oh);
    a.ow = static_cast<int32_t>(ow);
    a.m = static_cast<int32_t>(m);
    a.n_tiles = static_cast<int32_t>((m + k_bn - 1) / k_bn);
    a.relu = m_relu;
    const int64_t blocks = (a.pixels + k_bm - 1) / k_bm * a.n_tiles;
    if (blocks > INT32_MAX) ctx.fail("mma_pair: too many pixels");
    CudaStream& s = cuda_stream(ctx);
    const auto launch = [&](auto kernel) {
      if (!m_smem_set) {  // once per node, before any capture
        allow_smem(reinterpret_cast<const void*>(kernel), k_pair_smem);
        m_smem_set = true;
      }
      kernel<<<static_cast<unsigned>(blocks), k_pair_threads, k_pair_smem, s.get()>>>(a);
      KILN_CUDA_LAUNCH("pair_gemm_kernel");
    };
    if (dt == DataType::Float16) launch(pair_gemm_kernel<half>);
    else launch(pair_gemm_kernel<bf16>);
  }

 private:
  bool m_relu;
  int64_t m_s[2];
  bool m_smem_set = false;
};

}  // namespace

bool pair_gemm_applies(const ir::Node& n, const ir::Graph& g) {
  if (n.op_type != "FusedConvPair" || !n.has_input(0) || !n.has_input(1) || !n.has_input(3) || !n.has_input(4))
    return false;
  const DataType dt = g.value(n.inputs[1]).dtype;
  if (!is_16bit(dt)) return false;
  for (ir::ValueId v : n.inputs)
    if (v != ir::k_no_value && g.value(v).dtype != dt) return false;
  const ir::Activation act = ir::read_activation(n).kind;
  if (act != ir::Activation::None && act != ir::Activation::Relu) return false;
  // Channels last everywhere (passes/assign_cuda_layouts.cpp).
  const std::vector<int64_t> in = n.attr_ints("kiln_in_layouts");
  if (in.size() < 4 || in[0] != 1 || in[3] != 1 || n.attr_i("kiln_out_layout", 0) != 1) return false;
  int64_t m = -1;
  for (size_t i : {size_t{1}, size_t{4}}) {
    const auto& ws = g.value(n.inputs[i]).shape;
    if (!ws || ws->size() != 4 || !ir::shape_known(*ws)) return false;
    const Shape w = ir::to_shape(*ws);
    if (w[2] != 1 || w[3] != 1 || w[1] % 8 != 0 || w[0] % 8 != 0 || (m >= 0 && w[0] != m)) return false;
    m = w[0];
  }
  for (const char* p : {"", "z_"}) {
    const std::string pre(p);
    if (n.attr_i(pre + "group", 1) != 1 || !all_zero(n.attr_ints(pre + "pads")) ||
        !all_ones(n.attr_ints(pre + "dilations")) || n.attr_s(pre + "auto_pad", "NOTSET") != "NOTSET" ||
        !one_stride(n.attr_ints(pre + "strides")))
      return false;
  }
  return true;
}

std::unique_ptr<Kernel> make_pair_gemm(const ir::Node& n) { return std::make_unique<PairGemmKernel>(n); }

}  // namespace kiln::backend::cuda
