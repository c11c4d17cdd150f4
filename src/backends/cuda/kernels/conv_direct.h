// "direct_mma": kiln's own convolution for few input channels (an image
// network's stem: 7x7, stride 2, 3 -> 64 channels), where cuDNN finds no
// tensor-core engine for 16-bit operands (on an H100, ResNet-50's stem at
// batch 256 took 0.99 ms, about 60 TFLOPS, and cuDNN over the same problem
// rewritten to 8 or 16 channels was slower still, cudnn_conv_reform.h).
//
// An implicit GEMM on mma.sync m16n8k16 (fp32 accumulate). Persistent
// blocks (two an SM) take bands of conv rows of one image, up to 128 output
// positions of a row at a time. The input rows a row reads are kept in
// shared memory in a ring per channel (KH + SH rows, zeros in the pads), so
// each conv row after a band's first loads only the stride's SH new rows,
// into registers a row ahead, with one block-wide sync a row (a version
// copying the whole C x KH window every row was bound by that copy's
// integer work: 0.63 ms for ResNet-50's stem at batch 256 on an H100). Each
// (channel, kernel row) pair is one 8-wide k slice (the kernel's columns
// padded to 8), found through a small table of ring offsets, so an A
// fragment is read straight from the ring; W, packed the same way, stays in
// shared memory for the block's life (B fragments by ldmatrix). Bias and
// Relu are applied to the accumulators; a row leaves through shared memory
// as whole rows of Y (16-byte stores when channels last).
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
// stride 1 or 2, row stride <= 4, kernel width <= 8, C x KH <= 24, 1-64
// output channels, X and Y in either layout, no Z, Relu or no activation.
// An infinite input value makes NaN of the outputs beside its window too:
// the 8-wide k slice multiplies the columns past the kernel by zero weights.
#pragma once

#include <memory>

#include "backends/kernel.h"
#include "ir/graph.h"

namespace kiln::backend::cuda {

// Build time, from the graph.
bool direct_conv_applies(const ir::Node& n, const ir::Graph& g);

std::unique_ptr<Kernel> make_direct_conv(const ir::Node& n);

}  // namespace kiln::backend::cuda
