// "direct_mma": kiln's own convolution for few input channels (an image
// network's stem: 7x7, stride 2, 3 -> 64 channels), where cuDNN finds no
// tensor-core engine for 16-bit operands (on an H100, ResNet-50's stem at
// batch 256 took 0.99 ms, about 60 TFLOPS, and cuDNN over the same problem
// rewritten to 8 or 16 channels was slower still, cudnn_conv_reform.h).
//
// An implicit GEMM on mma.sync m16n8k16 (fp32 accumulate): a block takes up
// to 128 output positions of one output row at a time (persistent blocks,
// two an SM); the input rows they read (C x KH rows of the window's width)
// are loaded into registers while the block computes the row before, then
// stored into shared memory with zeros in the pads; each (channel, kernel
// row) pair is one 8-wide k slice (the kernel's columns padded to 8), so an
// A fragment is read straight from that patch; W, packed the same way, stays
// in shared memory for the block's life. Bias and Relu are applied to the
// accumulators; the row leaves through shared memory as whole rows of Y
// (16-byte stores when channels last).
//
// FusedConvPool (a stem's convolution and MaxPool, ir/ops/fused.cpp): a
// block takes a band of pooled rows of one image and computes the conv rows
// their windows cover in order, keeping each pooled row's running maximum in
// registers; a finished pooled row is staged and pooled across columns, so
// the convolution's output never reaches memory. Conv rows one tile wide
// (ow <= 128), the pool's kernel height at most twice its stride. The
// maximum is __hmax2's (a NaN loses to a number; MaxPool keeps a leading NaN).
//
// Takes 16-bit 2-D Conv/FusedConv/FusedConvPool, ungrouped, undilated, column
// stride 1 or 2, kernel width <= 8, C x KH <= 24, 1-64 output channels, X and
// Y in either layout, no Z, Relu or no activation.
#pragma once

#include <memory>

#include "backends/kernel.h"
#include "ir/graph.h"

namespace kiln::backend::cuda {

// Build time, from the graph.
bool direct_conv_applies(const ir::Node& n, const ir::Graph& g);

std::unique_ptr<Kernel> make_direct_conv(const ir::Node& n);

}  // namespace kiln::backend::cuda
