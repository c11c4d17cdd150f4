#include "backends/nn_params.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "backends/kernel_params.h"
#include "ir/ops/nn_attrs.h"
#include "kiln/error.h"

namespace kiln::backend::params {

// ---- Attention ----

AttentionDims attention_dims(const KernelContext& ctx) {
  const Tensor& q = ctx.input(0);
  const Tensor& k = ctx.input(1);
  const Tensor& v = ctx.input(2);
  const ir::Node& node = ctx.node();
  AttentionDims d;
  d.three_d = q.rank() == 3;
  if ((q.rank() != 3 && q.rank() != 4) || k.rank() != q.rank() || v.rank() != q.rank())
    ctx.fail("Q, K and V must all be 3-D or all 4-D");
  if (d.three_d) {
    d.qh = node.attr_i("q_num_heads", 0);
    d.kvh = node.attr_i("kv_num_heads", 0);
    if (d.qh < 1 || d.kvh < 1) ctx.fail("3-D inputs need q_num_heads and kv_num_heads");
    if (q.shape()[2] % d.qh || k.shape()[2] % d.kvh || v.shape()[2] % d.kvh)
      ctx.fail("hidden sizes are not divisible by the head counts");
    d.sq = q.shape()[1];
    d.skv = k.shape()[1];
    d.hs = q.shape()[2] / d.qh;
    d.vhs = v.shape()[2] / d.kvh;
    if (k.shape()[2] / d.kvh != d.hs) ctx.fail("Q and K head sizes differ");
  } else {
    d.qh = q.shape()[1];
    d.kvh = k.shape()[1];
    d.sq = q.shape()[2];
    d.skv = k.shape()[2];
    d.hs = q.shape()[3];
    d.vhs = v.shape()[3];
    if (k.shape()[3] != d.hs || v.shape()[1] != d.kvh) ctx.fail("K/V shapes do not match Q");
  }
  d.b = q.shape()[0];
  if (k.shape()[0] != d.b || v.shape()[0] != d.b || (d.three_d ? v.shape()[1] : v.shape()[2]) != d.skv)
    ctx.fail("Q, K and V disagree on batch or sequence length");
  if (d.kvh < 1 || d.qh % d.kvh != 0) ctx.fail("q_num_heads must be a multiple of kv_num_heads");
  if (ctx.has_input(4) && ctx.has_input(5)) {
    const Shape& pk = ctx.input(4).shape();
    const Shape& pv = ctx.input(5).shape();
    if (pk.size() != 4 || pv.size() != 4 || pk != Shape({d.b, d.kvh, pk[2], d.hs}) ||
        pv != Shape({d.b, d.kvh, pk[2], d.vhs}))
      ctx.fail("past_key/past_value must be [B, kv_heads, past, head_size]");
    d.past = pk[2];
  }
  d.total = d.past + d.skv;
  return d;
}

namespace {

// [B, heads, seq, dim] in the 3-D [B, seq, heads * dim] or 4-D tensor it is.
OperandLayout bhsd(bool three_d, int64_t heads, int64_t seq, int64_t dim) {
  OperandLayout l;
  l.strides[0] = heads * seq * dim;
  l.strides[1] = three_d ? dim : seq * dim;
  l.strides[2] = three_d ? heads * dim : dim;
  return l;
}

OperandLayout of_view(const ir::StridedView& v) {
  OperandLayout l;
  l.offset = v.offset;
  for (size_t i = 0; i < 4; ++i) l.strides[i] = v.strides[i];
  return l;
}

}  // namespace

AttentionParams attention_params(const KernelContext& ctx, const std::optional<ir::AttentionViews>& views) {
  const ir::Node& node = ctx.node();
  AttentionParams p;
  p.views = views ? &*views : nullptr;
  if (p.views) {
    const ir::AttentionViews& v = *p.views;
    if (ctx.has_input(3) || ctx.has_input(4) || ctx.has_input(5) || ctx.has_input(6))
      ctx.fail("kiln.views takes Q, K and V only");
    ir::check_view_extents(node, v, ctx.input(0).numel(), ctx.input(1).numel(), ctx.input(2).numel());
    AttentionDims& vd = p.d;
    vd.b = v.q.dims[0];
    vd.qh = v.q.dims[1];
    vd.sq = v.q.dims[2];
    vd.hs = v.q.dims[3];
    vd.kvh = v.k.dims[1];
    vd.skv = vd.total = v.k.dims[2];
    vd.vhs = v.v.dims[3];
  } else {
    p.d = attention_dims(ctx);
  }
  const AttentionDims& d = p.d;
  p.mode = node.attr_i("qk_matmul_output_mode", 0);
  p.causal = node.attr_i("is_causal", 0) != 0;
  p.softcap = node.attr_f("softcap", 0.f);
  p.scale = node.attr("scale") ? node.attr_f("scale", 1.f) : 1.0 / std::sqrt(static_cast<double>(d.hs));
  p.mask = ctx.optional_input(3);
  p.nonpad = ctx.optional_input(6);
  if (p.nonpad && p.nonpad->numel() != d.b) ctx.fail("nonpad_kv_seqlen must have one value per batch");
  // Mask broadcast: right-aligned against [B, qh, Sq, mask_len].
  Shape& ms = p.mask_dims;
  if (p.mask) {
    ms = p.mask->shape();
    if (ms.size() < 2 || ms.size() > 4) ctx.fail("attn_mask must have rank 2..4");
    const Shape full{d.b, d.qh, d.sq, ms.back()};
    for (size_t i = 0; i < ms.size(); ++i) {
      const int64_t want = full[4 - ms.size() + i];
      if (ms[i] != 1 && ms[i] != want) ctx.fail("attn_mask " + shape_str(ms) + " does not broadcast to the scores");
    }
    if (ms.back() > d.total) ctx.fail("attn_mask is longer than the total sequence length");
  }
  ms.insert(ms.begin(), 4 - ms.size(), 1);
  p.out = p.views ? p.views->y_shape : d.three_d ? Shape{d.b, d.sq, d.qh * d.vhs} : Shape{d.b, d.qh, d.sq, d.vhs};
  if (p.views)
    p.layout = {of_view(p.views->q), of_view(p.views->k), of_view(p.views->v), of_view(p.views->y)};
  else
    p.layout = {bhsd(d.three_d, d.qh, d.sq, d.hs), bhsd(d.three_d, d.kvh, d.skv, d.hs),
                bhsd(d.three_d, d.kvh, d.skv, d.vhs), bhsd(d.three_d, d.qh, d.sq, d.vhs)};
  return p;
}

// ---- Gemm ----

GemmParams gemm_params(const KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  const ir::Node& node = ctx.node();
  if (a.rank() != 2 || b.rank() != 2)
    ctx.fail("A " + shape_str(a.shape()) + " and B " + shape_str(b.shape()) + " must be 2-D");
  if (a.dtype() != b.dtype()) ctx.fail("A and B must have the same dtype");
  GemmParams p;
  p.ta = node.attr_i("transA", 0) != 0;
  p.tb = node.attr_i("transB", 0) != 0;
  p.alpha = node.attr_f("alpha", 1.f);
  p.beta = node.attr_f("beta", 1.f);
  p.m = a.shape()[p.ta ? 1 : 0];
  p.k = a.shape()[p.ta ? 0 : 1];
  p.n = b.shape()[p.tb ? 0 : 1];
  if (b.shape()[p.tb ? 1 : 0] != p.k)
    ctx.fail("inner dimensions of A " + shape_str(a.shape()) + " and B " + shape_str(b.shape()) + " differ");
  p.c = ctx.optional_input(2);
  if (p.c) {
    const Shape& cs = p.c->shape();
    if (cs.size() > 2) ctx.fail("C " + shape_str(cs) + " must have rank <= 2");
    if (!cs.empty()) p.c_cols = cs.back();
    if (cs.size() == 2) p.c_rows = cs[0];
    if ((p.c_rows != 1 && p.c_rows != p.m) || (p.c_cols != 1 && p.c_cols != p.n))
      ctx.fail("C " + shape_str(cs) + " does not broadcast to [" + std::to_string(p.m) + "," + std::to_string(p.n) +
               "]");
  }
  return p;
}

// ---- MatMul ----

MatMulShape matmul_shape(const KernelContext& ctx, Shape as, Shape bs) {
  if (as.empty() || bs.empty()) ctx.fail("MatMul operands must have rank >= 1");
  const bool a1 = as.size() == 1, b1 = bs.size() == 1;
  if (a1) as.insert(as.begin(), 1);
  if (b1) bs.push_back(1);
  MatMulShape s;
  s.b_vector = b1;
  s.m = as[as.size() - 2];
  s.k = as.back();
  s.n = bs.back();
  if (bs[bs.size() - 2] != s.k)
    ctx.fail("inner dimensions differ: A has " + std::to_string(s.k) + ", B has " + std::to_string(bs[bs.size() - 2]));
  s.a_batch.assign(as.begin(), as.end() - 2);
  s.b_batch.assign(bs.begin(), bs.end() - 2);
  const size_t rank = std::max(s.a_batch.size(), s.b_batch.size());
  for (size_t d = 0; d < rank; ++d) {
    const size_t ia = d + s.a_batch.size(), ib = d + s.b_batch.size();
    const int64_t da = ia >= rank ? s.a_batch[ia - rank] : 1;
    const int64_t db = ib >= rank ? s.b_batch[ib - rank] : 1;
    if (da != db && da != 1 && db != 1)
      ctx.fail("batch dimensions do not broadcast: " + shape_str(s.a_batch) + " vs " + shape_str(s.b_batch));
    s.batch.push_back(da == 1 ? db : da);
  }
  s.out = s.batch;
  if (!a1) s.out.push_back(s.m);
  if (!b1) s.out.push_back(s.n);
  return s;
}

// ---- Conv / ConvTranspose ----

namespace {
// The checks and dims both convolutions share.
ConvGeometry conv_dims(const KernelContext& ctx, const ir::Node& node, const Shape& xs, const Shape& ws) {
  if (xs.size() < 3) ctx.fail("X must have rank >= 3 (N, C, spatial...), got " + shape_str(xs));
  if (ws.size() != xs.size()) ctx.fail("W " + shape_str(ws) + " must have the rank of X " + shape_str(xs));
  ConvGeometry g;
  g.n = xs[0];
  g.c = xs[1];
  g.group = node.attr_i("group", 1);
  if (g.group < 1) ctx.fail("group must be >= 1");
  if (g.c % g.group != 0)
    ctx.fail("input channels " + std::to_string(g.c) + " are not divisible by group " + std::to_string(g.group));
  g.spatial.assign(xs.begin() + 2, xs.end());
  g.kernel.assign(ws.begin() + 2, ws.end());
  return g;
}
}  // namespace

ConvGeometry conv_geometry(const KernelContext& ctx, const ir::Node& node, const Shape& xs, const Shape& ws) {
  ConvGeometry g = conv_dims(ctx, node, xs, ws);
  g.m = ws[0];
  g.cg = ws[1];
  if (g.cg * g.group != g.c)
    ctx.fail("W " + shape_str(ws) + " expects " + std::to_string(g.cg * g.group) + " input channels, X has " +
             std::to_string(g.c));
  if (g.m % g.group != 0)
    ctx.fail("output channels " + std::to_string(g.m) + " are not divisible by group " + std::to_string(g.group));
  g.w = ir::read_window(node, g.spatial.size(), g.kernel, false);
  for (size_t i = 0; i < g.spatial.size(); ++i) g.grid.push_back(ir::window_out_dim(node, g.w, i, g.spatial[i]));
  g.y_shape = {g.n, g.m};
  g.y_shape.insert(g.y_shape.end(), g.grid.begin(), g.grid.end());
  return g;
}

ConvGeometry conv_transpose_geometry(const KernelContext& ctx, const ir::Node& node, const Shape& xs,
                                     const Shape& ws) {
  ConvGeometry g = conv_dims(ctx, node, xs, ws);
  if (ws[0] != g.c) ctx.fail("W " + shape_str(ws) + " must have X's " + std::to_string(g.c) + " channels in dim 0");
  g.m = ws[1] * g.group;
  g.cg = g.c / g.group;
  const size_t nd = g.spatial.size();
  g.w = ir::read_window(node, nd, g.kernel, false);
  std::vector<int64_t> out_pad = node.attr_ints("output_padding");
  if (out_pad.empty()) out_pad.assign(nd, 0);
  std::vector<int64_t> out_shape = node.attr_ints("output_shape");
  if (out_shape.size() == nd + 2) out_shape.erase(out_shape.begin(), out_shape.begin() + 2);
  if (out_pad.size() != nd || (!out_shape.empty() && out_shape.size() != nd))
    ctx.fail("output_padding and output_shape need one value per spatial axis");
  for (size_t i = 0; i < nd; ++i)
    g.grid.push_back(
        ir::transpose_out_dim(node, g.w, i, g.spatial[i], out_pad[i], out_shape.empty() ? 0 : out_shape[i]));
  g.y_shape = {g.n, g.m};
  g.y_shape.insert(g.y_shape.end(), g.grid.begin(), g.grid.end());
  return g;
}

// ---- channel-statistics norms ----

void require_vector(const KernelContext& ctx, size_t i, int64_t len, const char* what) {
  const Tensor& t = ctx.input(i);
  if (t.rank() != 1 || t.shape()[0] != len)
    ctx.fail(std::string(what) + " " + shape_str(t.shape()) + " must have shape [" + std::to_string(len) + "]");
}

BatchNormParams batch_norm_params(const KernelContext& ctx) {
  const ir::Node& node = ctx.node();
  if (node.attr_i("training_mode", 0) != 0)
    throw Error(ErrorCode::Unsupported, node.label() + ": training_mode=1 is not supported");
  const Tensor& x = ctx.input(0);
  if (x.rank() < 2) ctx.fail("X must have rank >= 2 (N, C, ...), got " + shape_str(x.shape()));
  BatchNormParams p;
  p.c = x.shape()[1];
  const char* names[] = {"", "scale", "B", "input_mean", "input_var"};
  for (size_t i = 1; i < 5; ++i) require_vector(ctx, i, p.c, names[i]);
  p.eps = node.attr_f("epsilon", 1e-5f);
  p.plane = prod(x.shape(), 2, x.shape().size());
  return p;
}

int64_t instance_norm_channels(const KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.rank() < 3) ctx.fail("X must have rank >= 3 (N, C, spatial...), got " + shape_str(x.shape()));
  const int64_t c = x.shape()[1];
  require_vector(ctx, 1, c, "scale");
  require_vector(ctx, 2, c, "B");
  return c;
}

