// Attention (opset 23/24) as the CPU kernel computes it (nn_attention.cpp):
//   scores = (Q K^T) * scale -> softcap -> + bias -> softmax -> (. V)
// with bias = attn_mask (bool: 0 / -inf; float: added; a short last dim is
// padded with -inf) + causal mask (offset = past length, or nonpad_kv_seqlen[b]
// - q_len) + the nonpad padding mask; a fully masked row gives zeros.
// Q, K, V go to [B, heads, seq, head] in the workspace when 3-D or views
// (kiln.views; and K/V with their past prepended), Y back from it; the two products are strided-batched cuBLASLt GEMMs
// over (batch, kv head) with the q heads sharing a kv head (GQA) stacked as
// rows; the softmax is one block per score row, or, when nothing but the
// scale applies, register rows (row_kernels.cuh: a warp per row up to 256). Scores are fp32 (fp64 for
// f64 inputs); probabilities go back to the input dtype for the second GEMM.
#include <cmath>
#include <memory>

#include "backends/cuda/kernels/common.cuh"
#include "backends/cuda/kernels/cublaslt_gemm.h"
#include "backends/cuda/kernels/cudnn_util.h"
#include "backends/cuda/kernels/row_kernels.cuh"
#include "backends/nn_params.h"

namespace kiln::backend::cuda {

namespace {

using Dims = params::AttentionDims;

using params::OperandLayout;

// out[b, h, t, :] = t < P ? past[b, h, t, :] : cur at (b, h, t - P).
template <typename T>
__global__ void gather_bhsd_kernel(T* out, const T* past, const T* cur, OperandLayout cs, int64_t nb, int64_t nh, int64_t np,
                                   int64_t ns, int64_t nd) {
  const int64_t total = np + ns;
  KILN_GRID_STRIDE(i, nb * nh * total * nd) {
    const int64_t d = i % nd, t = (i / nd) % total, h = (i / (nd * total)) % nh, b = i / (nd * total * nh);
    out[i] = t < np ? past[((b * nh + h) * np + t) * nd + d]
                    : cur[cs.offset + b * cs.strides[0] + h * cs.strides[1] + (t - np) * cs.strides[2] + d * cs.strides[3]];
  }
}

// [B, H, S, D] dense -> Y where it goes.
template <typename T>
__global__ void scatter_bhsd_kernel(T* out, OperandLayout ys, const T* in, int64_t nb, int64_t nh, int64_t ns, int64_t nd) {
  KILN_GRID_STRIDE(i, nb * nh * ns * nd) {
    const int64_t d = i % nd, s = (i / nd) % ns, h = (i / (nd * ns)) % nh, b = i / (nd * ns * nh);
    out[ys.offset + b * ys.strides[0] + h * ys.strides[1] + s * ys.strides[2] + d * ys.strides[3]] = in[i];
  }
}

struct SoftmaxParams {
  int64_t rows = 0, qh = 0, sq = 0, total = 0, past = 0;
  float softcap = 0.f;
  bool causal = false;
  const int64_t* nonpad = nullptr;  // [B] valid kv lengths, or null
  const void* mask = nullptr;
  bool mask_bool = false;
  int64_t ms[4] = {1, 1, 1, 1};  // mask dims right-aligned to [B, qh, Sq, mask_len]
  void* qk = nullptr;             // qk_matmul_output (input dtype) or null
  int mode = 0;
};

constexpr int k_softmax_threads = 256;

// Block-wide max or sum, in a fixed order (deterministic).
template <typename S, bool Max>
__device__ S block_reduce(S v, S* shared) {
  for (int o = 16; o > 0; o >>= 1) {
    const S w = __shfl_xor_sync(0xffffffffu, v, o);
    v = Max ? (w > v ? w : v) : v + w;
  }
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
  __syncthreads();  // earlier readers of shared[0] are done
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < warps ? shared[lane] : (Max ? S(-INFINITY) : S(0));
    for (int o = 16; o > 0; o >>= 1) {
      const S w = __shfl_xor_sync(0xffffffffu, v, o);
      v = Max ? (w > v ? w : v) : v + w;
    }
    if (lane == 0) shared[0] = v;
  }
  __syncthreads();
  return shared[0];
}

// One block per score row: softcap, bias, softmax; the row of scores (S) is
// rewritten with the biased values, probabilities go to `probs` (T, which may
// be the same memory when T is S).
template <typename T, typename S>
__global__ void __launch_bounds__(k_softmax_threads) attention_softmax_kernel(S* scores, T* probs, SoftmaxParams p) {
  __shared__ S shared[32];
  const S neg_inf = S(-INFINITY);
  const bool has_bias = p.mask || p.causal || p.nonpad;
  for (int64_t row = blockIdx.x; row < p.rows; row += gridDim.x) {
    const int64_t i = row % p.sq, h = (row / p.sq) % p.qh, b = row / (p.sq * p.qh);
    const int64_t valid = p.nonpad ? p.nonpad[b] : p.total;
    const int64_t offset = p.nonpad ? valid - p.sq : p.past;
    S* srow = scores + row * p.total;
    T* prow = probs + row * p.total;
    T* qrow = p.qk ? static_cast<T*>(p.qk) + row * p.total : nullptr;
    const int64_t mrow = (((p.ms[0] == 1 ? 0 : b) * p.ms[1] + (p.ms[1] == 1 ? 0 : h)) * p.ms[2] + (p.ms[2] == 1 ? 0 : i)) * p.ms[3];
    S mx = neg_inf, bias_max = neg_inf;
    for (int64_t j = threadIdx.x; j < p.total; j += blockDim.x) {
      S v = srow[j];
      if (qrow && p.mode == 0) qrow[j] = store<T>(v);
      if (p.softcap > 0.f) v = S(p.softcap) * tanh(v / S(p.softcap));
      if (qrow && p.mode == 1) qrow[j] = store<T>(v);
      S bj = 0;
      if (p.mask) {
        if (j >= p.ms[3]) bj = neg_inf;
        else if (p.mask_bool) bj = static_cast<const bool*>(p.mask)[mrow + j] ? S(0) : neg_inf;
        else bj = static_cast<S>(load(static_cast<const T*>(p.mask)[mrow + j]));
      }
      if (p.causal && i + offset < j) bj += neg_inf;
      if (p.nonpad && j >= valid) bj += neg_inf;
      bias_max = bj > bias_max ? bj : bias_max;
      v += bj;
      if (qrow && p.mode == 2) qrow[j] = store<T>(v);
      srow[j] = v;
      mx = v > mx ? v : mx;
    }
    mx = block_reduce<S, true>(mx, shared);
    bias_max = block_reduce<S, true>(bias_max, shared);
    const bool all_masked = has_bias && bias_max == neg_inf;
    S sum = 0;
    if (!all_masked)
      for (int64_t j = threadIdx.x; j < p.total; j += blockDim.x) sum += exp(srow[j] - mx);
    sum = block_reduce<S, false>(sum, shared);
    for (int64_t j = threadIdx.x; j < p.total; j += blockDim.x) {
      const S pr = all_masked ? S(0) : exp(srow[j] - mx) / sum;
      prow[j] = store<T>(pr);
      if (qrow && p.mode == 3) qrow[j] = store<T>(pr);
    }
  }
}

// The plain softmax (no softcap, mask, causal or padding bias, no
// qk_matmul_output) of score rows up to rows::k_max long, each read once into
// registers (row_kernels.cuh): exported transformers' attention, whose rows a
// 256-thread block per row left mostly idle.
template <typename T, typename S>
__global__ void __launch_bounds__(1024)
    attention_softmax_rows_kernel(const S* scores, T* probs, int64_t count, int n) {  // probs may be scores
  __shared__ S sh[32];
  S v[rows::k_vpt];
  KILN_ROWS(r, count) {
    rows::load(v, scores + r * n, n, -std::numeric_limits<S>::infinity());
    rows::softmax<false>(v, n, probs + r * n, sh);
  }
}

size_t round256(size_t n) { return (n + 255) / 256 * 256; }

class AttentionKernel final : public Kernel {
 public:
  explicit AttentionKernel(const ir::Node& node) : m_views(ir::attention_views(node)) {}

