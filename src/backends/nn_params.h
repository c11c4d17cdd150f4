// Host-side parameters of the nn family that the CPU kernels
// (backends/cpu/kernels/nn_*.cpp) and the CUDA kernels (backends/cuda/kernels/
// attention.cu, cublaslt_matmul.cu, nn_norm*.cu, nn_pool.cu) compute the same
// way: attributes, input checks and the geometry each kernel walks. See
// kernel_params.h for the convention.
#pragma once

#include <cstdint>
#include <vector>

#include <optional>

#include "backends/kernel.h"
#include "ir/attention_views.h"
#include "ir/ops/nn_attrs.h"

namespace kiln::backend::params {

// ---- Attention (opset 23/24) ----

// Q, K, V (3-D [B, S, H*D] or 4-D [B, H, S, D]) and past K/V, checked.
struct AttentionDims {
  int64_t b = 0, qh = 0, kvh = 0, sq = 0, skv = 0, past = 0, total = 0, hs = 0, vhs = 0;
  bool three_d = false;
};
AttentionDims attention_dims(const KernelContext& ctx);

// Where one operand's [B, heads, seq, head] elements are in its tensor: an
// offset and four strides, in elements. Plain data: a CUDA kernel argument too.
struct OperandLayout {
  int64_t offset = 0;
  int64_t strides[4] = {0, 0, 0, 1};
};
struct AttentionLayout {
  OperandLayout q, k, v, y;
};

struct AttentionParams {
  AttentionDims d;
  int64_t mode = 0;       // qk_matmul_output_mode
  bool causal = false;
  float softcap = 0.f;
  double scale = 1.0;     // the scale attribute, else 1/sqrt(head size)
  const Tensor* mask = nullptr;    // attn_mask (checked against the scores), or null
  const Tensor* nonpad = nullptr;  // nonpad_kv_seqlen (one per batch), or null
  Shape mask_dims;        // the mask's dims right-aligned to [B, qh, Sq, mask_len] (1s when no mask)
  Shape out;              // Y's shape (the output tensor's, kiln.y_shape, with views)
  // com.kiln Attention's in-place operands, checked against the tensors
  // (ir/attention_views.h), or null; the dims are then theirs (4-D). The
  // caller's parse, which outlives these params.
  const ir::AttentionViews* views = nullptr;
  // Where Q, K, V (the current ones, without the past) and Y are in their
  // tensors as [B, heads, seq, head] views, whatever the form: the views, or
  // the strides of the 3-D [B, S, H*D] or 4-D [B, H, S, D] layout.
  AttentionLayout layout;
};
// `views`: the node's kiln.views as ir::attention_views(ctx.node()) parsed
// them (a kernel object parses them once, at construction).
AttentionParams attention_params(const KernelContext& ctx, const std::optional<ir::AttentionViews>& views);

// ---- Gemm ----

// Y = alpha * op(A) op(B) + beta * C, A and B 2-D of one dtype; C (optional)
// broadcasts one way to [M, N] (rows/cols of 1 repeat).
struct GemmParams {
  bool ta = false, tb = false;
  float alpha = 1.f, beta = 1.f;
  int64_t m = 0, k = 0, n = 0;
  const Tensor* c = nullptr;
  int64_t c_rows = 1, c_cols = 1;
};
GemmParams gemm_params(const KernelContext& ctx);

// ---- MatMul ----

// Shapes of a NumPy matmul: batch dims broadcast, 1-D operands promoted.
// a_batch and b_batch are the operands' own batch dims (not padded to batch's rank).
struct MatMulShape {
  int64_t m = 0, k = 0, n = 0;
  bool b_vector = false;  // B was 1-D
  Shape a_batch, b_batch, batch, out;
};
MatMulShape matmul_shape(const KernelContext& ctx, Shape as, Shape bs);

// ---- Conv / ConvTranspose ----

// The checked geometry of a convolution of X `xs` [N, C, spatial...] with W
// `ws`, the attributes read from `node` (ctx's node, or a stage of a fused one).
struct ConvGeometry {
  int64_t n = 0, c = 0, group = 1;
  int64_t m = 0, cg = 0;        // output channels; input channels per group
  Shape spatial;                // X's spatial dims
  std::vector<int64_t> kernel;  // W's spatial dims
  ir::Window w;
  Shape grid;     // Y's spatial dims
  Shape y_shape;  // [N, M, grid...]
};
// Conv (W [M, C/group, kernel...]).
ConvGeometry conv_geometry(const KernelContext& ctx, const ir::Node& node, const Shape& xs, const Shape& ws);
// ConvTranspose (W [C, M/group, kernel...]), with output_padding and output_shape.
ConvGeometry conv_transpose_geometry(const KernelContext& ctx, const ir::Node& node, const Shape& xs,
                                     const Shape& ws);

// ---- channel-statistics norms (X is [N, C, spatial...]) ----

// ctx.fail unless input i is 1-D of length len; `what` names it.
void require_vector(const KernelContext& ctx, size_t i, int64_t len, const char* what);
// BatchNormalization (inference form, checked): X viewed as [N, C, plane].
struct BatchNormParams {
  int64_t c = 0, plane = 1;
  double eps = 1e-5;
};
BatchNormParams batch_norm_params(const KernelContext& ctx);
// InstanceNormalization: the checks; returns C.
int64_t instance_norm_channels(const KernelContext& ctx);
// GroupNormalization: scale/bias are per group before opset 21, per channel from it.
struct GroupNormParams {
  int64_t groups = 1;
  bool per_group = false;
};
GroupNormParams group_norm_params(const KernelContext& ctx);
// MeanVarianceNormalization: the axes (default [0, 2, 3]) as a per-dim mask.
std::vector<bool> mvn_reduced(const KernelContext& ctx);

// ---- trailing-axis and one-axis norms ----

// LayerNormalization / RMSNormalization: rows of `inner` = numel(tail) values.
struct LayerNormPlan {
  size_t axis = 0;
  double eps = 1e-5;
  Shape tail;        // the normalized dims
  Shape stat_shape;  // Mean / InvStdDev: X's shape with the tail set to 1
  int64_t outer = 1, inner = 1;
  DataType stash = DataType::Float32;
};
LayerNormPlan layer_norm_plan(const KernelContext& ctx);
// ctx.fail unless input i broadcasts one way onto `tail`.
void require_broadcast_to(const KernelContext& ctx, size_t i, const Shape& tail);

// LpNormalization: X viewed as [outer, n, inner] around the axis.
struct LpNormPlan {
  int64_t p = 2;
  int64_t outer = 1, n = 1, inner = 1;
};
LpNormPlan lp_norm_plan(const KernelContext& ctx);

// LRN: channels [c - before, c + after] of every position.
struct LrnPlan {
  double alpha = 1e-4, beta = 0.75, bias = 1.0;
  int64_t size = 1, c = 0, plane = 1, before = 0, after = 0;
};
LrnPlan lrn_plan(const KernelContext& ctx);

// Softmax, LogSoftmax, Hardmax: x viewed as [outer, n, inner]; before opset
// 13 the axis and every dim after it are one flattened n.
struct SoftmaxPlan {
  int64_t outer = 1, n = 1, inner = 1;
};
SoftmaxPlan softmax_plan(const KernelContext& ctx);

// ---- pooling ----

// GlobalAveragePool / GlobalMaxPool: `planes` (N*C) planes of `size` values.
struct GlobalPoolPlan {
  Shape out;
  int64_t planes = 0, size = 1;
};
GlobalPoolPlan global_pool_plan(const KernelContext& ctx);

}  // namespace kiln::backend::params
