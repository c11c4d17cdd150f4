// Conv, ConvInteger and ConvTranspose schemas. X is [N, C, spatial...];
// Conv's W is [M, C/group, k...], ConvTranspose's W is [C, M/group, k...].
#include "ir/ops/nn_schema.h"
#include "ir/ops/nn_attrs.h"

namespace kiln::ir {

namespace {

struct ConvInputs {
  size_t spatial = 0;
  std::vector<int64_t> weight_kernel;  // -1 where unknown
  Dim n, c, w0, w1;                     // X dims 0/1, W dims 0/1 (unknown when absent)
};

// Common validation of X, W and group; nullopt when the rank is unknown.
std::optional<ConvInputs> conv_inputs(InferContext& ctx, bool integer = false) {
  if (integer) {
    for (size_t i = 0; i < ctx.num_inputs(); ++i) {
      const DataType dt = ctx.input_dtype(i);
      if (ctx.has_input(i) && dt != DataType::Undefined && dt != DataType::Int8 && dt != DataType::UInt8)
        ctx.fail(input_label(ctx, i) + " must be int8 or uint8, got " + std::string(dtype_name(dt)));
    }
  } else {
    require_float(ctx, 0);
    require_same_dtype(ctx, 0, 1);
  }
  const auto& xs = ctx.input_shape(0);
  const auto& ws = ctx.input_shape(1);
  if (ctx.node().attr_i("group", 1) < 1) ctx.fail("group must be >= 1");
  if (!xs && !ws) return std::nullopt;
  const size_t rank = xs ? xs->size() : ws->size();
  if (rank < 3) ctx.fail(input_label(ctx, xs ? 0 : 1) + " must have rank >= 3 (N, C, spatial...)");
  if (xs && ws && xs->size() != ws->size())
    ctx.fail("X " + sym_str(*xs) + " and W " + sym_str(*ws) + " must have the same rank");
  ConvInputs in;
  in.spatial = rank - 2;
  in.weight_kernel.assign(in.spatial, -1);
  if (xs) { in.n = (*xs)[0]; in.c = (*xs)[1]; }
  if (ws) {
    in.w0 = (*ws)[0];
    in.w1 = (*ws)[1];
    for (size_t i = 0; i < in.spatial; ++i)
      if ((*ws)[i + 2].known()) in.weight_kernel[i] = (*ws)[i + 2].value;
  }
  return in;
}

void check_bias(InferContext& ctx, const Dim& m) {
  if (ctx.has_input(2)) {
    require_same_dtype(ctx, 0, 2);
    require_vector(ctx, 2, m, "bias B, one value per output channel");
  }
}

// Conv (integer = false) and ConvInteger (inputs 2/3 are zero points, output int32).
void infer_conv_common(InferContext& ctx, bool integer) {
  const DataType out_dt = integer ? DataType::Int32 : ctx.input_dtype(0);
  const auto in = conv_inputs(ctx, integer);
  if (!in) return ctx.set_output(0, out_dt, std::nullopt);
  const int64_t group = ctx.node().attr_i("group", 1);
  if (in->c.known() && in->c.value % group != 0)
    ctx.fail("input channels " + std::to_string(in->c.value) + " are not divisible by group " +
             std::to_string(group));
  if (in->c.known() && in->w1.known() && in->w1.value * group != in->c.value)
    ctx.fail("W has " + std::to_string(in->w1.value) + " input channels per group but X has " +
             std::to_string(in->c.value) + " channels in " + std::to_string(group) + " groups");
  if (in->w0.known() && in->w0.value % group != 0)
    ctx.fail("output channels " + std::to_string(in->w0.value) + " are not divisible by group " +
             std::to_string(group));
  if (!integer) check_bias(ctx, in->w0);
  if (integer && ctx.input_shape(2) && ctx.input_shape(2)->size() > 1) ctx.fail("x_zero_point must be a scalar");
  Window w = read_window(ctx.node(), in->spatial, in->weight_kernel, false);
  const auto& xs = ctx.input_shape(0);
  SymShape out{in->n, in->w0};
  for (size_t i = 0; i < in->spatial; ++i) {
    const bool known = xs && (*xs)[i + 2].known() && w.kernel[i] >= 0;
    out.push_back(known ? Dim(window_out_dim(ctx.node(), w, i, (*xs)[i + 2].value))
                        : ctx.new_symbol("out" + std::to_string(i)));
  }
  ctx.set_output(0, out_dt, out);
}

void infer_conv(InferContext& ctx) { infer_conv_common(ctx, false); }
void infer_conv_integer(InferContext& ctx) { infer_conv_common(ctx, true); }

void infer_conv_transpose(InferContext& ctx) {
  const auto in = conv_inputs(ctx);
  if (!in) return ctx.set_output(0, ctx.input_dtype(0), std::nullopt);
  const Node& node = ctx.node();
  const int64_t group = node.attr_i("group", 1);
  const Dim c = unify_dim(ctx, in->c, in->w0, "X channels vs W dim 0");
  if (c.known() && c.value % group != 0)
    ctx.fail("input channels " + std::to_string(c.value) + " are not divisible by group " +
             std::to_string(group));
  const Dim m = in->w1.known() ? Dim(in->w1.value * group) : Dim();
  check_bias(ctx, m);
  Window w = read_window(node, in->spatial, in->weight_kernel, false);
  std::vector<int64_t> out_pad = node.attr_ints("output_padding");
  if (out_pad.empty()) out_pad.assign(in->spatial, 0);
  if (out_pad.size() != in->spatial) ctx.fail("output_padding must have one value per spatial axis");
  for (int64_t p : out_pad)
    if (p < 0) ctx.fail("output_padding must be >= 0");
  std::vector<int64_t> out_shape = node.attr_ints("output_shape");
  if (out_shape.size() == in->spatial + 2) out_shape.erase(out_shape.begin(), out_shape.begin() + 2);
  if (!out_shape.empty() && out_shape.size() != in->spatial)
    ctx.fail("output_shape must have one value per spatial axis");
  const auto& xs = ctx.input_shape(0);
  SymShape out{in->n, m.known() ? m : ctx.new_symbol("channels")};
  for (size_t i = 0; i < in->spatial; ++i) {
    const int64_t req = out_shape.empty() ? 0 : out_shape[i];
    const bool known = xs && (*xs)[i + 2].known() && w.kernel[i] >= 0;
    out.push_back(known ? Dim(transpose_out_dim(node, w, i, (*xs)[i + 2].value, out_pad[i], req))
                  : req > 0 ? Dim(req)
                            : ctx.new_symbol("out" + std::to_string(i)));
  }
  ctx.set_output(0, ctx.input_dtype(0), out);
}

}  // namespace

void register_conv_schemas(SchemaRegistry& r) {
  OpSchema conv;
  conv.op_type = "Conv";
  conv.min_inputs = 2;
  conv.max_inputs = 3;
  conv.infer = infer_conv;
  add_nn_schema(r, conv);

  OpSchema convi = conv;
  convi.op_type = "ConvInteger";
  convi.max_inputs = 4;
  convi.infer = infer_conv_integer;
  add_nn_schema(r, convi);

  OpSchema convt = conv;
  convt.op_type = "ConvTranspose";
  convt.infer = infer_conv_transpose;
  add_nn_schema(r, convt);
}

}  // namespace kiln::ir
