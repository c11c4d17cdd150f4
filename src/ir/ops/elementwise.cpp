// Schemas of the elementwise family. The generic shapes (unary, binary with
// numpy broadcasting, variadic) are tables here; ops with attributes or
// optional inputs that change inference live in elementwise_special.cpp.
#include <string>

#include "ir/op_schema.h"
#include "ir/ops/elementwise_attrs.h"
#include "ir/ops/elementwise_infer.h"
#include "ir/ops/families.h"
#include "kiln/error.h"

namespace kiln::ir {

namespace ew {

namespace {
std::string dtype_label(DataType dt) {
  const std::string_view n = dtype_name(dt);
  return n == "undefined" ? "#" + std::to_string(static_cast<int>(dt)) : std::string(n);
}
}  // namespace

DataType check_dtype(const InferContext& ctx, size_t i, uint32_t allowed) {
  const DataType dt = ctx.input_dtype(i);
  if (dt == DataType::Undefined) return dt;
  if (!dtype_is_supported(dt))
    throw Error(ErrorCode::Unsupported, ctx.node().label() + ": input " + std::to_string(i) +
                                            " has dtype " + dtype_label(dt) + ", which kiln does not support");
  const auto v = static_cast<uint32_t>(dt);
  if (v >= 32 || !(allowed & (1u << v)))
    ctx.fail("input " + std::to_string(i) + " has dtype " + dtype_label(dt) + ", which " +
             ctx.node().op_type + " does not accept");
  return dt;
}

DataType same_dtype(const InferContext& ctx, const std::vector<size_t>& inputs) {
  DataType first = DataType::Undefined;
  size_t first_i = 0;
  for (size_t i : inputs) {
    const DataType dt = ctx.input_dtype(i);
    if (dt == DataType::Undefined) continue;
    if (first == DataType::Undefined) {
      first = dt;
      first_i = i;
    } else if (dt != first) {
      ctx.fail("inputs " + std::to_string(first_i) + " and " + std::to_string(i) +
               " must have the same dtype, got " + dtype_label(first) + " and " + dtype_label(dt));
    }
  }
  return first;
}

std::optional<SymShape> broadcast_inputs(const InferContext& ctx, const std::vector<size_t>& inputs) {
  std::vector<SymShape> shapes;
  for (size_t i : inputs) {
    if (!ctx.has_input(i)) continue;
    const auto& s = ctx.input_shape(i);
    if (!s) return std::nullopt;
    shapes.push_back(*s);
  }
  return broadcast_shapes(ctx, shapes);
}

std::optional<SymShape> binary_shape(const InferContext& ctx) {
  if (ctx.opset() >= 7) return broadcast_inputs(ctx, {0, 1});
  // Opset < 7: no broadcasting unless broadcast=1, which aligns B inside A at
  // `axis` (suffix-aligned without it); the output always has A's shape.
  const auto& a = ctx.input_shape(0);
  const auto& b = ctx.input_shape(1);
  if (!a || !b) return a;
  const Node& n = ctx.node();
  if (n.attr_i("broadcast", 0) == 0) {
    bool same = a->size() == b->size();
    for (size_t i = 0; same && i < a->size(); ++i)
      same = !(*a)[i].known() || !(*b)[i].known() || (*a)[i].value == (*b)[i].value;
    if (!same) ctx.fail("input shapes differ and the (opset < 7) broadcast attribute is not set");
    return a;
  }
  SymShape padded = *b;
  if (n.attr("axis")) {
    const int64_t ra = static_cast<int64_t>(a->size()), rb = static_cast<int64_t>(b->size());
    int64_t axis = n.attr_i("axis", 0);
    if (axis < 0) axis += ra;
    if (axis < 0 || axis + rb > ra) ctx.fail("broadcast axis does not fit B's shape into A's");
    padded.resize(static_cast<size_t>(ra - axis), Dim(1));
  }
  const SymShape out = broadcast_shapes(ctx, {*a, padded});
  if (out.size() != a->size()) ctx.fail("B's shape does not broadcast onto A's");
  return out;
}

void add_schema(SchemaRegistry& r, const char* op, int min_in, int max_in, int64_t min_opset,
                InferFn infer, int min_out, int max_out) {
  OpSchema s;
  s.op_type = op;
  s.min_inputs = min_in;
  s.max_inputs = max_in;
  s.min_outputs = min_out;
  s.max_outputs = max_out;
  s.min_opset = min_opset;
  s.infer = [=, fn = std::move(infer)](InferContext& ctx) {
    const size_t ni = ctx.num_inputs(), no = ctx.num_outputs();
    if (ni < static_cast<size_t>(min_in) || ni > static_cast<size_t>(max_in))
      ctx.fail("takes " + std::to_string(min_in) +
               (max_in == min_in ? "" : max_in == k_variadic ? " or more" : " to " + std::to_string(max_in)) +
               " inputs, got " + std::to_string(ni));
    for (size_t i = 0; i < static_cast<size_t>(min_in); ++i)
      if (!ctx.has_input(i)) ctx.fail("required input " + std::to_string(i) + " is missing");
    if (no < static_cast<size_t>(min_out) || no > static_cast<size_t>(max_out) || !ctx.has_output(0))
      ctx.fail("has " + std::to_string(no) + " outputs, expected " + std::to_string(min_out) +
               (max_out == min_out ? "" : " to " + std::to_string(max_out)));
    fn(ctx);
  };
  r.add(std::move(s));
}

}  // namespace ew

DataType cast_target(const Node& node) {
  const Attribute* a = node.attr("to");
  if (!a) throw Error(ErrorCode::InvalidModel, node.label() + ": attribute 'to' is missing");
  DataType dt = DataType::Undefined;
  if (a->kind == Attribute::Kind::String) {  // opset 1-5 spelled the type
    static const std::pair<const char*, DataType> k_names[] = {
        {"FLOAT", DataType::Float32},  {"UINT8", DataType::UInt8},     {"INT8", DataType::Int8},
        {"UINT16", DataType::UInt16},  {"INT16", DataType::Int16},     {"INT32", DataType::Int32},
        {"INT64", DataType::Int64},    {"STRING", DataType::String},   {"BOOL", DataType::Bool},
        {"FLOAT16", DataType::Float16}, {"DOUBLE", DataType::Float64}, {"UINT32", DataType::UInt32},
        {"UINT64", DataType::UInt64},  {"BFLOAT16", DataType::BFloat16}};
    for (const auto& [name, t] : k_names)
      if (a->s == name) dt = t;
    if (dt == DataType::Undefined)
      throw Error(ErrorCode::InvalidModel, node.label() + ": unknown cast target type '" + a->s + "'");
  } else {
    dt = static_cast<DataType>(node.attr_i("to", 0));
    if (dt == DataType::Undefined)
      throw Error(ErrorCode::InvalidModel, node.label() + ": cast target type is undefined");
  }
  if (!dtype_is_supported(dt))
    throw Error(ErrorCode::Unsupported, node.label() + ": casting to dtype " +
                                            (dtype_name(dt) == "undefined" ? "#" + std::to_string(static_cast<int>(dt))
                                                                          : std::string(dtype_name(dt))) +
                                            " is not supported");
  return dt;
}

namespace {

using namespace ew;

// Output 0 = input 0's shape, with dtype `out` (Undefined: input 0's dtype).
void add_unary(SchemaRegistry& r, const char* op, uint32_t allowed, int64_t min_opset,
               DataType out = DataType::Undefined) {
  add_schema(r, op, 1, 1, min_opset, [allowed, out](InferContext& ctx) {
    const DataType dt = check_dtype(ctx, 0, allowed);
    ctx.set_output(0, out == DataType::Undefined ? dt : out, ctx.input_shape(0));
  });
}

// Two inputs of one dtype, numpy-broadcast; output dtype as in add_unary.
void add_binary(SchemaRegistry& r, const char* op, uint32_t allowed, int64_t min_opset,
                DataType out = DataType::Undefined) {
  add_schema(r, op, 2, 2, min_opset, [allowed, out](InferContext& ctx) {
    check_dtype(ctx, 0, allowed);
    check_dtype(ctx, 1, allowed);
    const DataType dt = same_dtype(ctx, {0, 1});
    ctx.set_output(0, out == DataType::Undefined ? dt : out, binary_shape(ctx));
  });
}

void add_variadic(SchemaRegistry& r, const char* op, uint32_t allowed) {
  add_schema(r, op, 1, k_variadic, 1, [allowed](InferContext& ctx) {
    std::vector<size_t> all;
    for (size_t i = 0; i < ctx.num_inputs(); ++i) {
      if (!ctx.has_input(i)) ctx.fail("input " + std::to_string(i) + " is missing");
      check_dtype(ctx, i, allowed);
      all.push_back(i);
    }
    ctx.set_output(0, same_dtype(ctx, all), broadcast_inputs(ctx, all));
  });
}

}  // namespace

void register_elementwise_schemas(SchemaRegistry& r) {
  constexpr DataType k_b = DataType::Bool;
  for (const char* op : {"Sigmoid", "LeakyRelu", "Elu", "Selu", "Tanh", "Exp", "Log", "Sqrt",
                         "Reciprocal", "Floor", "Ceil", "Softplus", "Softsign", "HardSigmoid"})
    add_unary(r, op, k_float, 1);
  for (const char* op : {"Sin", "Cos", "Tan", "Asin", "Acos", "Atan"}) add_unary(r, op, k_float, 7);
  for (const char* op : {"Sinh", "Cosh", "Asinh", "Acosh", "Atanh"}) add_unary(r, op, k_float, 9);
  add_unary(r, "ThresholdedRelu", k_float, 10);
  add_unary(r, "Round", k_float, 11);
  add_unary(r, "Celu", k_float, 12);
  add_unary(r, "HardSwish", k_float, 14);
  add_unary(r, "Mish", k_float, 18);
  add_unary(r, "Relu", k_signed, 1);
  add_unary(r, "Neg", k_signed, 1);
  add_unary(r, "Abs", k_numeric, 1);
  add_unary(r, "Sign", k_numeric, 9);
  add_unary(r, "Erf", k_numeric, 9);
  add_unary(r, "Shrink", k_numeric, 9);
  add_unary(r, "Not", k_bool, 1);
  add_unary(r, "BitwiseNot", k_int, 18);
  add_unary(r, "IsNaN", k_float, 9, k_b);
  add_unary(r, "IsInf", k_float, 10, k_b);

  for (const char* op : {"Add", "Sub", "Mul", "Div"}) add_binary(r, op, k_numeric, 1);
  for (const char* op : {"And", "Or", "Xor"}) add_binary(r, op, k_bool, 1, k_b);
  add_binary(r, "Equal", k_all, 1, k_b);
  add_binary(r, "Less", k_numeric, 1, k_b);
  add_binary(r, "Greater", k_numeric, 1, k_b);
  add_binary(r, "LessOrEqual", k_numeric, 12, k_b);
  add_binary(r, "GreaterOrEqual", k_numeric, 12, k_b);
  for (const char* op : {"BitwiseAnd", "BitwiseOr", "BitwiseXor"}) add_binary(r, op, k_int, 18);

  add_variadic(r, "Sum", k_numeric);
  add_variadic(r, "Min", k_numeric);
  add_variadic(r, "Max", k_numeric);
  add_variadic(r, "Mean", k_float);

  register_elementwise_special(r);
}

}  // namespace kiln::ir