  void run(KernelContext& ctx) override {
    const Tensor& q = ctx.input(0);
    const DataType dt = q.dtype();
    for (size_t i : {size_t{1}, size_t{2}, size_t{4}, size_t{5}})
      if (ctx.has_input(i) && ctx.input(i).dtype() != dt) ctx.fail("Q, K, V and the past must have one dtype");
    dispatch_float(dt, ctx, [&](auto tag) {
      using T = decltype(tag);
      using S = Acc<T>;  // scores: float, double for f64
      run_typed<T, S>(ctx);
    });
  }

 private:
  template <typename T, typename S>
  void run_typed(KernelContext& ctx);

  GemmCache m_scores_gemm, m_values_gemm;
  std::optional<ir::AttentionViews> m_views;  // kiln.views, parsed once
};

template <typename T, typename S>
void AttentionKernel::run_typed(KernelContext& ctx) {
  const ir::Node& node = ctx.node();
  const Tensor& q = ctx.input(0);
  const DataType dt = q.dtype();
  const params::AttentionParams ap = params::attention_params(ctx, m_views);
  const Dims& d = ap.d;
  SoftmaxParams sp;
  sp.mode = static_cast<int>(ap.mode);
  sp.causal = ap.causal;
  sp.softcap = ap.softcap;
  const double scale = ap.scale;
  const Tensor* mask = ap.mask;
  const Tensor* nonpad = ap.nonpad;
  if (nonpad && nonpad->dtype() != DataType::Int64) ctx.fail("nonpad_kv_seqlen must be int64 on cuda");
  if (mask) {
    if (mask->dtype() != DataType::Bool && mask->dtype() != dt) ctx.fail("attn_mask must be bool or Q's dtype");
    for (size_t i = 0; i < 4; ++i) sp.ms[i] = ap.mask_dims[i];
    sp.mask = mask->raw();
    sp.mask_bool = mask->dtype() == DataType::Bool;
  }
  sp.nonpad = nonpad ? nonpad->data<int64_t>() : nullptr;
  Tensor& y = ctx.output(0, dt, ap.out);
  Tensor* present_k = ctx.has_output(1) ? &ctx.output(1, dt, {d.b, d.kvh, d.total, d.hs}) : nullptr;
  Tensor* present_v = ctx.has_output(2) ? &ctx.output(2, dt, {d.b, d.kvh, d.total, d.vhs}) : nullptr;
  Tensor* qk = ctx.has_output(3) ? &ctx.output(3, dt, {d.b, d.qh, d.sq, d.total}) : nullptr;
  CudaStream& st = cuda_stream(ctx);
  const int64_t rows = d.b * d.qh * d.sq, group_rows = (d.qh / d.kvh) * d.sq, groups = d.b * d.kvh;
  const bool need_scores = rows > 0 && d.total > 0 && (y.numel() > 0 || (qk && qk->numel() > 0));

  // The two products, planned first: their scratch is part of the one
  // workspace request. Workspace buffers are 256-byte aligned.
  cudaDataType_t t_type = CUDA_R_32F;
  cuda_data_type(dt, &t_type);
  const cudaDataType_t s_type = std::is_same_v<S, double> ? CUDA_R_64F : CUDA_R_32F;
  // Operands not [B, H, S, D] in place (3-D, views, a past to prepend) are
  // gathered into the workspace, and Y scattered from it.
  const bool moved = d.three_d || ap.views != nullptr;
  const bool q_ws = moved, k_ws = (moved || d.past) && !present_k, v_ws = (moved || d.past) && !present_v;
  const bool probs_ws = !std::is_same_v<T, S>, y_ws = moved;
  const OperandLayout &qs = ap.layout.q, &ks = ap.layout.k, &vs = ap.layout.v, &ys = ap.layout.y;
  const auto al = [](const void* p) { return static_cast<uint32_t>(pointer_alignment(p, 256)); };
  GemmProblem p1, p2;
  const GemmPlan* plan1 = nullptr;
  const GemmPlan* plan2 = nullptr;
  if (need_scores && d.hs > 0) {
    p1.ab_type = t_type;
    p1.cd_type = s_type;
    p1.tb = true;
    p1.m = group_rows;
    p1.n = d.total;
    p1.k = d.hs;
    p1.lda = p1.ldb = d.hs;
    p1.ldc = d.total;
    p1.batch = static_cast<int32_t>(groups);
    p1.stride_a = group_rows * d.hs;
    p1.stride_b = d.total * d.hs;
    p1.stride_c = group_rows * d.total;
    p1.align_a = q_ws ? 256u : al(q.raw());
    p1.align_b = k_ws ? 256u : al(present_k ? present_k->raw() : ctx.input(1).raw());
    p1.align_c = 256;
    plan1 = m_scores_gemm.get(st.cublaslt(), p1);
    if (!plan1) throw Error(ErrorCode::Unsupported, node.label() + ": cuBLASLt has no algorithm for " + p1.str());
  }
  if (need_scores && y.numel() > 0) {
    p2.ab_type = p2.cd_type = t_type;
    p2.m = group_rows;
    p2.n = d.vhs;
    p2.k = d.total;
    p2.lda = d.total;
    p2.ldb = p2.ldc = d.vhs;
    p2.batch = static_cast<int32_t>(groups);
    p2.stride_a = group_rows * d.total;
    p2.stride_b = d.total * d.vhs;
    p2.stride_c = group_rows * d.vhs;
    p2.align_a = 256;
    p2.align_b = v_ws ? 256u : al(present_v ? present_v->raw() : ctx.input(2).raw());
    p2.align_c = y_ws ? 256u : al(y.raw());
    plan2 = m_values_gemm.get(st.cublaslt(), p2);
    if (!plan2) throw Error(ErrorCode::Unsupported, node.label() + ": cuBLASLt has no algorithm for " + p2.str());
  }

  const size_t es = sizeof(T);
  const size_t q_bytes = q_ws ? round256(static_cast<size_t>(d.b * d.qh * d.sq * d.hs) * es) : 0;
  const size_t k_bytes = k_ws ? round256(static_cast<size_t>(d.b * d.kvh * d.total * d.hs) * es) : 0;
  const size_t v_bytes = v_ws ? round256(static_cast<size_t>(d.b * d.kvh * d.total * d.vhs) * es) : 0;
  const size_t s_bytes = need_scores ? round256(static_cast<size_t>(rows * d.total) * sizeof(S)) : 0;
  const size_t p_bytes = need_scores && probs_ws ? round256(static_cast<size_t>(rows * d.total) * es) : 0;
  const size_t y_bytes = y_ws ? round256(static_cast<size_t>(y.numel()) * es) : 0;
  const size_t g_bytes = std::max(plan1 ? plan1->workspace : 0, plan2 ? plan2->workspace : 0);
  const size_t total_bytes = q_bytes + k_bytes + v_bytes + s_bytes + p_bytes + y_bytes + g_bytes;
  char* ws = total_bytes ? static_cast<char*>(st.workspace(total_bytes)) : nullptr;
  char* cursor = ws;
  const auto take = [&](size_t bytes) {
    char* p = bytes ? cursor : nullptr;
    cursor += bytes;
    return p;
  };
  T* q4 = reinterpret_cast<T*>(take(q_bytes));
  T* k4 = reinterpret_cast<T*>(take(k_bytes));
  T* v4 = reinterpret_cast<T*>(take(v_bytes));
  S* scores = reinterpret_cast<S*>(take(s_bytes));
  T* probs = probs_ws ? reinterpret_cast<T*>(take(p_bytes)) : reinterpret_cast<T*>(scores);
  T* y4 = reinterpret_cast<T*>(take(y_bytes));
  void* gemm_ws = g_bytes ? take(g_bytes) : nullptr;

  // K and V as [B, kv_heads, total, head] (the present outputs when asked for).
  const auto gather = [&](T* out, const Tensor* past, const Tensor& cur, const OperandLayout& cs, int64_t heads, int64_t np,
                          int64_t ns, int64_t dim) {
    const int64_t n = d.b * heads * (np + ns) * dim;
    if (!n) return;
    gather_bhsd_kernel<T><<<grid_for(n), k_threads, 0, st.get()>>>(out, past ? past->data<T>() : nullptr,
                                                                   cur.data<T>(), cs, d.b, heads, np, ns, dim);
    KILN_CUDA_LAUNCH("gather_bhsd_kernel");
  };
  const Tensor* past_k = d.past ? &ctx.input(4) : nullptr;
  const Tensor* past_v = d.past ? &ctx.input(5) : nullptr;
  const T* kk = ctx.input(1).data<T>();
  const T* vv = ctx.input(2).data<T>();
  if (present_k || k_ws) {
    T* out = present_k ? present_k->data<T>() : k4;
    gather(out, past_k, ctx.input(1), ks, d.kvh, d.past, d.skv, d.hs);
    kk = out;
  }
  if (present_v || v_ws) {
    T* out = present_v ? present_v->data<T>() : v4;
    gather(out, past_v, ctx.input(2), vs, d.kvh, d.past, d.skv, d.vhs);
    vv = out;
  }
  if (!need_scores) {
    if (y.numel()) KILN_CUDA(cudaMemsetAsync(y.raw(), 0, y.nbytes(), st.get()));
    return;
  }
  const T* qq = q.data<T>();
  if (q_ws) {
    gather(q4, nullptr, q, qs, d.qh, 0, d.sq, d.hs);
    qq = q4;
  }
  if (plan1) run_gemm(st.cublaslt(), *plan1, scale, qq, kk, 0.0, nullptr, scores, nullptr, gemm_ws, st.get());
  else KILN_CUDA(cudaMemsetAsync(scores, 0, static_cast<size_t>(rows * d.total) * sizeof(S), st.get()));

  sp.rows = rows;
  sp.qh = d.qh;
  sp.sq = d.sq;
  sp.total = d.total;
  sp.past = d.past;
  sp.qk = qk ? qk->raw() : nullptr;
  if (!sp.mask && !sp.causal && !sp.nonpad && sp.softcap <= 0.f && !sp.qk && d.total <= rows::k_max) {
    const rows::Launch rl = rows::plan(rows, d.total);
    attention_softmax_rows_kernel<T, S><<<rl.blocks, rl.threads, 0, st.get()>>>(scores, probs, rows,
                                                                                static_cast<int>(d.total));
    KILN_CUDA_LAUNCH("attention_softmax_rows_kernel");
  } else {
    const unsigned blocks = static_cast<unsigned>(std::min<int64_t>(rows, int64_t{1} << 20));
    attention_softmax_kernel<T, S><<<blocks, k_softmax_threads, 0, st.get()>>>(scores, probs, sp);
    KILN_CUDA_LAUNCH("attention_softmax_kernel");
  }
  if (!plan2) return;
  T* yy = y_ws ? y4 : y.data<T>();
  run_gemm(st.cublaslt(), *plan2, 1.0, probs, vv, 0.0, nullptr, yy, nullptr, gemm_ws, st.get());
  if (y_ws) {
    scatter_bhsd_kernel<T><<<grid_for(y.numel()), k_threads, 0, st.get()>>>(y.data<T>(), ys, y4, d.b, d.qh, d.sq, d.vhs);
    KILN_CUDA_LAUNCH("scatter_bhsd_kernel");
  }
}

}  // namespace

