// The tensor (shape/layout/indexing) op family. Its schemas live in the
// tensor_*.cpp files beside this one, with the output-shape rules they share with
// the CPU kernels in shape_rules*.cpp.
#include "core/dispatch.h"
#include "ir/op_schema.h"
#include "ir/ops/families.h"
#include "ir/ops/tensor_common.h"

namespace kiln::ir {

void register_tensor_schemas(SchemaRegistry& r) {
  tensor_ops::register_reshape_schemas(r);
  tensor_ops::register_constant_schemas(r);
  tensor_ops::register_slice_schemas(r);
  tensor_ops::register_gather_schemas(r);
  tensor_ops::register_resize_schemas(r);
}

namespace tensor_ops {

SymShape named(InferContext& ctx, SymShape s, size_t output) {
  for (size_t i = 0; i < s.size(); ++i)
    if (!s[i].known() && s[i].symbol.empty())
      s[i] = ctx.new_symbol("out" + std::to_string(output) + ".d" + std::to_string(i));
  return s;
}

SymShape fresh_shape(InferContext& ctx, size_t rank, size_t output) {
  return named(ctx, SymShape(rank), output);
}

std::optional<std::vector<int64_t>> const_ints(const InferContext& ctx, size_t input) {
  const Tensor* t = ctx.input_const(input);
  if (!t) return std::nullopt;
  return read_ints(*t);
}

std::optional<int64_t> input_len(const InferContext& ctx, size_t input) {
  const auto& s = ctx.input_shape(input);
  if (!s) return std::nullopt;
  if (s->empty()) return 1;
  if (s->size() == 1 && (*s)[0].known()) return (*s)[0].value;
  return std::nullopt;
}

OpSchema make_schema(std::string op_type, int min_inputs, int max_inputs, int min_outputs, int max_outputs,
                     int64_t min_opset, InferFn infer) {
  OpSchema s;
  s.op_type = std::move(op_type);
  s.min_inputs = min_inputs;
  s.max_inputs = max_inputs;
  s.min_outputs = min_outputs;
  s.max_outputs = max_outputs;
  s.min_opset = min_opset;
  s.infer = std::move(infer);
  return s;
}

}  // namespace tensor_ops
}  // namespace kiln::ir
