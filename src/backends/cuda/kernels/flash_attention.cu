// Attention's "flash" candidates: softmax(scale * Q K^T) V in one kernel, the
// scores never leaving the SM (the online softmax of FlashAttention-2), for
// the plain attention of exported transformers: 16-bit Q, K, V, one head size
// of 32, 64 or 128 for both products, no mask, causal, padding, softcap, past
// or extra outputs (the "cublaslt" candidate does those). Q, K, V and Y are
// read and written where they are, 3-D, 4-D or views (kiln.views), through
// (batch, head, seq) strides, so the head split and merge cost nothing.
//
// A block takes 64 query rows of one (batch, head), a warp 16 of them; the
// key/value tiles of 64 rows go through shared memory, the products through
// tensor cores with fp32 accumulation. Two kernels, two candidates the
// builder times: "flash" on WMMA 16x16x16, where each lane keeps half a row
// of the output and its row's running max and sum in registers and the score
// tile and each P.V product pass through the warp's shared scratch (WMMA
// does not expose its fragments' layout); "flash_mma" on mma.sync
// (flash_attention_mma.cuh), FlashAttention-2's design, nothing but Q, K and
// V in shared memory. P is rounded to the input dtype for the second
// product, as FlashAttention does.
#include <mma.h>

#include <atomic>
#include <cmath>
#include <memory>
#include <optional>

#include "backends/cuda/kernels/common.cuh"
#include "backends/cuda/kernels/mma.cuh"
#include "backends/nn_params.h"

