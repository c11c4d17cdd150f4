// Schemas of Resize (opset 10 to 19 forms) and Upsample (7 to 9).
#include "core/dispatch.h"
#include "ir/ops/resize_rules.h"
#include "ir/ops/tensor_common.h"

namespace kiln::ir::tensor_ops {

namespace {

// One optional input's values: present=false when omitted or empty; known=false
// when present but not a constant yet.
struct Arg {
  bool present = false, known = true;
  std::vector<double> values;
};

Arg arg_of(const InferContext& ctx, size_t i) {
  Arg a;
  if (!ctx.has_input(i)) return a;
  const Tensor* t = ctx.input_const(i);
  if (!t) {
    const auto len = input_len(ctx, i);
    a.present = !len || *len > 0;  // a known-empty input is as good as absent
    a.known = !a.present;
    return a;
  }
  a.present = t->numel() > 0;
  for (int64_t k = 0; k < t->numel(); ++k) a.values.push_back(read_double(*t, k));
  return a;
}

void infer_resize(InferContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  const auto& in = ctx.input_shape(0);
  if (!in) return ctx.set_output(0, dt, std::nullopt);
  const rules::Fail fail = fail_of(ctx);
  const int64_t opset = ctx.opset();
  const auto attrs = rules::resize_attrs(fail, opset, static_cast<int64_t>(in->size()));
  const bool upsample = ctx.node().op_type == "Upsample";
  Arg roi, scales, sizes;
  if (upsample && opset < 9) {
    const auto s = ctx.node().attr_floats("scales");
    scales.present = true;
    scales.values.assign(s.begin(), s.end());
  } else if (upsample || opset < 11) {
    scales = arg_of(ctx, 1);
  } else {
    roi = arg_of(ctx, 1);
    scales = arg_of(ctx, 2);
    sizes = arg_of(ctx, 3);
  }
  if (!scales.known || !sizes.known) return ctx.set_output(0, dt, fresh_shape(ctx, in->size()));
  rules::ResizeArgs args;
  if (roi.present && roi.known) args.roi = roi.values;
  if (scales.present) args.scales = scales.values;
  if (sizes.present) args.sizes = std::vector<int64_t>(sizes.values.begin(), sizes.values.end());
  ctx.set_output(0, dt, named(ctx, rules::resize_plan(fail, *in, attrs, args).out));
}

}  // namespace

void register_resize_schemas(SchemaRegistry& r) {
  r.add(make_schema("Resize", 1, 4, 1, 1, 10, infer_resize));
  r.add(make_schema("Upsample", 1, 2, 1, 1, 7, infer_resize));
}

}  // namespace kiln::ir::tensor_ops
