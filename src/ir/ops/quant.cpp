// The quantization op family: QuantizeLinear and DequantizeLinear (per-tensor,
// per-axis from opset 13, blocked from opset 21), DynamicQuantizeLinear, and
// MeanVarianceNormalization.
#include <string>

#include "ir/op_schema.h"
#include "ir/ops/elementwise_infer.h"
#include "ir/ops/families.h"
#include "ir/ops/nn_attrs.h"
#include "kiln/error.h"

namespace kiln::ir {

namespace {

using ew::bit;
using ew::check_dtype;

// The integer types kiln quantizes to and from. float8/int4/int2 types cannot
// be held in a kiln Tensor (import refuses them as Unsupported).
constexpr uint32_t k_quant = bit(DataType::Int8) | bit(DataType::UInt8) | bit(DataType::Int16) |
                             bit(DataType::UInt16) | bit(DataType::Int32);

// A scalar or a 1-element vector: per-tensor quantization.
bool is_one(const SymShape& s) { return s.empty() || (s.size() == 1 && s[0].known() && s[0].value == 1); }

// False when the shapes differ in rank or in a dim known on both sides (a
// scalar and a 1-element vector count as equal).
bool may_equal(const SymShape& a, const SymShape& b) {
  if (is_one(a) && is_one(b)) return true;
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].known() && b[i].known() && a[i].value != b[i].value) return false;
  return true;
}

// Checks y_scale (input 1) and the zero point (input 2) against x's shape for
// the granularity they imply: a scalar (or one element) per tensor, a 1-D
// vector along `axis` per axis, or x's rank with the axis dim divided into
// blocks of block_size.
void check_granularity(const InferContext& ctx) {
  const Node& node = ctx.node();
  const auto& xs = ctx.input_shape(0);
  const auto& ss = ctx.input_shape(1);
  const auto& zs = ctx.input_shape(2);
  if (ss && zs && !may_equal(*ss, *zs))
    ctx.fail("the zero point's shape " + sym_str(*zs) + " differs from the scale's " + sym_str(*ss));
  if (!ss) return;
  const int64_t block = node.attr_i("block_size", 0);
  if (block < 0) ctx.fail("block_size must be >= 0, got " + std::to_string(block));
  if (block == 0 && is_one(*ss)) return;
  if (opset_before(ctx.opset(), 13))
    ctx.fail("the scale must be a scalar before opset 13, got shape " + sym_str(*ss));
  if (!xs) return;
  const int64_t axis = normalize_axis(ctx, node.attr_i("axis", 1), static_cast<int64_t>(xs->size()));
  const Dim& d = (*xs)[static_cast<size_t>(axis)];
  if (block == 0) {
    if (ss->size() != 1) ctx.fail("a per-axis scale must be 1-D, got shape " + sym_str(*ss));
    if (d.known() && (*ss)[0].known() && d.value != (*ss)[0].value)
      ctx.fail("the scale has " + std::to_string((*ss)[0].value) + " entries for axis " + std::to_string(axis) +
               " of size " + std::to_string(d.value));
    return;
  }
  if (ss->size() != xs->size())
    ctx.fail("a blocked scale must have x's rank " + std::to_string(xs->size()) + ", got shape " + sym_str(*ss));
  for (size_t i = 0; i < xs->size(); ++i) {
    const Dim& xd = (*xs)[i];
    const Dim& sd = (*ss)[i];
    if (!xd.known() || !sd.known()) continue;
    const int64_t want = static_cast<int64_t>(i) == axis ? (xd.value + block - 1) / block : xd.value;
    if (sd.value != want)
      ctx.fail("blocked scale shape " + sym_str(*ss) + " does not match x " + sym_str(*xs) + " with block_size " +
               std::to_string(block) + " on axis " + std::to_string(axis));
  }
}

