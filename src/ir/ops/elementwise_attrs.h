// Attribute readers and dtype sets of the elementwise family shared by the
// schemas and the kernels of every backend.
#pragma once

#include <cstdint>

#include "ir/graph.h"

namespace kiln::ir {

// Cast's `to`: an int (opset >= 6) or a type name such as "FLOAT" (opset 1-5).
// InvalidModel when missing or unknown; Unsupported for types kiln cannot hold
// (string, complex, float8, int4, ...).
DataType cast_target(const Node& node);

namespace ew {

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

}  // namespace ew
}  // namespace kiln::ir
