#include "backends/kernel_params.h"

#include <algorithm>

#include "core/dispatch.h"
#include "ir/ops/nn_attrs.h"
#include "kiln/error.h"

namespace kiln::backend::params {

using ir::to_sym;

// ---- host operands ----

std::vector<int64_t> host_ints(const KernelContext& ctx, size_t i) {
  const Tensor& t = ctx.input(i);
  if (!t.on_host())
    throw Error(ErrorCode::Internal, ctx.node().label() + ": input " + std::to_string(i) + " must be in host memory");
  if (dtype_is_float(t.dtype()) || t.dtype() == DataType::Bool)
    ctx.fail("input " + std::to_string(i) + " must be an integer tensor, got " + std::string(dtype_name(t.dtype())));
  return read_ints(t);
}

int64_t scalar_int(const KernelContext& ctx, size_t i, const char* what) {
  const Tensor& t = ctx.input(i);
  if (t.numel() != 1) ctx.fail(std::string(what) + " must be a scalar, got " + shape_str(t.shape()));
  return host_ints(ctx, i)[0];
}

std::optional<std::vector<double>> host_doubles(const KernelContext& ctx, size_t i) {
  if (!ctx.has_input(i) || ctx.input(i).numel() == 0) return std::nullopt;
  const Tensor& t = ctx.input(i);
  std::vector<double> v;
  for (int64_t k = 0; k < t.numel(); ++k) v.push_back(read_double(t, k));
  return v;
}

Shape concrete(const KernelContext& ctx, const ir::SymShape& s) {
  if (!ir::shape_known(s))
    throw Error(ErrorCode::Internal, ctx.node().label() + ": output shape " + ir::sym_str(s) + " not concrete");
  return ir::to_shape(s);
}

// ---- strided copies ----

std::optional<std::vector<CopyAxis>> merge_copy_axes(const std::vector<int64_t>& dst_strides,
                                                     const std::vector<int64_t>& src_strides, const Shape& shape) {
  std::vector<CopyAxis> axes;  // outermost first, unit dims dropped
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 0) return std::nullopt;
    if (shape[i] != 1) axes.push_back({shape[i], dst_strides[i], src_strides[i]});
  }
  std::vector<CopyAxis> merged;  // innermost first
  for (auto it = axes.rbegin(); it != axes.rend(); ++it) {
    if (!merged.empty()) {
      CopyAxis& in = merged.back();
      if (it->dst == in.dst * in.n && it->src == in.src * in.n) {
        in.n *= it->n;
        continue;
      }
    }
    merged.push_back(*it);
  }
  return merged;
}

// ---- reshape family ----

Shape flatten_shape(const KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  return concrete(ctx, ir::rules::flatten(fail_of(ctx), to_sym(in.shape()), ctx.node().attr_i("axis", 1)));
}

Shape reshape_shape(const KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  const auto target = ctx.opset() < 5 ? ctx.node().attr_ints("shape") : host_ints(ctx, 1);
  const bool allowzero = ctx.node().attr_i("allowzero", 0) != 0;
  return concrete(ctx, ir::rules::reshape(fail_of(ctx), to_sym(in.shape()), target, allowzero));
}

namespace {
// Squeeze/Unsqueeze axes: an attribute before opset 13, input 1 from 13.
std::optional<std::vector<int64_t>> axes_of(const KernelContext& ctx) {
  if (ctx.opset() < 13) {
    if (!ctx.node().attr("axes")) return std::nullopt;
    return ctx.node().attr_ints("axes");
  }
  if (!ctx.has_input(1)) return std::nullopt;
  return host_ints(ctx, 1);
}
}  // namespace

Shape squeeze_shape(const KernelContext& ctx) {
  const auto axes = axes_of(ctx);
  const auto out = ir::rules::squeeze(fail_of(ctx), to_sym(ctx.input(0).shape()), axes ? &*axes : nullptr);
  return concrete(ctx, *out);
}

Shape unsqueeze_shape(const KernelContext& ctx) {
  const auto axes = axes_of(ctx);
  if (!axes) ctx.fail("needs axes");
  return concrete(ctx, ir::rules::unsqueeze(fail_of(ctx), to_sym(ctx.input(0).shape()), *axes));
}