GroupNormParams group_norm_params(const KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.rank() < 3) ctx.fail("X must have rank >= 3 (N, C, spatial...), got " + shape_str(x.shape()));
  GroupNormParams p;
  const int64_t c = x.shape()[1];
  p.groups = ctx.node().attr_i("num_groups", 0);
  if (p.groups < 1 || c % p.groups != 0)
    ctx.fail("channels " + std::to_string(c) + " are not divisible by num_groups " + std::to_string(p.groups));
  // Opset 18 had one scale/bias per group; opset 21 made them per channel.
  p.per_group = ir::opset_before(ctx.opset(), 21);
  require_vector(ctx, 1, p.per_group ? p.groups : c, "scale");
  require_vector(ctx, 2, p.per_group ? p.groups : c, "bias");
  return p;
}

std::vector<bool> mvn_reduced(const KernelContext& ctx) {
  const int64_t rank = ctx.input(0).rank();
  std::vector<bool> reduced(static_cast<size_t>(rank), false);
  for (int64_t a : ctx.node().attr_ints("axes", {0, 2, 3})) {
    const auto k = static_cast<size_t>(norm_axis(ctx, a, rank));
    if (reduced[k]) ctx.fail("axis " + std::to_string(a) + " is repeated");
    reduced[k] = true;
  }
  return reduced;
}

