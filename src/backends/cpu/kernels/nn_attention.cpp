// Attention (opset 23/24) reference kernel, following the ONNX function body:
//   scores = (Q K^T) * scale → softcap → + bias → softmax → (· V)
// where bias = attn_mask (bool: 0 / -inf; float: added; a short last dim is
// padded with -inf) + causal mask (row i sees columns j <= i + offset, offset =
// past length, or nonpad_kv_seqlen[b] - q_len in opset 24) + the nonpad
// padding mask. A row whose bias is all -inf yields zero probabilities.
// qk_matmul_output_mode: 0 scaled QK, 1 after softcap, 2 after bias, 3 probs.
#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "backends/cpu/kernels/nn_kernels.h"
#include "backends/nn_params.h"

namespace kiln::backend {

namespace {

using nn::AccIn;
using nn::AccOut;

using Dims = params::AttentionDims;

// An operand in its tensor (AttentionParams::layout) as a dense [B, H, S, D] array.
template <typename A>
std::vector<A> from_view(const Tensor& t, const params::OperandLayout& v, const Shape& n) {
  const AccIn<A> src(t);
  std::vector<A> out(static_cast<size_t>(n[0] * n[1] * n[2] * n[3]));
  size_t o = 0;
  for (int64_t i = 0; i < n[0]; ++i)
    for (int64_t h = 0; h < n[1]; ++h)
      for (int64_t j = 0; j < n[2]; ++j)
        for (int64_t k = 0; k < n[3]; ++k)
          out[o++] = src[v.offset + i * v.strides[0] + h * v.strides[1] + j * v.strides[2] + k * v.strides[3]];
  return out;
}

// Concatenates past [B, H, P, D] and cur [B, H, S, D] along the sequence.
template <typename A>
std::vector<A> concat_seq(const A* past, const std::vector<A>& cur, const Dims& d, int64_t dim) {
  const int64_t s = d.skv, p = d.past, t = d.total;
  std::vector<A> out(static_cast<size_t>(d.b * d.kvh * t * dim));
  for (int64_t bh = 0; bh < d.b * d.kvh; ++bh) {
    if (p) std::copy(past + bh * p * dim, past + (bh + 1) * p * dim, out.begin() + bh * t * dim);
    std::copy(cur.begin() + bh * s * dim, cur.begin() + (bh + 1) * s * dim, out.begin() + (bh * t + p) * dim);
  }
  return out;
}

void run_attention(KernelContext& ctx) {
  const Tensor& q = ctx.input(0);
  const std::optional<ir::AttentionViews> views = ir::attention_views(ctx.node());
  const params::AttentionParams p = params::attention_params(ctx, views);
  const Dims& d = p.d;
  const int64_t mode = p.mode;
  const bool causal = p.causal;
  const float softcap = p.softcap;
  const double scale = p.scale;
  const Tensor* mask = p.mask;
  const Tensor* nonpad = p.nonpad;
  const Shape& ms = p.mask_dims;
  Tensor& y = ctx.output(0, q.dtype(), p.out);
  nn::dispatch_acc(ctx, q.dtype(), [&](auto tag) {
    using A = decltype(tag);
    const std::vector<A> qa = from_view<A>(q, p.layout.q, {d.b, d.qh, d.sq, d.hs});
    std::vector<A> ka = from_view<A>(ctx.input(1), p.layout.k, {d.b, d.kvh, d.skv, d.hs});
    std::vector<A> va = from_view<A>(ctx.input(2), p.layout.v, {d.b, d.kvh, d.skv, d.vhs});
    if (d.past) {
      const AccIn<A> pk(ctx.input(4)), pv(ctx.input(5));
      ka = concat_seq(pk.data(), ka, d, d.hs);
      va = concat_seq(pv.data(), va, d, d.vhs);
    }
    for (size_t i = 1; i <= 2; ++i) {
      if (!ctx.has_output(i)) continue;
      Tensor& t = ctx.output(i, q.dtype(), {d.b, d.kvh, d.total, i == 1 ? d.hs : d.vhs});
      AccOut<A> o(t);
      std::copy((i == 1 ? ka : va).begin(), (i == 1 ? ka : va).end(), o.data());
      o.commit();
    }
    std::optional<AccIn<A>> mask_f;
    if (mask && mask->dtype() != DataType::Bool) mask_f.emplace(*mask);
    Tensor* qk_t = ctx.has_output(3) ? &ctx.output(3, q.dtype(), {d.b, d.qh, d.sq, d.total}) : nullptr;
    std::optional<AccOut<A>> qk;
    if (qk_t) qk.emplace(*qk_t);
    AccOut<A> ya(y);
    const A neg_inf = -std::numeric_limits<A>::infinity();
    std::vector<A> s(static_cast<size_t>(d.total)), out(static_cast<size_t>(d.vhs));
    const bool has_bias = mask || causal || nonpad;
    for (int64_t b = 0; b < d.b; ++b) {
      const int64_t valid = nonpad ? read_int(*nonpad, b) : d.total;
      const int64_t offset = nonpad ? valid - d.sq : d.past;
      for (int64_t h = 0; h < d.qh; ++h) {
        const int64_t kv = h / (d.qh / d.kvh);
        const A* kb = ka.data() + (b * d.kvh + kv) * d.total * d.hs;
        const A* vb = va.data() + (b * d.kvh + kv) * d.total * d.vhs;
        for (int64_t i = 0; i < d.sq; ++i) {
          const A* qr = qa.data() + ((b * d.qh + h) * d.sq + i) * d.hs;
          A* qk_row = qk ? qk->data() + ((b * d.qh + h) * d.sq + i) * d.total : nullptr;
          A bias_max = neg_inf;
          for (int64_t j = 0; j < d.total; ++j) {
            A bj = 0;
            if (mask) {
              if (j >= ms[3]) {
                bj = neg_inf;
              } else {
                const int64_t mi = (((ms[0] == 1 ? 0 : b) * ms[1] + (ms[1] == 1 ? 0 : h)) * ms[2] + (ms[2] == 1 ? 0 : i)) * ms[3] + j;
                bj = mask_f ? (*mask_f)[mi] : (mask->data<bool>()[mi] ? A(0) : neg_inf);
              }
            }
            if (causal && i + offset < j) bj += neg_inf;
            if (nonpad && j >= valid) bj += neg_inf;
            bias_max = std::max(bias_max, bj);
            double dot = 0;
            for (int64_t c = 0; c < d.hs; ++c) dot += static_cast<double>(qr[c]) * static_cast<double>(kb[j * d.hs + c]);
            A v = static_cast<A>(dot * scale);
            if (qk_row && mode == 0) qk_row[j] = v;
            if (softcap > 0.f) v = static_cast<A>(softcap * std::tanh(v / softcap));
            if (qk_row && mode == 1) qk_row[j] = v;
            v += bj;
            if (qk_row && mode == 2) qk_row[j] = v;
            s[static_cast<size_t>(j)] = v;
          }
          // Softmax; a row the bias masks entirely gets zero probabilities, not NaN.
          const bool all_masked = has_bias && bias_max == neg_inf;
          A mx = neg_inf;
          for (A v : s) mx = std::max(mx, v);
          double sum = 0;
          for (A& v : s) sum += static_cast<double>(v = all_masked ? A(0) : std::exp(v - mx));
          for (A& v : s) v = all_masked ? A(0) : static_cast<A>(static_cast<double>(v) / sum);
          if (qk_row && mode == 3) std::copy(s.begin(), s.end(), qk_row);
          std::fill(out.begin(), out.end(), A(0));
          for (int64_t j = 0; j < d.total; ++j)
            for (int64_t c = 0; c < d.vhs; ++c) out[static_cast<size_t>(c)] += s[static_cast<size_t>(j)] * vb[j * d.vhs + c];
          const params::OperandLayout& yv = p.layout.y;
          A* yr = ya.data() + yv.offset + b * yv.strides[0] + h * yv.strides[1] + i * yv.strides[2];
          for (int64_t c = 0; c < d.vhs; ++c) yr[c * yv.strides[3]] = out[static_cast<size_t>(c)];
        }
      }
    }
    ya.commit();
    if (qk) qk->commit();
  });
}

}  // namespace

void register_cpu_attention(KernelRegistry& r) { r.add_fn("Attention", run_attention); }

}  // namespace kiln::backend