// ---- strided copies ----

namespace {
std::vector<int64_t> strides_of(const Shape& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (size_t i = s.size(); i-- > 1;) st[i - 1] = st[i] * s[i];
  return st;
}
}  // namespace

StridedView transpose_view(const KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  const auto perm = ir::rules::transpose_perm(fail_of(ctx), ctx.node().attr_ints("perm"), in.rank());
  const std::vector<int64_t> in_strides = strides_of(in.shape());
  StridedView v;
  for (int64_t p : perm) {
    v.out.push_back(in.shape()[static_cast<size_t>(p)]);
    v.src.push_back(in_strides[static_cast<size_t>(p)]);
  }
  v.dims = v.out;
  return v;
}

StridedView expand_view(const KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  const auto target = host_ints(ctx, 1);
  for (int64_t t : target)
    if (t < 0) ctx.fail("shape " + shape_str(target) + " has a negative dim");
  StridedView v;
  v.out = concrete(ctx, ir::rules::broadcast(fail_of(ctx), to_sym(in.shape()), to_sym(target)));
  v.dims = v.out;
  // The input read with stride 0 along the dims it broadcasts.
  const size_t off = v.out.size() - in.shape().size();
  const std::vector<int64_t> in_strides = strides_of(in.shape());
  v.src.assign(v.out.size(), 0);
  for (size_t i = 0; i < in.shape().size(); ++i) v.src[off + i] = in.shape()[i] == 1 ? 0 : in_strides[i];
  return v;
}

StridedView slice_view(const KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  const ir::Node& node = ctx.node();
  std::vector<int64_t> starts, ends, axes, steps;
  bool has_axes = false, has_steps = false;
  if (ctx.opset() < 10) {
    starts = node.attr_ints("starts");
    ends = node.attr_ints("ends");
    has_axes = node.attr("axes") != nullptr;
    if (has_axes) axes = node.attr_ints("axes");
  } else {
    starts = host_ints(ctx, 1);
    ends = host_ints(ctx, 2);
    if ((has_axes = ctx.has_input(3))) axes = host_ints(ctx, 3);
    if ((has_steps = ctx.has_input(4))) steps = host_ints(ctx, 4);
  }
  const auto sl = ir::rules::slice(fail_of(ctx), to_sym(in.shape()), starts, ends, has_axes ? &axes : nullptr,
                                   has_steps ? &steps : nullptr);
  StridedView v;
  v.out = concrete(ctx, ir::rules::slice_shape(sl));
  v.dims = v.out;
  if (shape_numel(v.out) == 0) return v;
  // Negative steps read backwards from the start element.
  const std::vector<int64_t> in_strides = strides_of(in.shape());
  v.src.resize(v.out.size());
  for (size_t i = 0; i < v.out.size(); ++i) {
    v.offset += sl[i].start * in_strides[i];
    v.src[i] = sl[i].step * in_strides[i];
  }
  return v;
}

StridedView depth_to_space_view(const KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  const int64_t b = ctx.node().attr_i("blocksize", 0);
  StridedView v;
  v.out = concrete(ctx, ir::rules::depth_to_space(fail_of(ctx), to_sym(in.shape()), b));
  const int64_t c = v.out[1], h = in.shape()[2], w = in.shape()[3];
  const int64_t hw = h * w;
  // Output viewed as [N, C', H, b1, W, b2]; the input's channel is b1*b*C' + b2*C' + c
  // (DCR) or c*b*b + b1*b + b2 (CRD).
  const bool crd = ctx.node().attr_s("mode", "DCR") == "CRD";
  const int64_t s_c = crd ? b * b * hw : hw;
  const int64_t s_b1 = crd ? b * hw : b * c * hw;
  const int64_t s_b2 = crd ? hw : c * hw;
  v.dims = {v.out[0], c, h, b, w, b};
  v.src = {c * b * b * hw, s_c, w, s_b1, 1, s_b2};
  return v;
}