// ---- trailing-axis and one-axis norms ----

LayerNormPlan layer_norm_plan(const KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const ir::Node& node = ctx.node();
  if (x.rank() == 0) ctx.fail("X must have rank >= 1");
  LayerNormPlan p;
  p.axis = static_cast<size_t>(norm_axis(ctx, node.attr_i("axis", -1), x.rank()));
  p.eps = node.attr_f("epsilon", 1e-5f);
  p.tail.assign(x.shape().begin() + static_cast<std::ptrdiff_t>(p.axis), x.shape().end());
  p.outer = prod(x.shape(), 0, p.axis);
  p.inner = prod(p.tail, 0, p.tail.size());
  p.stat_shape = x.shape();
  for (size_t i = p.axis; i < p.stat_shape.size(); ++i) p.stat_shape[i] = 1;
  p.stash = static_cast<DataType>(node.attr_i("stash_type", 1));
  return p;
}

void require_broadcast_to(const KernelContext& ctx, size_t i, const Shape& tail) {
  const Shape& s = ctx.input(i).shape();
  bool ok = s.size() <= tail.size();
  for (size_t k = 0; ok && k < s.size(); ++k) {
    const int64_t d = s[s.size() - 1 - k];
    ok = d == 1 || d == tail[tail.size() - 1 - k];
  }
  if (!ok) ctx.fail("input " + std::to_string(i) + " " + shape_str(s) + " does not broadcast to " + shape_str(tail));
}

