// Internal to the nn op family (src/ir/ops/nn*.cpp): the sub-family
// registrations that register_nn_schemas() calls, and small checks they share.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "ir/op_schema.h"

namespace kiln::ir {

void register_conv_schemas(SchemaRegistry& r);       // nn_conv.cpp: Conv, ConvInteger, ConvTranspose
void register_pool_schemas(SchemaRegistry& r);       // nn_pool.cpp: Max/Average/Global pools
void register_norm_schemas(SchemaRegistry& r);       // nn_norm.cpp: Batch/Layer/Group/... norms, LRN
void register_matmul_schemas(SchemaRegistry& r);     // nn_matmul.cpp: Gemm, MatMul, MatMulInteger, Einsum
void register_attention_schemas(SchemaRegistry& r);  // nn_attention.cpp: Attention
// Attention's inference without its opset gate (com.kiln Attention reuses it).
void infer_attention(InferContext& ctx);

// Registers `s` with its infer function wrapped in a check of the node's input
// and output counts against s.min_inputs..max_inputs (the first min_inputs must
// be present) and s.min_outputs..max_outputs.
void add_nn_schema(SchemaRegistry& r, OpSchema s);

// "input 1 ('W')" for messages.
std::string input_label(const InferContext& ctx, size_t i);
// Fails unless input i's dtype (when known) is a float type.
void require_float(const InferContext& ctx, size_t i);
// Fails unless inputs i and j have the same dtype (when both known).
void require_same_dtype(const InferContext& ctx, size_t i, size_t j);
// Fails unless input i's rank (when known) is in [lo, hi]; hi < 0 means no bound.
void require_rank(const InferContext& ctx, size_t i, int64_t lo, int64_t hi = -1);
// Fails unless input i is 1-D of length `want` (each checked when known).
void require_vector(const InferContext& ctx, size_t i, const Dim& want, const std::string& what);
// The more informative of two dims that must be equal; fails when both are known and differ.
Dim unify_dim(const InferContext& ctx, const Dim& a, const Dim& b, const std::string& what);

}  // namespace kiln::ir