DataType attr_dtype(const InferContext& ctx, const char* key) {
  const auto dt = static_cast<DataType>(ctx.node().attr_i(key, 0));
  if (dt != DataType::Undefined && !dtype_is_supported(dt))
    throw Error(ErrorCode::Unsupported, ctx.node().label() + ": " + key + " " +
                                            std::to_string(static_cast<int>(dt)) + " is not a dtype kiln supports");
  return dt;
}

void infer_quantize(InferContext& ctx) {
  check_dtype(ctx, 0, ew::k_float | bit(DataType::Int32));
  check_dtype(ctx, 1, ew::k_float | bit(DataType::Int32));
  DataType out = attr_dtype(ctx, "output_dtype");
  if (ctx.has_input(2)) {
    const DataType zt = check_dtype(ctx, 2, k_quant);
    if (out != DataType::Undefined && zt != DataType::Undefined && zt != out)
      ctx.fail("output_dtype " + std::string(dtype_name(out)) + " differs from the zero point's dtype " +
               std::string(dtype_name(zt)));
    out = zt;
  }
  if (out == DataType::Undefined && !ctx.has_input(2)) out = DataType::UInt8;
  if (out != DataType::Undefined && !(k_quant & bit(out)))
    ctx.fail("cannot quantize to " + std::string(dtype_name(out)));
  const DataType precision = attr_dtype(ctx, "precision");
  if (precision != DataType::Undefined && !dtype_is_float(precision))
    ctx.fail("precision must name a float type");
  check_granularity(ctx);
  ctx.set_output(0, out, ctx.input_shape(0));
}

void infer_dequantize(InferContext& ctx) {
  const DataType xt = check_dtype(ctx, 0, k_quant);
  check_dtype(ctx, 1, ew::k_float);
  if (ctx.has_input(2)) {
    const DataType zt = check_dtype(ctx, 2, k_quant);
    if (xt != DataType::Undefined && zt != DataType::Undefined && zt != xt)
      ctx.fail("the zero point's dtype " + std::string(dtype_name(zt)) + " differs from x's " +
               std::string(dtype_name(xt)));
  }
  check_granularity(ctx);
  // The scale's type is the output's from opset 19 (float32 before); output_dtype overrides it from 23.
  DataType out = attr_dtype(ctx, "output_dtype");
  if (out != DataType::Undefined && !dtype_is_float(out)) ctx.fail("output_dtype must name a float type");
  if (out == DataType::Undefined) out = opset_before(ctx.opset(), 19) ? DataType::Float32 : ctx.input_dtype(1);
  ctx.set_output(0, out, ctx.input_shape(0));
}

void infer_dynamic_quantize(InferContext& ctx) {
  check_dtype(ctx, 0, bit(DataType::Float32));
  ctx.set_output(0, DataType::UInt8, ctx.input_shape(0));
  ctx.set_output(1, DataType::Float32, SymShape{});
  ctx.set_output(2, DataType::UInt8, SymShape{});
}

void infer_mvn(InferContext& ctx) {
  const DataType dt = check_dtype(ctx, 0, ew::k_float);
  const auto& xs = ctx.input_shape(0);
  if (xs) {
    const auto rank = static_cast<int64_t>(xs->size());
    std::vector<bool> seen(xs->size(), false);
    for (int64_t a : ctx.node().attr_ints("axes", {0, 2, 3})) {
      const auto k = static_cast<size_t>(normalize_axis(ctx, a, rank));
      if (seen[k]) ctx.fail("axis " + std::to_string(a) + " is repeated");
      seen[k] = true;
    }
  }
  ctx.set_output(0, dt, xs);
}

}  // namespace

void register_quant_schemas(SchemaRegistry& r) {
  ew::add_schema(r, "QuantizeLinear", 2, 3, 10, infer_quantize);
  ew::add_schema(r, "DequantizeLinear", 2, 3, 10, infer_dequantize);
  ew::add_schema(r, "DynamicQuantizeLinear", 1, 1, 11, infer_dynamic_quantize, 3, 3);
  ew::add_schema(r, "MeanVarianceNormalization", 1, 1, 9, infer_mvn);
}

}  // namespace kiln::ir