namespace kiln::backend::cuda {

// attention.cu: the kernel for every form of the op (its factory, and the
// kernel without checks for a node a factory already took).
std::unique_ptr<Kernel> cublaslt_attention_for(const ir::Node& n, const ir::Graph& g);
std::unique_ptr<Kernel> make_cublaslt_attention(const ir::Node& node);

namespace {

namespace wmma = nvcuda::wmma;

constexpr int k_rows = 64;   // query rows per block
constexpr int k_cols = 64;   // key rows per tile
constexpr int k_warps = 4;   // 16 query rows each

struct FlashParams {
  const void* q = nullptr;
  const void* k = nullptr;
  const void* v = nullptr;
  void* y = nullptr;
  int64_t qs[3], ks[3], vs[3], ys[3];  // element strides of batch, head, seq (the head dim is contiguous)
  int64_t heads = 0, group = 1, sq = 0, skv = 0;
  float scale_log2 = 0.f;  // scale * log2(e): the softmax in base 2
};

template <int D>
struct Layout {
  static constexpr int ld = D + 8;                               // T rows of Q, K, V tiles (padded: banks)
  static constexpr int lds = (k_cols > D ? k_cols : D) + 4;      // float scratch rows
  static constexpr int ldp = k_cols + 8;                         // T rows of P
  template <typename T>
  static constexpr size_t bytes() {
    return sizeof(T) * (size_t{k_rows} * ld + 2 * size_t{k_cols} * ld + size_t{k_warps} * 16 * ldp) +
           sizeof(float) * size_t{k_warps} * 16 * lds;
  }
};

// Rows [row0, row0 + 64) of a [rows, D] matrix with row stride `ss` into
// shared memory (row stride Layout::ld), 16 bytes a load; rows past the end
// are zeros.
template <typename T, int D, int LD = Layout<D>::ld>
__device__ inline void load_tile(T* dst, const T* src, int64_t ss, int64_t row0, int64_t rows) {
  constexpr int vec = 16 / sizeof(T), per_row = D / vec;
  for (int i = threadIdx.x; i < 64 * per_row; i += blockDim.x) {
    const int r = i / per_row, c = (i % per_row) * vec;
    uint4 val = make_uint4(0, 0, 0, 0);
    if (row0 + r < rows) val = __ldg(reinterpret_cast<const uint4*>(src + (row0 + r) * ss + c));
    *reinterpret_cast<uint4*>(dst + r * LD + c) = val;
  }
}

// The mma.sync kernel, on these helpers.
#include "backends/cuda/kernels/flash_attention_mma.cuh"

template <typename T, int D>
__global__ void __launch_bounds__(k_warps * 32) flash_attention_kernel(FlashParams p) {
  using L = Layout<D>;
  extern __shared__ __align__(128) unsigned char smem[];
  T* sq = reinterpret_cast<T*>(smem);
  T* sk = sq + k_rows * L::ld;
  T* sv = sk + k_cols * L::ld;
  T* sp = sv + k_cols * L::ld;
  float* ss = reinterpret_cast<float*>(sp + k_warps * 16 * L::ldp);
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int64_t b = blockIdx.y / p.heads, h = blockIdx.y % p.heads, kh = h / p.group;
  const int64_t q0 = static_cast<int64_t>(blockIdx.x) * k_rows;
  const T* qb = static_cast<const T*>(p.q) + b * p.qs[0] + h * p.qs[1];
  const T* kb = static_cast<const T*>(p.k) + b * p.ks[0] + kh * p.ks[1];
  const T* vb = static_cast<const T*>(p.v) + b * p.vs[0] + kh * p.vs[1];

  load_tile<T, D>(sq, qb, p.qs[2], q0, p.sq);
  __syncthreads();
  wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> qf[D / 16];
#pragma unroll
  for (int k = 0; k < D / 16; ++k) wmma::load_matrix_sync(qf[k], sq + warp * 16 * L::ld + k * 16, L::ld);

  // This lane's half row: row r of the warp's 16, columns [half * 32, +32)
  // of a score tile and [half * D/2, +D/2) of the output.
  const int r = lane >> 1, half_ = lane & 1;
  float* ws = ss + warp * 16 * L::lds;
  T* wp = sp + warp * 16 * L::ldp;
  float m = -INFINITY, l = 0.f, o[D / 2];
#pragma unroll
  for (int i = 0; i < D / 2; ++i) o[i] = 0.f;

  for (int64_t k0 = 0; k0 < p.skv; k0 += k_cols) {
    __syncthreads();  // the last tile's readers are done
    load_tile<T, D>(sk, kb, p.ks[2], k0, p.skv);
    load_tile<T, D>(sv, vb, p.vs[2], k0, p.skv);
    __syncthreads();
    // S = Q K^T for the warp's rows: K's rows are B's columns (col-major B).
#pragma unroll
    for (int n = 0; n < k_cols / 16; ++n) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
      wmma::fill_fragment(acc, 0.f);
#pragma unroll
      for (int k = 0; k < D / 16; ++k) {
        wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> kf;
        wmma::load_matrix_sync(kf, sk + n * 16 * L::ld + k * 16, L::ld);
        wmma::mma_sync(acc, qf[k], kf, acc);
      }
      wmma::store_matrix_sync(ws + n * 16, acc, L::lds, wmma::mem_row_major);
    }
    __syncwarp();
    // Online softmax of the half row; the pair of lanes of a row agree
    // through one shuffle.
    const int64_t valid = p.skv - k0;
    float t[32], mx = -INFINITY;
#pragma unroll
    for (int c = 0; c < 32; ++c) {
      t[c] = half_ * 32 + c < valid ? ws[r * L::lds + half_ * 32 + c] * p.scale_log2 : -INFINITY;
      mx = fmaxf(mx, t[c]);
    }
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
    const float m_new = fmaxf(m, mx);  // finite: every tile has a valid column
    const float alpha = exp2f(m - m_new);
    float sum = 0.f;
#pragma unroll
    for (int c = 0; c < 32; ++c) {
      const float e = exp2f(t[c] - m_new);
      sum += e;
      wp[r * L::ldp + half_ * 32 + c] = store<T>(e);
    }
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    l = l * alpha + sum;
    m = m_new;
#pragma unroll
    for (int i = 0; i < D / 2; ++i) o[i] *= alpha;
    __syncwarp();
    // P V into the scratch (the scores are read), then into the lane's half row.
#pragma unroll
    for (int n = 0; n < D / 16; ++n) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
      wmma::fill_fragment(acc, 0.f);
#pragma unroll
      for (int k = 0; k < k_cols / 16; ++k) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> pf;
        wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> vf;
        wmma::load_matrix_sync(pf, wp + k * 16, L::ldp);
        wmma::load_matrix_sync(vf, sv + k * 16 * L::ld + n * 16, L::ld);
        wmma::mma_sync(acc, pf, vf, acc);
      }
      wmma::store_matrix_sync(ws + n * 16, acc, L::lds, wmma::mem_row_major);
    }
    __syncwarp();
#pragma unroll
    for (int i = 0; i < D / 2; ++i) o[i] += ws[r * L::lds + half_ * (D / 2) + i];
    __syncwarp();  // the scratch is rewritten by the next tile's scores
  }

  const int64_t row = q0 + warp * 16 + r;
  if (row >= p.sq) return;
  const float inv = 1.f / l;
  T* yr = static_cast<T*>(p.y) + b * p.ys[0] + h * p.ys[1] + row * p.ys[2] + half_ * (D / 2);
  constexpr int vec = 16 / sizeof(T);