std::unique_ptr<Kernel> make_cublaslt_attention(const ir::Node& node) { return std::make_unique<AttentionKernel>(node); }

std::unique_ptr<Kernel> cublaslt_attention_for(const ir::Node& n, const ir::Graph& g) {
  const std::initializer_list<DataType> floats = {DataType::Float32, DataType::Float16, DataType::BFloat16,
                                                  DataType::Float64};
  for (size_t i : {size_t{0}, size_t{1}, size_t{2}, size_t{4}, size_t{5}})
    if (i < n.inputs.size() && !dtype_in(g, n.inputs[i], floats))
      throw Error(ErrorCode::Unsupported, n.label() + ": Attention on cuda takes f32, f16, bf16 and f64");
  if (n.has_input(3) && g.value(n.inputs[3]).dtype != DataType::Bool && !dtype_in(g, n.inputs[3], floats))
    throw Error(ErrorCode::Unsupported, n.label() + ": attn_mask must be bool or float on cuda");
  if (n.has_input(6) && !dtype_in(g, n.inputs[6], {DataType::Int64}))
    throw Error(ErrorCode::Unsupported, n.label() + ": nonpad_kv_seqlen must be int64 on cuda");
  const int64_t mode = n.attr_i("qk_matmul_output_mode", 0);
  if (mode < 0 || mode > 3) throw Error(ErrorCode::InvalidModel, n.label() + ": qk_matmul_output_mode must be 0..3");
  return std::make_unique<AttentionKernel>(n);
}

void register_cuda_attention(KernelRegistry& r) { r.add("Attention", cublaslt_attention_for, "cublaslt"); }

}  // namespace kiln::backend::cuda
