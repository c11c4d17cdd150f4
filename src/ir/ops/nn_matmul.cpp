// Matrix-product schemas: Gemm, MatMul (NumPy batched broadcasting, 1-D
// operands), MatMulInteger and Einsum.
#include <algorithm>
#include <cstddef>

#include "ir/ops/nn_einsum.h"
#include "ir/ops/nn_schema.h"

namespace kiln::ir {

namespace {

void require_numeric(const InferContext& ctx, size_t i) {
  const DataType dt = ctx.input_dtype(i);
  if (dt == DataType::Bool || dt == DataType::String || dt == DataType::Complex64 ||
      dt == DataType::Complex128)
    ctx.fail(input_label(ctx, i) + " has unsupported dtype " + std::string(dtype_name(dt)));
}

void infer_gemm(InferContext& ctx) {
  require_numeric(ctx, 0);
  require_same_dtype(ctx, 0, 1);
  require_rank(ctx, 0, 2, 2);
  require_rank(ctx, 1, 2, 2);
  const Node& node = ctx.node();
  const bool ta = node.attr_i("transA", 0) != 0, tb = node.attr_i("transB", 0) != 0;
  const auto& as = ctx.input_shape(0);
  const auto& bs = ctx.input_shape(1);
  const Dim m = as ? (*as)[ta ? 1 : 0] : Dim();
  const Dim ka = as ? (*as)[ta ? 0 : 1] : Dim();
  const Dim kb = bs ? (*bs)[tb ? 1 : 0] : Dim();
  const Dim n = bs ? (*bs)[tb ? 0 : 1] : Dim();
  unify_dim(ctx, ka, kb, "inner dimensions of A and B differ");
  if (ctx.has_input(2)) {
    require_same_dtype(ctx, 0, 2);
    require_rank(ctx, 2, 0, 2);
    // C must broadcast one way to [M, N].
    if (const auto& cs = ctx.input_shape(2)) {
      const SymShape mn{m, n};
      for (size_t k = 0; k < cs->size(); ++k) {
        const Dim& c = (*cs)[cs->size() - 1 - k];
        const Dim& want = mn[1 - k];
        if (c.known() && c.value != 1 && want.known() && c.value != want.value)
          ctx.fail("C " + sym_str(*cs) + " does not broadcast to [M, N] = " + sym_str(mn));
      }
    }
  }
  ctx.set_output(0, ctx.input_dtype(0), (as || bs) ? std::optional<SymShape>(SymShape{m, n}) : std::nullopt);
}

// NumPy matmul shape of a and b (both known rank).
SymShape matmul_shape(const InferContext& ctx, const SymShape& a, const SymShape& b) {
  if (a.empty() || b.empty()) ctx.fail("MatMul operands must have rank >= 1");
  const Dim ka = a.back();
  const Dim kb = b.size() == 1 ? b[0] : b[b.size() - 2];
  unify_dim(ctx, ka, kb, "inner dimensions of A " + sym_str(a) + " and B " + sym_str(b) + " differ");
  const SymShape a_batch(a.begin(), a.end() - std::min<ptrdiff_t>(2, static_cast<ptrdiff_t>(a.size())));
  const SymShape b_batch(b.begin(), b.end() - std::min<ptrdiff_t>(2, static_cast<ptrdiff_t>(b.size())));
  SymShape out = broadcast_shapes(ctx, {a_batch, b_batch});
  if (a.size() >= 2) out.push_back(a[a.size() - 2]);
  if (b.size() >= 2) out.push_back(b.back());
  return out;
}

void infer_matmul(InferContext& ctx) {
  require_numeric(ctx, 0);
  require_same_dtype(ctx, 0, 1);
  const auto& as = ctx.input_shape(0);
  const auto& bs = ctx.input_shape(1);
  std::optional<SymShape> out;
  if (as && bs) out = matmul_shape(ctx, *as, *bs);
  ctx.set_output(0, ctx.input_dtype(0), out);
}

void infer_matmul_integer(InferContext& ctx) {
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    const DataType dt = ctx.input_dtype(i);
    if (ctx.has_input(i) && dt != DataType::Undefined && dt != DataType::Int8 && dt != DataType::UInt8)
      ctx.fail(input_label(ctx, i) + " must be int8 or uint8, got " + std::string(dtype_name(dt)));
  }
  if (ctx.has_input(2)) require_same_dtype(ctx, 0, 2);
  if (ctx.has_input(3)) require_same_dtype(ctx, 1, 3);
  const auto& as = ctx.input_shape(0);
  const auto& bs = ctx.input_shape(1);
  std::optional<SymShape> out;
  if (as && bs) out = matmul_shape(ctx, *as, *bs);
  // Zero points: a scalar, or per row of A (length M) / per column of B (length N).
  for (size_t i : {size_t{2}, size_t{3}}) {
    const auto& zs = ctx.input_shape(i);
    if (zs && zs->size() > 1) ctx.fail(input_label(ctx, i) + " (zero point) must be a scalar or 1-D");
  }
  ctx.set_output(0, DataType::Int32, out);
}

void infer_einsum(InferContext& ctx) {
  require_numeric(ctx, 0);
  std::vector<size_t> ranks;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    require_same_dtype(ctx, 0, i);
    const auto& s = ctx.input_shape(i);
    if (!s) return ctx.set_output(0, ctx.input_dtype(0), std::nullopt);
    ranks.push_back(s->size());
  }
  const EinsumSpec spec = parse_einsum(ctx.node(), ranks);
  std::vector<Dim> size(static_cast<size_t>(spec.num_labels), Dim(1));
  std::vector<bool> seen(size.size(), false);
  for (size_t i = 0; i < spec.inputs.size(); ++i) {
    const SymShape& s = *ctx.input_shape(i);
    for (size_t k = 0; k < s.size(); ++k) {
      const auto l = static_cast<size_t>(spec.inputs[i][k]);
      if (!seen[l]) { size[l] = s[k]; seen[l] = true; continue; }
      if (s[k].known() && s[k].value == 1) continue;  // broadcasts
      if (size[l].known() && size[l].value == 1) { size[l] = s[k]; continue; }
      size[l] = unify_dim(ctx, size[l], s[k], "an einsum label has two sizes");
    }
  }
  SymShape out;
  for (int l : spec.output) out.push_back(size[static_cast<size_t>(l)]);
  ctx.set_output(0, ctx.input_dtype(0), out);
}

OpSchema schema(const char* op, int min_in, int max_in, InferFn fn) {
  OpSchema s;
  s.op_type = op;
  s.min_inputs = min_in;
  s.max_inputs = max_in;
  s.infer = std::move(fn);
  return s;
}

}  // namespace

void register_matmul_schemas(SchemaRegistry& r) {
  OpSchema gemm = schema("Gemm", 2, 3, infer_gemm);
  add_nn_schema(r, gemm);
  add_nn_schema(r, schema("MatMul", 2, 2, infer_matmul));
  add_nn_schema(r, schema("MatMulInteger", 2, 4, infer_matmul_integer));
  OpSchema einsum = schema("Einsum", 1, 64, infer_einsum);
  einsum.min_opset = 12;
  add_nn_schema(r, einsum);
}

}  // namespace kiln::ir