#pragma unroll
  for (int i = 0; i < D / 2; i += vec) {
    alignas(16) T out[vec];
#pragma unroll
    for (int j = 0; j < vec; ++j) out[j] = store<T>(o[i + j] * inv);
    *reinterpret_cast<uint4*>(yr + i) = *reinterpret_cast<const uint4*>(out);
  }
}

// Opts the kernel into its shared memory (over the 48 KiB default) once per
// device, then launches it.
template <typename T, int D, bool Mma>
void launch(const FlashParams& p, unsigned q_blocks, unsigned bh, CudaStream& st) {
  static std::atomic<uint64_t> opted{0};
  const int dev = st.device();
  const cudaStream_t stream = st.get();
  const auto kernel = Mma ? flash_mma_kernel<T, D> : flash_attention_kernel<T, D>;
  const size_t smem = Mma ? MmaLayout<D>::template bytes<T>() : Layout<D>::template bytes<T>();
  const uint64_t bit = uint64_t{1} << (dev & 63);
  if (!(opted.load() & bit)) {
    KILN_CUDA(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)));
    opted.fetch_or(bit);
  }
  kernel<<<dim3(q_blocks, bh), k_warps * 32, smem, stream>>>(p);
  KILN_CUDA_LAUNCH(Mma ? "flash_mma_kernel" : "flash_attention_kernel");
}

template <typename T, bool Mma>
void launch_typed(const FlashParams& p, int64_t hs, unsigned q_blocks, unsigned bh, CudaStream& st) {
  switch (hs) {
    case 32: return launch<T, 32, Mma>(p, q_blocks, bh, st);
    case 64: return launch<T, 64, Mma>(p, q_blocks, bh, st);
    default: return launch<T, 128, Mma>(p, q_blocks, bh, st);
  }
}

// Mma: the mma.sync kernel (flash_attention_mma.cuh), else the WMMA one.
template <bool Mma>
class FlashAttentionKernel final : public Kernel {
 public:
  explicit FlashAttentionKernel(const ir::Node& node) : m_views(ir::attention_views(node)) {}

  void run(KernelContext& ctx) override {
    const params::AttentionParams ap = params::attention_params(ctx, m_views);
    const params::AttentionDims& d = ap.d;
    const Tensor& q = ctx.input(0);
    const DataType dt = q.dtype();
    if (ctx.input(1).dtype() != dt || ctx.input(2).dtype() != dt) ctx.fail("Q, K and V must have one dtype");
    if (d.hs != d.vhs || (d.hs != 32 && d.hs != 64 && d.hs != 128) || d.past)
      ctx.fail("the flash kernel takes one head size of 32, 64 or 128 and no past");
    Tensor& y = ctx.output(0, dt, ap.out);
    if (!y.numel()) return;
    CudaStream& st = cuda_stream(ctx);
    if (d.skv == 0) {  // softmax over nothing: the CPU reference gives zeros
      KILN_CUDA(cudaMemsetAsync(y.raw(), 0, y.nbytes(), st.get()));
      return;
    }
    // Each operand's first element and (batch, head, seq) strides; its head
    // dim is contiguous (3-D, 4-D, or views the factory checked).
    FlashParams p;
    const int64_t es = static_cast<int64_t>(dtype_size(dt));
    const auto place = [&](const params::OperandLayout& v, const void* base, int64_t out[3]) {
      for (int i = 0; i < 3; ++i) out[i] = v.strides[i];
      return static_cast<const char*>(base) + v.offset * es;
    };
    p.q = place(ap.layout.q, q.raw(), p.qs);
    p.k = place(ap.layout.k, ctx.input(1).raw(), p.ks);
    p.v = place(ap.layout.v, ctx.input(2).raw(), p.vs);
    p.y = const_cast<char*>(place(ap.layout.y, y.raw(), p.ys));
    // Tensors the plan placed are 256-byte aligned; a caller's buffer bound
    // as an input or output may not be: cuBLASLt's candidate takes those.
    for (const void* ptr : {p.q, p.k, p.v, static_cast<const void*>(p.y)})
      if (reinterpret_cast<uintptr_t>(ptr) % 16) {
        if (!m_fallback) m_fallback = make_cublaslt_attention(ctx.node());
        return m_fallback->run(ctx);
      }
    p.heads = d.qh;
    p.group = d.qh / d.kvh;
    p.sq = d.sq;
    p.skv = d.skv;
    p.scale_log2 = static_cast<float>(ap.scale * 1.4426950408889634);
    const int64_t q_blocks = (d.sq + k_rows - 1) / k_rows, bh = d.b * d.qh;
    if (q_blocks > INT32_MAX || bh > 65535) ctx.fail("too many rows or heads for the flash kernel's grid");
    if (dt == DataType::Float16)
      launch_typed<half, Mma>(p, d.hs, static_cast<unsigned>(q_blocks), static_cast<unsigned>(bh), st);
    else
      launch_typed<bf16, Mma>(p, d.hs, static_cast<unsigned>(q_blocks), static_cast<unsigned>(bh), st);
  }