LpNormPlan lp_norm_plan(const KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.rank() == 0) ctx.fail("X must have rank >= 1");
  const auto axis = static_cast<size_t>(norm_axis(ctx, ctx.node().attr_i("axis", -1), x.rank()));
  LpNormPlan p;
  p.p = ctx.node().attr_i("p", 2);
  if (p.p != 1 && p.p != 2) ctx.fail("p must be 1 or 2, got " + std::to_string(p.p));
  p.outer = prod(x.shape(), 0, axis);
  p.n = x.shape()[axis];
  p.inner = prod(x.shape(), axis + 1, x.shape().size());
  return p;
}

LrnPlan lrn_plan(const KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const ir::Node& node = ctx.node();
  if (x.rank() < 2) ctx.fail("X must have rank >= 2 (N, C, ...), got " + shape_str(x.shape()));
  LrnPlan p;
  p.size = node.attr_i("size", 0);
  if (p.size < 1) ctx.fail("size must be >= 1");
  p.alpha = node.attr_f("alpha", 1e-4f);
  p.beta = node.attr_f("beta", 0.75f);
  p.bias = node.attr_f("bias", 1.f);
  p.c = x.shape()[1];
  p.plane = prod(x.shape(), 2, x.shape().size());
  p.before = (p.size - 1) / 2;  // floor and ceil of (size-1)/2
  p.after = p.size - 1 - p.before;
  return p;
}

SoftmaxPlan softmax_plan(const KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.rank() == 0) ctx.fail("input must have rank >= 1");
  const bool old = ir::opset_before(ctx.opset(), 13);
  const auto ax = static_cast<size_t>(norm_axis(ctx, ctx.node().attr_i("axis", old ? 1 : -1), x.rank()));
  SoftmaxPlan p;
  p.outer = prod(x.shape(), 0, ax);
  p.n = old ? prod(x.shape(), ax, x.shape().size()) : x.shape()[ax];
  p.inner = old ? 1 : prod(x.shape(), ax + 1, x.shape().size());
  return p;
}

// ---- pooling ----

GlobalPoolPlan global_pool_plan(const KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.rank() < 2) ctx.fail("X must have rank >= 2 (N, C, spatial...), got " + shape_str(x.shape()));
  GlobalPoolPlan p;
  p.out = x.shape();
  for (size_t i = 2; i < p.out.size(); ++i) p.out[i] = 1;
  p.planes = x.shape()[0] * x.shape()[1];
  p.size = prod(x.shape(), 2, x.shape().size());
  if (p.size == 0) ctx.fail("X " + shape_str(x.shape()) + " has an empty spatial extent");
  return p;
}

}  // namespace kiln::backend::params
