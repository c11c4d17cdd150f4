// What the candidates for 16-bit convolutions over few input channels
// (direct_mma, conv_direct.h; the cuDNN rewrites, cudnn_conv_reform.h) ask of
// a node before their own limits: build-time checks on the graph.
#pragma once

#include <algorithm>
#include <utility>
#include <vector>

#include "ir/graph.h"
#include "ir/ops/fused_attrs.h"
#include "ir/ops/nn_attrs.h"

namespace kiln::backend::cuda {

inline bool is_16bit(DataType dt) { return dt == DataType::Float16 || dt == DataType::BFloat16; }

inline bool all_ones(const std::vector<int64_t>& v) {
  return std::all_of(v.begin(), v.end(), [](int64_t d) { return d == 1; });
}
inline bool all_zero(const std::vector<int64_t>& v) {
  return std::all_of(v.begin(), v.end(), [](int64_t d) { return d == 0; });
}

// W's shape [M, C, KH, KW] (dims possibly unknown) of a 2-D, ungrouped
// Conv/FusedConv over fp16 or bf16 X and W (`float_x_ok`: or float32 X);
// nullptr for any other node.
inline const ir::SymShape* sixteen_bit_conv_weights(const ir::Node& n, const ir::Graph& g, bool float_x_ok = false) {
  if (n.inputs.size() < 2 || n.attr_i("group", 1) != 1) return nullptr;
  const DataType xt = g.value(n.inputs[0]).dtype, wt = g.value(n.inputs[1]).dtype;
  if (!is_16bit(wt) || (xt != wt && !(float_x_ok && xt == DataType::Float32))) return nullptr;
  const auto& ws = g.value(n.inputs[1]).shape;
  return ws && ws->size() == 4 ? &*ws : nullptr;
}

// The pool's form the pooling kernels (direct_mma, stem_mma) take: a conv
// row in at most two windows, undilated, its pads inside its kernel
// (FusedConvPool's schema asks that too; a MaxPool may have larger ones).
inline bool pool_fits(const ir::Window& w) {
  return w.kernel[0] <= 2 * w.strides[0] && all_ones(w.dilations) && !w.ceil_mode && w.pads[0] < w.kernel[0] &&
         w.pads[2] < w.kernel[0] && w.pads[1] < w.kernel[1] && w.pads[3] < w.kernel[1];
}

// FusedConvPool's pool stage (ir::conv_pool_stages) and its window.
inline std::pair<ir::Node, ir::Window> pool_of(const ir::Node& fused) {
  ir::Node pool = ir::conv_pool_stages(fused).second;
  ir::Window w = ir::read_window(pool, 2, {}, true);
  return {std::move(pool), std::move(w)};
}

}  // namespace kiln::backend::cuda