 private:
  std::optional<ir::AttentionViews> m_views;  // kiln.views, parsed once
  std::unique_ptr<Kernel> m_fallback;
};

// The head size of a Q, K or V input when the graph knows it: the last dim,
// divided by the heads attribute in the 3-D form, or the view's.
int64_t known_head_size(const ir::Node& n, const ir::Graph& g, size_t input, const char* heads_attr,
                        const std::optional<ir::AttentionViews>& views) {
  if (views) return (input == 0 ? views->q : input == 1 ? views->k : views->v).dims[3];
  const auto& s = g.value(n.inputs[input]).shape;
  if (!s || s->empty() || !s->back().known()) return -1;
  const int64_t last = s->back().value;
  if (s->size() == 4) return last;
  const int64_t heads = n.attr_i(heads_attr, 0);
  return s->size() == 3 && heads > 0 && last % heads == 0 ? last / heads : -1;
}

// The node when the flash kernels take it, else Error(Unsupported) saying why.
void check_flash(const ir::Node& n, const ir::Graph& g) {
  const auto refuse = [&](const std::string& why) {
    return Error(ErrorCode::Unsupported, n.label() + ": the flash kernel takes " + why);
  };
  if (n.inputs.size() != 3 || n.outputs.size() != 1) throw refuse("Q, K, V and Y only (no mask, past or extra outputs)");
  const DataType dt = g.value(n.inputs[0]).dtype;
  if (dt != DataType::Float16 && dt != DataType::BFloat16) throw refuse("f16 and bf16");
  if (!dtype_in(g, n.inputs[1], {dt}) || !dtype_in(g, n.inputs[2], {dt})) throw refuse("one dtype for Q, K and V");
  if (n.attr_i("is_causal", 0) != 0 || n.attr_f("softcap", 0.f) != 0.f) throw refuse("no causal mask or softcap");
  const std::optional<ir::AttentionViews> views = ir::attention_views(n);
  const int64_t hs = known_head_size(n, g, 0, "q_num_heads", views);
  if ((hs != 32 && hs != 64 && hs != 128) || known_head_size(n, g, 1, "kv_num_heads", views) != hs ||
      known_head_size(n, g, 2, "kv_num_heads", views) != hs)
    throw refuse("one known head size of 32, 64 or 128");
  // Rows of 16-byte vectors: the head dim contiguous, rows and offsets at
  // multiples of 8 elements.
  if (views)
    for (const ir::StridedView* v : {&views->q, &views->k, &views->v, &views->y})
      if (v->strides[3] != 1 || v->offset % 8 || v->strides[0] % 8 || v->strides[1] % 8 || v->strides[2] % 8)
        throw refuse("views with a contiguous head dim and rows at multiples of 8 elements");
}

}  // namespace

void register_cuda_flash_attention(KernelRegistry& r) {
  r.add("Attention", [](const ir::Node& n, const ir::Graph& g) -> std::unique_ptr<Kernel> {
    check_flash(n, g);
    return std::make_unique<FlashAttentionKernel<false>>(n);
  }, "flash");
  // Registered last, the preferred candidate where nothing was timed (a
  // Session's per-shape specializations of a dynamic engine): every form,
  // the ones flash does not take on cuBLASLt's kernel.
  r.add("Attention", [](const ir::Node& n, const ir::Graph& g) -> std::unique_ptr<Kernel> {
    try {
      check_flash(n, g);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::Unsupported) throw;
      return cublaslt_attention_for(n, g);
    }
    return std::make_unique<FlashAttentionKernel<true>>(n);
  }, "flash_mma");
}

}  // namespace kiln::backend::cuda