StridedView space_to_depth_view(const KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  const int64_t b = ctx.node().attr_i("blocksize", 0);
  StridedView v;
  v.out = concrete(ctx, ir::rules::space_to_depth(fail_of(ctx), to_sym(in.shape()), b));
  const int64_t c = in.shape()[1], h = in.shape()[2], w = in.shape()[3];
  // Output viewed as [N, b1, b2, C, H/b, W/b]; input element (n, c, y*b + b1, x*b + b2).
  v.dims = {v.out[0], b, b, c, v.out[2], v.out[3]};
  v.src = {c * h * w, w, 1, h * w, b * w, b};
  return v;
}

TilePlan tile_plan(const KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  TilePlan p;
  p.repeats = host_ints(ctx, 1);
  p.out = concrete(ctx, ir::rules::tile(fail_of(ctx), to_sym(in.shape()), p.repeats));
  return p;
}

// ---- cut and join ----

ConcatPlan concat_plan(const KernelContext& ctx) {
  std::vector<ir::SymShape> shapes;
  const Tensor& first = ctx.input(0);
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (ctx.input(i).dtype() != first.dtype()) ctx.fail("inputs differ in dtype");
    shapes.push_back(to_sym(ctx.input(i).shape()));
  }
  const int64_t axis = ctx.node().attr_i("axis", 1);
  ConcatPlan p;
  p.out = concrete(ctx, ir::rules::concat(fail_of(ctx), shapes, axis));
  p.axis = static_cast<size_t>(ir::rules::norm_axis(fail_of(ctx), axis, static_cast<int64_t>(p.out.size())));
  return p;
}

SplitPlan split_plan(const KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  const auto fail = fail_of(ctx);
  SplitPlan p;
  p.axis = static_cast<size_t>(ir::rules::norm_axis(fail, ctx.node().attr_i("axis", 0), in.rank()));
  std::vector<int64_t> split;
  bool has_split = false;
  if (ctx.opset() < 13) {
    if ((has_split = ctx.node().attr("split") != nullptr)) split = ctx.node().attr_ints("split");
  } else if ((has_split = ctx.has_input(1))) {
    split = host_ints(ctx, 1);
  }
  const int64_t num_outputs = ctx.opset() >= 18 ? ctx.node().attr_i("num_outputs", 0) : 0;
  if (has_split && num_outputs > 0) fail("has both split and num_outputs");
  p.sizes = ir::rules::split_sizes(fail, ir::Dim(in.shape()[p.axis]), has_split ? &split : nullptr, num_outputs,
                                   ctx.num_outputs(), ctx.opset());
  return p;
}

namespace {
PadMode pad_mode(const KernelContext& ctx) {
  const std::string m = ctx.node().attr_s("mode", "constant");
  if (m == "constant") return PadMode::Constant;
  if (m == "edge") return PadMode::Edge;
  if (m == "reflect") return PadMode::Reflect;
  if (m == "wrap") return PadMode::Wrap;
  ctx.fail("unknown mode '" + m + "'");
}
}  // namespace

PadPlan pad_plan(const KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  PadPlan plan;
  plan.mode = pad_mode(ctx);
  const auto fail = fail_of(ctx);
  std::vector<int64_t> pads, axes;
  bool has_axes = false;
  if (ctx.opset() < 11) {
    pads = ctx.node().attr_ints("pads");
  } else {
    pads = host_ints(ctx, 1);
    if ((has_axes = ctx.has_input(3))) axes = host_ints(ctx, 3);
  }
  const auto p = ir::rules::pads(fail, in.rank(), pads, has_axes ? &axes : nullptr);
  plan.out = concrete(ctx, ir::rules::pad(fail, to_sym(in.shape()), p));
  if (ctx.opset() >= 11 && ctx.has_input(2) && ctx.input(2).dtype() != in.dtype())
    ctx.fail("constant_value and data differ in dtype");
  // Per dim: the cropped input range [lo, lo + len) and the padding before it.
  const size_t rank = plan.out.size();
  plan.before.resize(rank);
  plan.lo.resize(rank);
  plan.len.resize(rank);
  for (size_t d = 0; d < rank; ++d) {
    const int64_t n = in.shape()[d];
    plan.lo[d] = std::max<int64_t>(0, -p.begin[d]);
    plan.len[d] = n - std::max<int64_t>(0, -p.end[d]) - plan.lo[d];
    plan.before[d] = std::max<int64_t>(p.begin[d], 0);
    if (plan.mode != PadMode::Constant && plan.len[d] <= 0 && plan.out[d] > 0)
      ctx.fail("cannot pad a dim of size 0 in a mode other than constant");
  }
  return plan;
}

