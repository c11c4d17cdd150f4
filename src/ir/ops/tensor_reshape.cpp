// Schemas of the ops that keep the data and change the shape or the order of
// dims: Flatten, Reshape, Squeeze, Unsqueeze, Transpose, Expand, Tile,
// DepthToSpace, SpaceToDepth.
#include <algorithm>

#include "ir/ops/tensor_common.h"

namespace kiln::ir::tensor_ops {

namespace {

void infer_flatten(InferContext& ctx) {
  const auto& in = ctx.input_shape(0);
  const DataType dt = ctx.input_dtype(0);
  if (!in) return ctx.set_output(0, dt, fresh_shape(ctx, 2));
  ctx.set_output(0, dt, named(ctx, rules::flatten(fail_of(ctx), *in, ctx.node().attr_i("axis", 1))));
}

void infer_reshape(InferContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  const auto& in = ctx.input_shape(0);
  const bool allowzero = ctx.node().attr_i("allowzero", 0) != 0;
  std::optional<std::vector<int64_t>> target;
  if (ctx.opset() < 5) target = ctx.node().attr_ints("shape");
  else target = const_ints(ctx, 1);
  if (!target) {
    const auto len = input_len(ctx, 1);
    return ctx.set_output(0, dt, len ? std::optional(fresh_shape(ctx, static_cast<size_t>(*len))) : std::nullopt);
  }
  if (in) return ctx.set_output(0, dt, named(ctx, rules::reshape(fail_of(ctx), *in, *target, allowzero)));
  // Input rank unknown: only the dims given outright are known.
  SymShape out(target->size());
  for (size_t i = 0; i < out.size(); ++i)
    if ((*target)[i] > 0 || ((*target)[i] == 0 && allowzero)) out[i] = Dim((*target)[i]);
  ctx.set_output(0, dt, named(ctx, out));
}

// Squeeze/Unsqueeze axes: an attribute before opset 13, input 1 from 13.
// present=false: not given; values=nullopt: given but not known yet.
struct AxesArg {
  bool present = false;
  std::optional<std::vector<int64_t>> values;
};

AxesArg axes_arg(const InferContext& ctx) {
  AxesArg a;
  if (ctx.opset() < 13) {
    a.present = ctx.node().attr("axes") != nullptr;
    if (a.present) a.values = ctx.node().attr_ints("axes");
  } else {
    a.present = ctx.has_input(1);
    if (a.present) a.values = const_ints(ctx, 1);
  }
  return a;
}

// Number of axes of an AxesArg, known from the values or the input's length.
std::optional<int64_t> axes_count(const InferContext& ctx, const AxesArg& a) {
  if (a.values) return static_cast<int64_t>(a.values->size());
  if (ctx.opset() >= 13) return input_len(ctx, 1);
  return std::nullopt;
}

void infer_squeeze(InferContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  const auto& in = ctx.input_shape(0);
  const AxesArg axes = axes_arg(ctx);
  if (!in) return ctx.set_output(0, dt, std::nullopt);
  if (!axes.present || axes.values) {
    auto out = rules::squeeze(fail_of(ctx), *in, axes.present ? &*axes.values : nullptr);
    return ctx.set_output(0, dt, out ? std::optional(named(ctx, *out)) : std::nullopt);
  }
  const auto n = axes_count(ctx, axes);
  if (!n || *n > static_cast<int64_t>(in->size())) return ctx.set_output(0, dt, std::nullopt);
  ctx.set_output(0, dt, fresh_shape(ctx, in->size() - static_cast<size_t>(*n)));
}

void infer_unsqueeze(InferContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  const auto& in = ctx.input_shape(0);
  const AxesArg axes = axes_arg(ctx);
  if (!axes.present) fail_of(ctx)("needs axes");
  if (!in) return ctx.set_output(0, dt, std::nullopt);
  if (axes.values) return ctx.set_output(0, dt, named(ctx, rules::unsqueeze(fail_of(ctx), *in, *axes.values)));
  const auto n = axes_count(ctx, axes);
  if (!n) return ctx.set_output(0, dt, std::nullopt);
  ctx.set_output(0, dt, fresh_shape(ctx, in->size() + static_cast<size_t>(*n)));
}

void infer_transpose(InferContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  const auto& in = ctx.input_shape(0);
  const auto perm_attr = ctx.node().attr_ints("perm");
  if (!in) {
    return ctx.set_output(0, dt, perm_attr.empty() ? std::nullopt : std::optional(fresh_shape(ctx, perm_attr.size())));
  }
  const auto perm = rules::transpose_perm(fail_of(ctx), perm_attr, static_cast<int64_t>(in->size()));
  SymShape out;
  for (int64_t p : perm) out.push_back((*in)[static_cast<size_t>(p)]);
  ctx.set_output(0, dt, named(ctx, out));
}

void infer_expand(InferContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  const auto& in = ctx.input_shape(0);
  const auto target = const_ints(ctx, 1);
  if (!in) return ctx.set_output(0, dt, std::nullopt);
  if (target) {
    for (int64_t t : *target)
      if (t < 0) fail_of(ctx)("shape " + shape_str(*target) + " has a negative dim");
    return ctx.set_output(0, dt, named(ctx, rules::broadcast(fail_of(ctx), *in, to_sym(*target))));
  }
  const auto len = input_len(ctx, 1);
  if (!len) return ctx.set_output(0, dt, std::nullopt);
  // Shape unknown: a known input dim other than 1 survives the broadcast.
  const size_t rank = std::max(in->size(), static_cast<size_t>(*len));
  SymShape out(rank);
  for (size_t i = 0; i < in->size(); ++i) {
    const Dim& d = (*in)[i];
    if (d.known() && d.value != 1) out[rank - in->size() + i] = d;
  }
  ctx.set_output(0, dt, named(ctx, out));
}

void infer_tile(InferContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  const auto& in = ctx.input_shape(0);
  if (!in) return ctx.set_output(0, dt, std::nullopt);
  const auto repeats = const_ints(ctx, 1);
  if (repeats) return ctx.set_output(0, dt, named(ctx, rules::tile(fail_of(ctx), *in, *repeats)));
  ctx.set_output(0, dt, fresh_shape(ctx, in->size()));
}

void infer_depth_to_space(InferContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  const auto& in = ctx.input_shape(0);
  const int64_t b = ctx.node().attr_i("blocksize", 0);
  const std::string mode = ctx.node().attr_s("mode", "DCR");
  if (mode != "DCR" && mode != "CRD") fail_of(ctx)("unknown mode '" + mode + "'");
  if (!in) return ctx.set_output(0, dt, fresh_shape(ctx, 4));
  const bool to_space = ctx.node().op_type == "DepthToSpace";
  ctx.set_output(0, dt, named(ctx, to_space ? rules::depth_to_space(fail_of(ctx), *in, b)
                                            : rules::space_to_depth(fail_of(ctx), *in, b)));
}

}  // namespace

void register_reshape_schemas(SchemaRegistry& r) {
  // The reshapes keep the bytes: their output may take the input's buffer
  // (the memory plan groups them where the input dies here), and the kernels
  // then copy nothing.
  for (OpSchema s : {make_schema("Flatten", 1, 1, 1, 1, 1, infer_flatten),
                     make_schema("Reshape", 1, 2, 1, 1, 1, infer_reshape),
                     make_schema("Squeeze", 1, 2, 1, 1, 1, infer_squeeze),
                     make_schema("Unsqueeze", 1, 2, 1, 1, 1, infer_unsqueeze)}) {
    s.inplace_input = 0;
    r.add(std::move(s));
  }
  r.add(make_schema("Transpose", 1, 1, 1, 1, 1, infer_transpose));
  r.add(make_schema("Expand", 2, 2, 1, 1, 8, infer_expand));
  r.add(make_schema("Tile", 2, 2, 1, 1, 6, infer_tile));
  r.add(make_schema("DepthToSpace", 1, 1, 1, 1, 1, infer_depth_to_space));
  r.add(make_schema("SpaceToDepth", 1, 1, 1, 1, 1, infer_depth_to_space));
}

}  // namespace kiln::ir::tensor_ops
