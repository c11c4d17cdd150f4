#include "backends/ew_params.h"

#include <algorithm>
#include <string>

#include "ir/ops/nn_attrs.h"

namespace kiln::backend::params {

void require_same_dtype(const KernelContext& ctx, std::initializer_list<size_t> inputs) {
  DataType first = DataType::Undefined;
  for (size_t i : inputs) {
    if (!ctx.has_input(i)) continue;
    const DataType dt = ctx.input(i).dtype();
    if (first == DataType::Undefined) first = dt;
    else if (dt != first)
      ctx.fail("input " + std::to_string(i) + " has dtype " + std::string(dtype_name(dt)) + ", expected " +
               std::string(dtype_name(first)) + " like the other inputs");
  }
}

Shape broadcast_shape(const KernelContext& ctx, const std::vector<const Shape*>& shapes) {
  size_t rank = 0;
  for (const Shape* s : shapes) rank = std::max(rank, s->size());
  Shape out(rank, 1);
  for (const Shape* s : shapes) {
    const size_t off = rank - s->size();
    for (size_t i = 0; i < s->size(); ++i) {
      const int64_t d = (*s)[i];
      int64_t& o = out[off + i];
      if (d == o || d == 1) continue;
      if (o == 1) {
        o = d;
        continue;
      }
      std::string msg = "cannot broadcast shapes";
      for (const Shape* t : shapes) msg += " " + shape_str(*t);
      ctx.fail(msg);
    }
  }
  return out;
}

Shape legacy_rhs_shape(const KernelContext& ctx, const Shape& a, const Shape& b) {
  const ir::Node& node = ctx.node();
  if (node.attr_i("broadcast", 0) == 0) {
    if (a != b)
      ctx.fail("shapes " + shape_str(a) + " and " + shape_str(b) +
               " differ and the (opset < 7) broadcast attribute is not set");
    return b;
  }
  if (!node.attr("axis")) return b;  // suffix matching: what numpy does too
  const int64_t ra = static_cast<int64_t>(a.size()), rb = static_cast<int64_t>(b.size());
  int64_t axis = node.attr_i("axis", 0);
  if (axis < 0) axis += ra;
  if (axis < 0 || axis + rb > ra)
    ctx.fail("broadcast axis " + std::to_string(node.attr_i("axis", 0)) + " does not fit shape " + shape_str(b) +
             " into " + shape_str(a));
  Shape out = b;
  out.resize(static_cast<size_t>(ra - axis), 1);
  return out;
}

void binary_shapes(const KernelContext& ctx, Shape* sb, Shape* so) {
  const Shape& a = ctx.input(0).shape();
  const Shape& b = ctx.input(1).shape();
  *sb = ctx.opset() < 7 ? legacy_rhs_shape(ctx, a, b) : b;
  *so = broadcast_shape(ctx, {&a, sb});
}

Shape variadic_shape(const KernelContext& ctx) {
  const size_t n = ctx.num_inputs();
  if (n == 0) ctx.fail("needs at least one input");
  std::vector<const Shape*> shapes;
  for (size_t i = 0; i < n; ++i) shapes.push_back(&ctx.input(i).shape());
  for (size_t i = 1; i < n; ++i) require_same_dtype(ctx, {0, i});
  return broadcast_shape(ctx, shapes);
}

const Tensor* clip_bound(const KernelContext& ctx, size_t i) {
  if (!ctx.has_input(i)) return nullptr;
  require_same_dtype(ctx, {0, i});
  const Tensor& b = ctx.input(i);
  if (b.numel() != 1)
    ctx.fail(std::string(i == 1 ? "min" : "max") + " must be a scalar, got shape " + shape_str(b.shape()));
  return &b;
}

QuantLayout quant_layout(const KernelContext& ctx) {
  const ir::Node& node = ctx.node();
  const Tensor& x = ctx.input(0);
  const Tensor& scale = ctx.input(1);
  const Tensor* zp = ctx.optional_input(2);
  if (ir::opset_before(ctx.opset(), 13) && scale.numel() != 1) ctx.fail("the scale must be a scalar before opset 13");
  if (zp && zp->numel() != scale.numel())
    ctx.fail("the zero point's shape " + shape_str(zp->shape()) + " differs from the scale's " +
             shape_str(scale.shape()));
  QuantLayout l;
  const int64_t block = node.attr_i("block_size", 0);
  if (block < 0) ctx.fail("block_size must be >= 0");
  if (block == 0 && scale.numel() == 1 && scale.rank() <= 1) {
    l.inner = x.numel();
    return l;
  }
  if (x.rank() == 0) ctx.fail("a per-axis or blocked scale needs x of rank >= 1");
  const int64_t rank = x.rank();
  int64_t axis = node.attr_i("axis", 1);
  if (axis < -rank || axis >= rank)
    ctx.fail("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  if (axis < 0) axis += rank;
  const auto ax = static_cast<size_t>(axis);
  for (size_t i = 0; i < x.shape().size(); ++i) {
    if (i < ax) l.outer *= x.shape()[i];
    else if (i == ax) l.d = x.shape()[i];
    else l.inner *= x.shape()[i];
  }
  if (block == 0) {
    if (scale.rank() != 1 || scale.shape()[0] != l.d)
      ctx.fail("a per-axis scale must be 1-D of length " + std::to_string(l.d) + ", got shape " +
               shape_str(scale.shape()));
    l.mode = QuantLayout::Mode::Axis;
    return l;
  }
  Shape want = x.shape();
  want[ax] = (l.d + block - 1) / block;
  if (scale.shape() != want)
    ctx.fail("a blocked scale for x " + shape_str(x.shape()) + " with block_size " + std::to_string(block) +
             " must have shape " + shape_str(want) + ", got " + shape_str(scale.shape()));
  if (zp && zp->shape() != want) ctx.fail("the zero point's shape must be " + shape_str(want));
  l.mode = QuantLayout::Mode::Block;
  l.block = block;
  l.blocks = want[ax];
  return l;
}

QuantizeParams quantize_params(const KernelContext& ctx) {
  const ir::Node& node = ctx.node();
  const Tensor& scale = ctx.input(1);
  QuantizeParams p;
  p.out = ctx.has_input(2) ? ctx.input(2).dtype() : static_cast<DataType>(node.attr_i("output_dtype", 0));
  if (p.out == DataType::Undefined) p.out = DataType::UInt8;
  p.layout = quant_layout(ctx);
  p.precision = static_cast<DataType>(node.attr_i("precision", 0));
  if (p.precision == DataType::Undefined)
    p.precision = dtype_is_float(scale.dtype()) ? scale.dtype() : DataType::Float64;
  return p;
}

DequantizeParams dequantize_params(const KernelContext& ctx) {
  if (ctx.has_input(2) && ctx.input(2).dtype() != ctx.input(0).dtype())
    ctx.fail("the zero point's dtype differs from x's");
  DequantizeParams p;
  p.layout = quant_layout(ctx);
  p.out = static_cast<DataType>(ctx.node().attr_i("output_dtype", 0));
  if (p.out == DataType::Undefined)
    p.out = ir::opset_before(ctx.opset(), 19) ? DataType::Float32 : ctx.input(1).dtype();
  return p;
}

}  // namespace kiln::backend::params