// ---- read by index ----

GatherPlan gather_plan(const KernelContext& ctx) {
  const Tensor &data = ctx.input(0), &indices = ctx.input(1);
  const auto fail = fail_of(ctx);
  const int64_t axis = ctx.node().attr_i("axis", 0);
  GatherPlan p;
  p.out = concrete(ctx, ir::rules::gather(fail, to_sym(data.shape()), to_sym(indices.shape()), axis));
  p.axis = static_cast<size_t>(ir::rules::norm_axis(fail, axis, data.rank()));
  p.outer = prod(data.shape(), 0, p.axis);
  p.dim = data.shape()[p.axis];
  p.inner = prod(data.shape(), p.axis + 1, data.shape().size());
  return p;
}

size_t gather_elements_axis(const KernelContext& ctx) {
  const Tensor &data = ctx.input(0), &indices = ctx.input(1);
  if (data.rank() != indices.rank()) ctx.fail("data and indices differ in rank");
  const size_t a = static_cast<size_t>(ir::rules::norm_axis(fail_of(ctx), ctx.node().attr_i("axis", 0), data.rank()));
  const Shape &ds = data.shape(), &is = indices.shape();
  for (size_t d = 0; d < ds.size(); ++d)
    if (d != a && is[d] > ds[d])
      ctx.fail("indices " + shape_str(is) + " exceed data " + shape_str(ds) + " outside the axis");
  return a;
}

GatherNdPlan gather_nd_plan(const KernelContext& ctx) {
  const Tensor &data = ctx.input(0), &indices = ctx.input(1);
  if (indices.dtype() != DataType::Int64) ctx.fail("indices must be int64");
  const int64_t b = ctx.node().attr_i("batch_dims", 0);
  const auto out_shape = ir::rules::gather_nd(fail_of(ctx), to_sym(data.shape()), to_sym(indices.shape()), b);
  GatherNdPlan p;
  p.out = concrete(ctx, *out_shape);
  const Shape &ds = data.shape(), &is = indices.shape();
  p.batch_dims = static_cast<size_t>(b);
  p.m = is.back();
  p.batches = prod(ds, 0, p.batch_dims);
  p.per_batch = prod(is, p.batch_dims, is.size() - 1);
  p.batch_stride = prod(ds, p.batch_dims, ds.size());
  p.row = prod(ds, p.batch_dims + static_cast<size_t>(p.m), ds.size());
  return p;
}

OneHotPlan one_hot_plan(const KernelContext& ctx) {
  const Tensor &indices = ctx.input(0), &depth_t = ctx.input(1), &values = ctx.input(2);
  if (depth_t.numel() != 1) ctx.fail("depth must hold one value");
  if (values.numel() != 2) ctx.fail("values must hold [off, on]");
  const double dv = read_double(depth_t, 0);
  if (!(dv >= 0)) ctx.fail("depth must be >= 0");
  OneHotPlan p;
  p.depth = static_cast<int64_t>(dv);
  const int64_t axis = ctx.node().attr_i("axis", -1);
  p.out = concrete(ctx, ir::rules::onehot(fail_of(ctx), to_sym(indices.shape()), ir::Dim(p.depth), axis));
  const size_t a = static_cast<size_t>(axis < 0 ? axis + indices.rank() + 1 : axis);
  p.inner = prod(indices.shape(), a, indices.shape().size());
  return p;
}

