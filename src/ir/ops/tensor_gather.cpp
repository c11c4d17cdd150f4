// Schemas of the indexing ops: Gather, GatherElements, GatherND, ScatterND,
// ScatterElements (and its old name Scatter), OneHot.
#include <cmath>

#include "core/dispatch.h"
#include "ir/ops/tensor_common.h"

namespace kiln::ir::tensor_ops {

namespace {

void check_index_dtype(const InferContext& ctx, size_t input) {
  const DataType dt = ctx.input_dtype(input);
  if (dt != DataType::Int32 && dt != DataType::Int64)
    fail_of(ctx)("indices must be int32 or int64, got " + std::string(dtype_name(dt)));
}

void infer_gather(InferContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  check_index_dtype(ctx, 1);
  const auto &data = ctx.input_shape(0), &indices = ctx.input_shape(1);
  if (!data || !indices) return ctx.set_output(0, dt, std::nullopt);
  ctx.set_output(0, dt, named(ctx, rules::gather(fail_of(ctx), *data, *indices, ctx.node().attr_i("axis", 0))));
}

void infer_gather_elements(InferContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  check_index_dtype(ctx, 1);
  const auto &data = ctx.input_shape(0), &indices = ctx.input_shape(1);
  if (data && indices) {
    if (data->size() != indices->size())
      fail_of(ctx)("data " + sym_str(*data) + " and indices " + sym_str(*indices) + " differ in rank");
    rules::norm_axis(fail_of(ctx), ctx.node().attr_i("axis", 0), static_cast<int64_t>(data->size()));
  }
  ctx.set_output(0, dt, indices);
}

void infer_gather_nd(InferContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  if (ctx.input_dtype(1) != DataType::Int64) fail_of(ctx)("indices must be int64");
  const auto &data = ctx.input_shape(0), &indices = ctx.input_shape(1);
  if (!data || !indices) return ctx.set_output(0, dt, std::nullopt);
  const auto out = rules::gather_nd(fail_of(ctx), *data, *indices, ctx.node().attr_i("batch_dims", 0));
  ctx.set_output(0, dt, out ? std::optional(named(ctx, *out)) : std::nullopt);
}

void check_reduction(const InferContext& ctx) {
  const std::string red = ctx.node().attr_s("reduction", "none");
  if (red != "none" && red != "add" && red != "mul" && red != "max" && red != "min")
    fail_of(ctx)("unknown reduction '" + red + "'");
}

void infer_scatter_nd(InferContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  check_reduction(ctx);
  if (ctx.input_dtype(1) != DataType::Int64) fail_of(ctx)("indices must be int64");
  if (ctx.input_dtype(2) != dt) fail_of(ctx)("updates and data differ in dtype");
  const auto &data = ctx.input_shape(0), &indices = ctx.input_shape(1), &updates = ctx.input_shape(2);
  if (data && indices && updates && !indices->empty() && indices->back().known()) {
    // updates must have shape indices[:-1] + data[k:].
    const int64_t k = indices->back().value;
    if (k < 1 || k > static_cast<int64_t>(data->size()))
      fail_of(ctx)("indices' last dim " + std::to_string(k) + " exceeds data rank " + std::to_string(data->size()));
    const size_t want = indices->size() - 1 + data->size() - static_cast<size_t>(k);
    if (updates->size() != want)
      fail_of(ctx)("updates " + sym_str(*updates) + " must have rank " + std::to_string(want));
  }
  ctx.set_output(0, dt, data);
}

void infer_scatter_elements(InferContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  check_reduction(ctx);
  check_index_dtype(ctx, 1);
  if (ctx.input_dtype(2) != dt) fail_of(ctx)("updates and data differ in dtype");
  const auto &data = ctx.input_shape(0), &indices = ctx.input_shape(1), &updates = ctx.input_shape(2);
  if (data && indices && updates) {
    if (data->size() != indices->size() || indices->size() != updates->size())
      fail_of(ctx)("data, indices and updates must have the same rank");
    rules::norm_axis(fail_of(ctx), ctx.node().attr_i("axis", 0), static_cast<int64_t>(data->size()));
  }
  ctx.set_output(0, dt, data);
}

void infer_one_hot(InferContext& ctx) {
  const DataType dt = ctx.input_dtype(2);
  const auto& indices = ctx.input_shape(0);
  if (!indices) return ctx.set_output(0, dt, std::nullopt);
  Dim depth;
  if (const Tensor* d = ctx.input_const(1)) {
    if (d->numel() != 1) fail_of(ctx)("depth must hold one value, got " + shape_str(d->shape()));
    const double v = read_double(*d, 0);
    if (!(v >= 0)) fail_of(ctx)("depth must be >= 0, got " + std::to_string(v));
    depth = Dim(static_cast<int64_t>(v));
  }
  ctx.set_output(0, dt, named(ctx, rules::onehot(fail_of(ctx), *indices, depth, ctx.node().attr_i("axis", -1))));
}

}  // namespace

void register_gather_schemas(SchemaRegistry& r) {
  r.add(make_schema("Gather", 2, 2, 1, 1, 1, infer_gather));
  r.add(make_schema("GatherElements", 2, 2, 1, 1, 11, infer_gather_elements));
  r.add(make_schema("GatherND", 2, 2, 1, 1, 11, infer_gather_nd));
  r.add(make_schema("ScatterND", 3, 3, 1, 1, 11, infer_scatter_nd));
  r.add(make_schema("ScatterElements", 3, 3, 1, 1, 11, infer_scatter_elements));
  r.add(make_schema("Scatter", 3, 3, 1, 1, 9, infer_scatter_elements));
  r.add(make_schema("OneHot", 3, 3, 1, 1, 9, infer_one_hot));
}

}  // namespace kiln::ir::tensor_ops
