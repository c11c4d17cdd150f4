// "mma_pair": kiln's own kernel for FusedConvPair (ir/ops/fused.cpp) of two
// 1x1 convolutions, Y = act(X W^T + B + X2 W2^T + B2) over channels-last
// X, X2 and Y: one GEMM whose K runs over X's channels, then X2's. A
// ResNet-50 block's last convolution and its projection shortcut apart
// write the shortcut (411 MB at batch 256 in the first block) and read it
// back; here it stays in registers, and the kernel is bound by reading X
// and X2 and writing Y once.
//
// mma.sync m16n8k16 (fp32 accumulate) on 128x128 tiles of Y (pixels x
// output channels), eight warps of 64x32; K in chunks of 64 through a
// two-stage cp.async pipeline, rows of A (pixels of X or X2, a stride
// apart where the convolution has one) and of W in XOR-swizzled shared
// memory read by ldmatrix. Bias, the second bias and Relu are applied to
// the accumulators; a tile leaves through shared memory in 16-byte stores.
//
// Takes 16-bit FusedConvPair, both 1x1, ungrouped, unpadded, undilated, any
// strides, X, X2 and Y channels last, channels of X and X2 and the output
// channels multiples of 8, Relu or no activation.
#pragma once

#include <memory>

#include "backends/kernel.h"
#include "ir/graph.h"

namespace kiln::backend::cuda {

// Build time, from the graph and the node's layout attributes.
bool pair_gemm_applies(const ir::Node& n, const ir::Graph& g);

std::unique_ptr<Kernel> make_pair_gemm(const ir::Node& n);

}  // namespace kiln::backend::cuda
