// Host-side parameters that the CPU and CUDA kernels compute the same way:
// reading shape-like inputs by opset, validating them, and turning them into
// output shapes, strided views and per-axis plans. Each backend then moves the
// data its own way (CPU loops, CUDA launches), so the two agree by construction
// on what to compute and on every error they report (ctx.fail: InvalidArgument
// naming the node). Output-shape arithmetic itself lives in ir/ops/shape_rules.h;
// this header is the layer that needs a KernelContext.
//
// This file: host operands and the tensor (shape/layout/indexing) family. See
// ew_params.h, nn_params.h and detection_params.h for the other families.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "backends/kernel.h"
#include "ir/ops/resize_rules.h"
#include "ir/ops/shape_rules.h"

namespace kiln::backend::params {

// ---- host operands ----

inline ir::rules::Fail fail_of(const KernelContext& ctx) { return {ctx.node(), ErrorCode::InvalidArgument}; }
// A shape-like input (integer values, in host memory) as int64s.
std::vector<int64_t> host_ints(const KernelContext& ctx, size_t i);
// A one-element integer input (CumSum's axis, Trilu's k); `what` names it.
int64_t scalar_int(const KernelContext& ctx, size_t i, const char* what);
// The values of an optional input as doubles; nullopt when omitted or empty.
std::optional<std::vector<double>> host_doubles(const KernelContext& ctx, size_t i);
// A possibly negative axis of a rank-`rank` tensor, normalized (ctx.fail when out of range).
inline int64_t norm_axis(const KernelContext& ctx, int64_t axis, int64_t rank) {
  return ir::rules::norm_axis(fail_of(ctx), axis, rank);
}
// The concrete shape a rule computed from concrete inputs.
Shape concrete(const KernelContext& ctx, const ir::SymShape& s);
// Product of dims [begin, end).
inline int64_t prod(const Shape& s, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end; ++i) p *= s[i];
  return p;
}

// ---- strided copies: the dims a copy walks ----

struct CopyAxis {
  int64_t n, dst, src;  // size, dst stride, src stride (elements)
};
// The dims of dst[sum(i*dst_strides)] = src[sum(i*src_strides)] over `shape`
// with unit dims dropped and neighbours contiguous on both sides merged,
// innermost first (empty for a single element); nullopt when shape has a 0.
std::optional<std::vector<CopyAxis>> merge_copy_axes(const std::vector<int64_t>& dst_strides,
                                                     const std::vector<int64_t>& src_strides, const Shape& shape);

// ---- reshape family: output shapes (the data is input 0's bytes) ----

Shape flatten_shape(const KernelContext& ctx);
Shape reshape_shape(const KernelContext& ctx);    // shape attribute before opset 5, input 1 after
Shape squeeze_shape(const KernelContext& ctx);    // axes attribute before opset 13, input 1 after
Shape unsqueeze_shape(const KernelContext& ctx);

// ---- strided copies of input 0 into a contiguous output ----

// For every multi-index i < dims: out[sum(i * contiguous strides of dims)] =
// in[offset + sum(i * src)]. `dims` is the output shape, or a regrouping of
// it (DepthToSpace, SpaceToDepth); src strides are in elements, negative to
// read backwards, 0 to broadcast.
struct StridedView {
  Shape out;                 // the output's shape
  Shape dims;                // the dims the copy walks
  std::vector<int64_t> src;  // input strides per walked dim
  int64_t offset = 0;        // input element of index 0 (0 when the output is empty)
};
StridedView transpose_view(const KernelContext& ctx);
StridedView expand_view(const KernelContext& ctx);
StridedView slice_view(const KernelContext& ctx);
StridedView depth_to_space_view(const KernelContext& ctx);
StridedView space_to_depth_view(const KernelContext& ctx);

// A kernel of a shared plan above and a backend's copy of it: the CPU and
// CUDA kernels of these ops differ only in how they move the bytes, e.g.
// planned<reshape_shape, copy_reshaped>.
template <auto Plan, auto Copy>
void planned(KernelContext& ctx) {
  Copy(ctx, Plan(ctx));
}

struct TilePlan {
  Shape out;
  std::vector<int64_t> repeats;
};
TilePlan tile_plan(const KernelContext& ctx);

// ---- cut and join ----

struct ConcatPlan {
  Shape out;
  size_t axis = 0;
};
ConcatPlan concat_plan(const KernelContext& ctx);  // every input: same dtype

