// Attention (opset 23/24): Q, K, V as 4-D [B, heads, seq, head_size] or 3-D
// [B, seq, heads*head_size] (then q_num_heads/kv_num_heads are required);
// optional attn_mask, past_key/past_value and (opset 24) nonpad_kv_seqlen.
// Outputs Y, present_key, present_value, qk_matmul_output.
#include "ir/ops/nn_schema.h"

namespace kiln::ir {

namespace {

Dim dim_op(InferContext& ctx, const Dim& a, const Dim& b, char op, const std::string& hint) {
  if (!a.known() || !b.known()) return ctx.new_symbol(hint);
  switch (op) {
    case '+': return Dim(a.value + b.value);
    case '*': return Dim(a.value * b.value);
    default:
      if (b.value == 0 || a.value % b.value != 0)
        ctx.fail(hint + ": " + std::to_string(a.value) + " is not divisible by " + std::to_string(b.value));
      return Dim(a.value / b.value);
  }
}

}  // namespace

void infer_attention(InferContext& ctx) {
  const Node& node = ctx.node();
  require_float(ctx, 0);
  require_same_dtype(ctx, 0, 1);
  require_same_dtype(ctx, 0, 2);
  if (ctx.has_input(6) && ctx.opset() == 23) ctx.fail("nonpad_kv_seqlen needs opset 24");
  if (ctx.has_input(4) != ctx.has_input(5)) ctx.fail("past_key and past_value must be given together");
  const int64_t mode = node.attr_i("qk_matmul_output_mode", 0);
  if (mode < 0 || mode > 3) ctx.fail("qk_matmul_output_mode must be 0..3");
  const int64_t qh_attr = node.attr_i("q_num_heads", 0), kvh_attr = node.attr_i("kv_num_heads", 0);
  const auto& qs = ctx.input_shape(0);
  const auto& ks = ctx.input_shape(1);
  const auto& vs = ctx.input_shape(2);
  const DataType dt = ctx.input_dtype(0);
  if (!qs || !ks || !vs) {
    for (size_t i = 0; i < 4; ++i) ctx.set_output(i, dt, std::nullopt);
    return;
  }
  const size_t rank = qs->size();
  if (rank != 3 && rank != 4) ctx.fail("Q must be 3-D or 4-D, got " + sym_str(*qs));
  if (ks->size() != rank || vs->size() != rank) ctx.fail("Q, K and V must have the same rank");
  Dim b = unify_dim(ctx, (*qs)[0], (*ks)[0], "batch of Q and K");
  b = unify_dim(ctx, b, (*vs)[0], "batch of Q and V");
  Dim qh, kvh, sq, skv, hs, vhs;
  if (rank == 4) {
    qh = (*qs)[1];
    kvh = unify_dim(ctx, (*ks)[1], (*vs)[1], "heads of K and V");
    sq = (*qs)[2];
    skv = unify_dim(ctx, (*ks)[2], (*vs)[2], "sequence of K and V");
    hs = unify_dim(ctx, (*qs)[3], (*ks)[3], "head size of Q and K");
    vhs = (*vs)[3];
  } else {
    if (qh_attr < 1 || kvh_attr < 1) ctx.fail("3-D inputs need q_num_heads and kv_num_heads");
    qh = Dim(qh_attr);
    kvh = Dim(kvh_attr);
    sq = (*qs)[1];
    skv = unify_dim(ctx, (*ks)[1], (*vs)[1], "sequence of K and V");
    hs = dim_op(ctx, (*qs)[2], qh, '/', "Q hidden size by q_num_heads");
    unify_dim(ctx, hs, dim_op(ctx, (*ks)[2], kvh, '/', "K hidden size by kv_num_heads"), "head size of Q and K");
    vhs = dim_op(ctx, (*vs)[2], kvh, '/', "V hidden size by kv_num_heads");
  }
  if (qh.known() && kvh.known() && (kvh.value < 1 || qh.value % kvh.value != 0))
    ctx.fail("q_num_heads " + std::to_string(qh.value) + " is not a multiple of kv_num_heads " +
             std::to_string(kvh.value));
  Dim total = skv;
  if (ctx.has_input(4)) {
    require_rank(ctx, 4, 4, 4);
    require_rank(ctx, 5, 4, 4);
    const auto& pk = ctx.input_shape(4);
    total = pk ? dim_op(ctx, (*pk)[2], skv, '+', "total_sequence_length") : ctx.new_symbol("total_sequence_length");
  }
  if (ctx.has_input(3)) {
    const DataType mt = ctx.input_dtype(3);
    if (mt != DataType::Undefined && mt != DataType::Bool && mt != dt)
      ctx.fail("attn_mask must be bool or Q's dtype, got " + std::string(dtype_name(mt)));
    require_rank(ctx, 3, 2, 4);
  }
  const SymShape y = rank == 4 ? SymShape{b, qh, sq, vhs} : SymShape{b, sq, dim_op(ctx, qh, vhs, '*', "hidden")};
  ctx.set_output(0, dt, y);
  ctx.set_output(1, dt, SymShape{b, kvh, total, hs});
  ctx.set_output(2, dt, SymShape{b, kvh, total, vhs});
  ctx.set_output(3, dt, SymShape{b, qh, sq, total});
}

void register_attention_schemas(SchemaRegistry& r) {
  OpSchema s;
  s.op_type = "Attention";
  s.min_inputs = 3;
  s.max_inputs = 7;
  s.max_outputs = 4;
  s.min_opset = 23;
  s.infer = infer_attention;
  add_nn_schema(r, std::move(s));
}

}  // namespace kiln::ir
