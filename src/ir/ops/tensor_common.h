// Shared pieces of the tensor-family schemas (src/ir/ops/tensor_*.cpp). The
// family is split by concept; register_tensor_schemas (tensor.cpp) calls each part.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ir/op_schema.h"
#include "ir/ops/shape_rules.h"

namespace kiln::ir::tensor_ops {

void register_reshape_schemas(SchemaRegistry& r);   // tensor_reshape.cpp: Flatten, Reshape, Squeeze, ...
void register_constant_schemas(SchemaRegistry& r);  // tensor_constant.cpp: Constant, Shape, Range, ...
void register_slice_schemas(SchemaRegistry& r);     // tensor_slice.cpp: Slice, Concat, Split, Pad, ...
void register_gather_schemas(SchemaRegistry& r);    // tensor_gather.cpp: Gather*, Scatter*, OneHot, ...
void register_resize_schemas(SchemaRegistry& r);    // tensor_resize.cpp: Resize, Upsample

inline rules::Fail fail_of(const InferContext& ctx) { return {ctx.node(), ErrorCode::InvalidModel}; }

// Replaces anonymous unknown dims (what rules return for "unknown") with fresh
// symbols, so later ops can tell the dims apart.
SymShape named(InferContext& ctx, SymShape s, size_t output = 0);
// A shape of known rank whose dims are all fresh symbols.
SymShape fresh_shape(InferContext& ctx, size_t rank, size_t output = 0);

// The values of an integer input when it is a known constant.
std::optional<std::vector<int64_t>> const_ints(const InferContext& ctx, size_t input);
// The length of a 1-D input (or 1 for a scalar) from its shape, when known.
std::optional<int64_t> input_len(const InferContext& ctx, size_t input);

OpSchema make_schema(std::string op_type, int min_inputs, int max_inputs, int min_outputs, int max_outputs,
                     int64_t min_opset, InferFn infer);

}  // namespace kiln::ir::tensor_ops