CompressPlan compress_plan(const KernelContext& ctx) {
  const Tensor &in = ctx.input(0), &cond = ctx.input(1);
  if (cond.rank() != 1) ctx.fail("condition must be 1-D, got " + shape_str(cond.shape()));
  const bool has_axis = ctx.node().attr("axis") != nullptr;
  const size_t a =
      has_axis ? static_cast<size_t>(ir::rules::norm_axis(fail_of(ctx), ctx.node().attr_i("axis", 0), in.rank())) : 0;
  CompressPlan p;
  p.dim = has_axis ? in.shape()[a] : in.numel();
  for (int64_t i = 0; i < cond.numel(); ++i) {
    if (read_double(cond, i) == 0) continue;
    if (i >= p.dim)
      ctx.fail("condition selects index " + std::to_string(i) + " beyond the dim of size " + std::to_string(p.dim));
    p.picked.push_back(i);
  }
  p.out = has_axis ? in.shape() : Shape{0};
  p.out[a] = static_cast<int64_t>(p.picked.size());
  p.outer = has_axis ? prod(in.shape(), 0, a) : 1;
  p.inner = has_axis ? prod(in.shape(), a + 1, in.shape().size()) : 1;
  return p;
}

// ---- write by index ----

ScatterReduction scatter_reduction(const KernelContext& ctx) {
  if (ctx.node().op_type == "Scatter") return ScatterReduction::None;
  const std::string r = ctx.node().attr_s("reduction", "none");
  if (r == "none") return ScatterReduction::None;
  if (r == "add") return ScatterReduction::Add;
  if (r == "mul") return ScatterReduction::Mul;
  if (r == "max") return ScatterReduction::Max;
  if (r == "min") return ScatterReduction::Min;
  ctx.fail("unknown reduction '" + r + "'");
}

int64_t scatter_nd_components(const KernelContext& ctx) {
  const Tensor &data = ctx.input(0), &indices = ctx.input(1), &updates = ctx.input(2);
  if (indices.dtype() != DataType::Int64) ctx.fail("indices must be int64");
  if (indices.rank() < 1) ctx.fail("indices must have rank >= 1");
  const Shape &ds = data.shape(), &is = indices.shape();
  const int64_t k = is.back();
  if (k < 1 || k > data.rank()) ctx.fail("indices' last dim " + std::to_string(k) + " exceeds the data rank");
  Shape want(is.begin(), is.end() - 1);
  want.insert(want.end(), ds.begin() + k, ds.end());
  if (updates.shape() != want)
    ctx.fail("updates " + shape_str(updates.shape()) + " must have shape " + shape_str(want));
  if (updates.dtype() != data.dtype()) ctx.fail("updates and data differ in dtype");
  return k;
}

size_t scatter_elements_axis(const KernelContext& ctx) {
  const Tensor &data = ctx.input(0), &indices = ctx.input(1), &updates = ctx.input(2);
  if (indices.dtype() != DataType::Int32 && indices.dtype() != DataType::Int64)
    ctx.fail("indices must be int32 or int64");
  if (indices.shape() != updates.shape()) ctx.fail("indices and updates differ in shape");
  const size_t a = gather_elements_axis(ctx);
  if (updates.dtype() != data.dtype()) ctx.fail("updates and data differ in dtype");
  return a;
}

// ---- along an axis ----

CumSumPlan cum_sum_plan(const KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.rank() == 0) ctx.fail("input must have rank >= 1");
  const size_t a = static_cast<size_t>(ir::rules::norm_axis(fail_of(ctx), scalar_int(ctx, 1, "axis"), x.rank()));
  CumSumPlan p;
  p.exclusive = ctx.node().attr_i("exclusive", 0) != 0;
  p.reverse = ctx.node().attr_i("reverse", 0) != 0;
  p.outer = prod(x.shape(), 0, a);
  p.dim = x.shape()[a];
  p.inner = prod(x.shape(), a + 1, x.shape().size());
  return p;
}

TriluPlan trilu_plan(const KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.rank() < 2) ctx.fail("input must have rank >= 2, got " + shape_str(x.shape()));
  TriluPlan p;
  p.k = ctx.has_input(1) ? scalar_int(ctx, 1, "k") : 0;
  p.upper = ctx.node().attr_i("upper", 1) != 0;
  p.rows = x.shape()[x.shape().size() - 2];
  p.cols = x.shape().back();
  return p;
}

