// Inference helpers shared by the elementwise schema files (elementwise.cpp,
// elementwise_special.cpp). Internal to src/ir/ops.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <vector>

#include "ir/op_schema.h"

namespace kiln::ir::ew {

// Sets of dtypes, as bit masks over DataType values.
constexpr uint32_t bit(DataType d) { return 1u << static_cast<uint32_t>(d); }
constexpr uint32_t k_float = bit(DataType::Float16) | bit(DataType::Float32) |
                             bit(DataType::Float64) | bit(DataType::BFloat16);
constexpr uint32_t k_sint = bit(DataType::Int8) | bit(DataType::Int16) | bit(DataType::Int32) |
                            bit(DataType::Int64);
constexpr uint32_t k_uint = bit(DataType::UInt8) | bit(DataType::UInt16) | bit(DataType::UInt32) |
                            bit(DataType::UInt64);
constexpr uint32_t k_int = k_sint | k_uint;
constexpr uint32_t k_numeric = k_float | k_int;
constexpr uint32_t k_signed = k_float | k_sint;
constexpr uint32_t k_bool = bit(DataType::Bool);
constexpr uint32_t k_all = k_numeric | k_bool;

// Checks input i's dtype is in `allowed` and returns it. An unknown dtype
// (Undefined) passes; a dtype kiln cannot hold (string, complex, float8, ...)
// throws Unsupported; any other dtype outside `allowed` fails as InvalidModel.
DataType check_dtype(const InferContext& ctx, size_t i, uint32_t allowed);
// All present inputs among `inputs` share one dtype (ctx.fail otherwise); returns it.
DataType same_dtype(const InferContext& ctx, const std::vector<size_t>& inputs);
// Numpy broadcast of the inputs' shapes; nullopt when any rank is unknown.
std::optional<SymShape> broadcast_inputs(const InferContext& ctx, const std::vector<size_t>& inputs);
// Output shape of a binary op honoring the opset < 7 broadcast/axis attributes.
std::optional<SymShape> binary_shape(const InferContext& ctx);

// Registers a schema whose inference first checks the input/output counts
// (and that the required inputs are present), then runs `infer`.
void add_schema(SchemaRegistry& r, const char* op, int min_in, int max_in, int64_t min_opset,
                InferFn infer, int min_out = 1, int max_out = 1);
constexpr int k_variadic = 1 << 30;

void register_elementwise_special(SchemaRegistry& r);  // elementwise_special.cpp

}  // namespace kiln::ir::ew
