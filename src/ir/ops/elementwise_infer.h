// Inference helpers shared by the elementwise schema files (elementwise.cpp,
// elementwise_special.cpp). Internal to src/ir/ops.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <vector>

#include "ir/op_schema.h"
#include "ir/ops/elementwise_attrs.h"

namespace kiln::ir::ew {

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