ReverseSequencePlan reverse_sequence_plan(const KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.rank() < 2) ctx.fail("input must have rank >= 2, got " + shape_str(x.shape()));
  ReverseSequencePlan p;
  p.batch_axis = ctx.node().attr_i("batch_axis", 1);
  p.time_axis = ctx.node().attr_i("time_axis", 0);
  if ((p.batch_axis != 0 && p.batch_axis != 1) || (p.time_axis != 0 && p.time_axis != 1) ||
      p.batch_axis == p.time_axis)
    ctx.fail("batch_axis and time_axis must be 0 and 1 in some order");
  p.batch = x.shape()[static_cast<size_t>(p.batch_axis)];
  p.steps = x.shape()[static_cast<size_t>(p.time_axis)];
  p.lens = host_ints(ctx, 1);
  if (static_cast<int64_t>(p.lens.size()) != p.batch)
    ctx.fail("sequence_lens has " + std::to_string(p.lens.size()) + " entries for a batch of " +
             std::to_string(p.batch));
  for (int64_t len : p.lens)
    if (len < 0 || len > p.steps)
      ctx.fail("sequence length " + std::to_string(len) + " is outside [0, " + std::to_string(p.steps) + "]");
  return p;
}

ArgPlan arg_plan(const KernelContext& ctx) {
  const ir::Node& node = ctx.node();
  const Tensor& x = ctx.input(0);
  if (x.rank() == 0) ctx.fail("input must have rank >= 1");
  const auto axis = static_cast<size_t>(norm_axis(ctx, node.attr_i("axis", 0), x.rank()));
  ArgPlan p;
  p.last = node.attr_i("select_last_index", 0) != 0;
  p.out = x.shape();
  if (node.attr_i("keepdims", 1) != 0) p.out[axis] = 1;
  else p.out.erase(p.out.begin() + static_cast<std::ptrdiff_t>(axis));
  p.outer = prod(x.shape(), 0, axis);
  p.n = x.shape()[axis];
  p.inner = prod(x.shape(), axis + 1, x.shape().size());
  if (p.n == 0) ctx.fail("cannot take the arg of an empty axis");
  return p;
}

TopKPlan topk_plan(const KernelContext& ctx) {
  const ir::Node& node = ctx.node();
  const Tensor& x = ctx.input(0);
  if (x.rank() == 0) ctx.fail("input must have rank >= 1");
  TopKPlan p;
  if (ir::opset_before(ctx.opset(), 10)) {
    p.k = node.attr_i("k", -1);
  } else {
    const Tensor& kt = ctx.input(1);
    if (kt.numel() != 1) ctx.fail("K must hold one element, got shape " + shape_str(kt.shape()));
    p.k = read_int(kt, 0);
  }
  const auto axis = static_cast<size_t>(norm_axis(ctx, node.attr_i("axis", -1), x.rank()));
  p.outer = prod(x.shape(), 0, axis);
  p.n = x.shape()[axis];
  p.inner = prod(x.shape(), axis + 1, x.shape().size());
  if (p.k < 0 || p.k > p.n)
    ctx.fail("k " + std::to_string(p.k) + " is outside [0, " + std::to_string(p.n) + "] (the axis size)");
  p.out = x.shape();
  p.out[axis] = p.k;
  p.largest = node.attr_i("largest", 1) != 0;
  return p;
}

// ---- make ----

Shape constant_of_shape_dims(const KernelContext& ctx) {
  const auto shape = host_ints(ctx, 0);
  for (int64_t d : shape)
    if (d < 0) ctx.fail("shape " + shape_str(shape) + " has a negative dim");
  return shape;
}

// ---- Resize / Upsample ----

ir::rules::ResizeArgs resize_args(const KernelContext& ctx) {
  ir::rules::ResizeArgs args;
  const bool upsample = ctx.node().op_type == "Upsample";
  if (upsample && ctx.opset() < 9) {
    const auto s = ctx.node().attr_floats("scales");
    args.scales = std::vector<double>(s.begin(), s.end());
  } else if (upsample || ctx.opset() < 11) {
    args.scales = host_doubles(ctx, 1);
  } else {
    args.roi = host_doubles(ctx, 1);
    args.scales = host_doubles(ctx, 2);
    if (ctx.has_input(3) && ctx.input(3).numel() > 0) args.sizes = host_ints(ctx, 3);
  }
  return args;
}

}  // namespace kiln::backend::params