struct SplitPlan {
  size_t axis = 0;
  std::vector<int64_t> sizes;  // one per output
};
SplitPlan split_plan(const KernelContext& ctx);

enum class PadMode : int { Constant = 0, Edge = 1, Reflect = 2, Wrap = 3 };
// Pad: negative pads crop first, then the mode pads the cropped range. Per
// dim, the output reads input [lo, lo + len) after `before` padded positions.
// Checks constant_value's dtype (opset 11+); the backends read its value.
struct PadPlan {
  PadMode mode = PadMode::Constant;
  Shape out;
  std::vector<int64_t> before, lo, len;
};
PadPlan pad_plan(const KernelContext& ctx);

// ---- read by index ----

// Gather along axis: out = in viewed as [outer, dim, inner] with the middle
// dim indexed.
struct GatherPlan {
  Shape out;
  size_t axis = 0;
  int64_t outer = 1, dim = 0, inner = 1;
};
GatherPlan gather_plan(const KernelContext& ctx);
// GatherElements: the normalized axis, after the rank and extent checks.
size_t gather_elements_axis(const KernelContext& ctx);
// GatherND (int64 indices): `batches` x `per_batch` tuples of m components,
// each reading `row` elements.
struct GatherNdPlan {
  Shape out;
  size_t batch_dims = 0;
  int64_t m = 0, batches = 1, per_batch = 1, batch_stride = 0, row = 1;
};
GatherNdPlan gather_nd_plan(const KernelContext& ctx);
// OneHot: indices viewed as [outer, inner] become [outer, depth, inner].
struct OneHotPlan {
  Shape out;
  int64_t depth = 0, inner = 1;
};
OneHotPlan one_hot_plan(const KernelContext& ctx);
// Compress: the condition's picked positions of the axis (of the flattened
// input without one), in the [outer, dim, inner] view.
struct CompressPlan {
  Shape out;
  std::vector<int64_t> picked;
  int64_t outer = 1, dim = 0, inner = 1;
};
CompressPlan compress_plan(const KernelContext& ctx);

// ---- write by index ----

enum class ScatterReduction : int { None = 0, Add = 1, Mul = 2, Max = 3, Min = 4 };
// Scatter (the old name) has none; the others read `reduction`.
ScatterReduction scatter_reduction(const KernelContext& ctx);
// ScatterND's checks (indices, updates' shape and dtype); returns the tuple length k.
int64_t scatter_nd_components(const KernelContext& ctx);
// ScatterElements' checks; returns the normalized axis.
size_t scatter_elements_axis(const KernelContext& ctx);

// ---- along an axis ----

struct CumSumPlan {
  bool exclusive = false, reverse = false;
  int64_t outer = 1, dim = 0, inner = 1;
};
CumSumPlan cum_sum_plan(const KernelContext& ctx);

struct TriluPlan {
  int64_t k = 0;
  bool upper = true;
  int64_t rows = 0, cols = 0;  // of each matrix (the last two dims)
};
TriluPlan trilu_plan(const KernelContext& ctx);

// ReverseSequence: batch and time are dims 0 and 1 in some order; every
// length is checked to lie in [0, steps].
struct ReverseSequencePlan {
  int64_t batch_axis = 1, time_axis = 0, batch = 0, steps = 0;
  std::vector<int64_t> lens;
};
ReverseSequencePlan reverse_sequence_plan(const KernelContext& ctx);

// ArgMax/ArgMin: x viewed as [outer, n, inner] around the axis (n > 0).
struct ArgPlan {
  bool last = false;  // select_last_index
  Shape out;          // keepdims: the axis as 1, else removed
  int64_t outer = 1, n = 0, inner = 1;
};
ArgPlan arg_plan(const KernelContext& ctx);

// TopK: k from the attribute (before opset 10) or input 1, in [0, n].
struct TopKPlan {
  int64_t k = 0;
  bool largest = true;
  Shape out;  // the axis as k
  int64_t outer = 1, n = 0, inner = 1;
};
TopKPlan topk_plan(const KernelContext& ctx);

// ---- make ----

// ConstantOfShape's output shape (input 0, no negative dims).
Shape constant_of_shape_dims(const KernelContext& ctx);

// ---- Resize / Upsample ----

// The values of the optional inputs at the node's opset (Upsample-7/8: the
// scales attribute).
ir::rules::ResizeArgs resize_args(const KernelContext& ctx);

}  // namespace kiln::backend::params
