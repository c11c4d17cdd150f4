// Attribute handling the nn schemas and the CPU nn kernels share, so the shape
// a schema promises is the shape a kernel produces: the sliding-window geometry
// of Conv, ConvTranspose and the pools (kernel_shape/strides/dilations/pads/
// auto_pad and the output-size arithmetic), and opset-version checks.
#pragma once

#include <cstdint>
#include <vector>

#include "ir/graph.h"

namespace kiln::ir {

// True when `opset` is known (> 0) and older than `version`. A graph without an
// opset import (hand-built in tests or passes) gets the newest semantics.
inline bool opset_before(int64_t opset, int64_t version) { return opset > 0 && opset < version; }

enum class AutoPad { NotSet, SameUpper, SameLower, Valid };

struct Window {
  AutoPad auto_pad = AutoPad::NotSet;
  std::vector<int64_t> kernel;     // -1 where unknown (Conv weight dim still symbolic)
  std::vector<int64_t> strides;
  std::vector<int64_t> dilations;
  std::vector<int64_t> pads;       // begins of every axis, then ends (ONNX order)
  bool ceil_mode = false;
  size_t rank() const { return kernel.size(); }
  int64_t extent(size_t i) const { return (kernel[i] - 1) * dilations[i] + 1; }
};

// Reads the window attributes of `node` for `spatial_rank` axes. `weight_kernel`
// is the kernel size taken from the weight's shape (Conv/ConvTranspose; -1 for
// an unknown dim), empty for pooling, where kernel_shape is required. Throws
// kiln::Error(InvalidModel) naming the node on a bad attribute.
Window read_window(const Node& node, size_t spatial_rank, const std::vector<int64_t>& weight_kernel,
                   bool pooling);

// Output size of axis i of a Conv/pool for input size `in`; resolves SAME_*/VALID
// into w.pads. Honours w.ceil_mode. Throws InvalidModel when the window does not
// fit (output would be empty).
int64_t window_out_dim(const Node& node, Window& w, size_t i, int64_t in);

// ConvTranspose: output size of axis i, resolving pads from auto_pad or the
// requested `out_shape` (<= 0 for none). A requested size past the natural one
// shows up as a negative end pad (the extra rows receive only the bias).
int64_t transpose_out_dim(const Node& node, Window& w, size_t i, int64_t in, int64_t output_padding,
                          int64_t out_shape);

}  // namespace kiln::ir
