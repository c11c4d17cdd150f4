// Pooling schemas: MaxPool (with optional Indices), AveragePool and the
// global pools. X is [N, C, spatial...].
#include "ir/ops/nn_schema.h"
#include "ir/ops/nn_attrs.h"

namespace kiln::ir {

namespace {

void require_pool_dtype(InferContext& ctx, bool allow_int8) {
  const DataType dt = ctx.input_dtype(0);
  if (dt == DataType::Undefined || dtype_is_float(dt)) return;
  if (allow_int8 && (dt == DataType::Int8 || dt == DataType::UInt8)) return;
  ctx.fail("input X has unsupported dtype " + std::string(dtype_name(dt)));
}

// Output shape of a windowed pool; nullopt when X's rank is unknown.
std::optional<SymShape> pool_shape(InferContext& ctx) {
  require_rank(ctx, 0, 3);
  const auto& xs = ctx.input_shape(0);
  const size_t spatial = xs ? xs->size() - 2 : ctx.node().attr_ints("kernel_shape").size();
  Window w = read_window(ctx.node(), spatial, {}, true);
  if (!xs) return std::nullopt;
  SymShape out{(*xs)[0], (*xs)[1]};
  for (size_t i = 0; i < spatial; ++i) {
    const Dim& d = (*xs)[i + 2];
    out.push_back(d.known() ? Dim(window_out_dim(ctx.node(), w, i, d.value))
                            : ctx.new_symbol("out" + std::to_string(i)));
  }
  return out;
}

void infer_max_pool(InferContext& ctx) {
  require_pool_dtype(ctx, true);
  const int64_t order = ctx.node().attr_i("storage_order", 0);
  if (order != 0 && order != 1) ctx.fail("storage_order must be 0 or 1");
  const auto out = pool_shape(ctx);
  ctx.set_output(0, ctx.input_dtype(0), out);
  ctx.set_output(1, DataType::Int64, out);
}

void infer_average_pool(InferContext& ctx) {
  require_pool_dtype(ctx, false);
  const int64_t cip = ctx.node().attr_i("count_include_pad", 0);
  if (cip != 0 && cip != 1) ctx.fail("count_include_pad must be 0 or 1");
  ctx.set_output(0, ctx.input_dtype(0), pool_shape(ctx));
}

void infer_global_pool(InferContext& ctx) {
  require_pool_dtype(ctx, false);
  require_rank(ctx, 0, 2);
  std::optional<SymShape> out = ctx.input_shape(0);
  if (out)
    for (size_t i = 2; i < out->size(); ++i) (*out)[i] = Dim(1);
  ctx.set_output(0, ctx.input_dtype(0), out);
}

}  // namespace

void register_pool_schemas(SchemaRegistry& r) {
  OpSchema max_pool;
  max_pool.op_type = "MaxPool";
  max_pool.max_outputs = 2;
  max_pool.infer = infer_max_pool;
  add_nn_schema(r, max_pool);

  OpSchema avg_pool;
  avg_pool.op_type = "AveragePool";
  avg_pool.infer = infer_average_pool;
  add_nn_schema(r, avg_pool);

  for (const char* op : {"GlobalAveragePool", "GlobalMaxPool"}) {
    OpSchema g;
    g.op_type = op;
    g.infer = infer_global_pool;
    add_nn_schema(r, g);
  }
}

}  // namespace kiln::ir
