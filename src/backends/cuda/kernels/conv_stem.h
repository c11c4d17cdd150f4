// "stem_mma": kiln's kernel for an image network's stem in ResNet's form, a
// 7x7 stride-2 convolution over 3 channels into 32 or 64, Relu, then a 3x3
// stride-2 MaxPool with pads 1, as one FusedConvPool (ir/ops/fused.cpp).
// direct_mma (conv_direct.h) takes that op in many more forms; the builder
// times both where this one applies (KILN_CONV_STEM=0: direct_mma alone).
//
// Why a second kernel: direct_mma took 0.69 ms for ResNet-50's stem at batch
// 256 on an H100, for about 0.12 ms of tensor work. Its inner loop issued 70
// instructions per 16 products (k-slice tables, B fragments by ldmatrix for
// every row), and each conv row paid three block-wide syncs, the ring's
// loads and a pooled row staged and pooled by the whole block.
//
// Here:
// - A warp owns 32 conv columns (two m16 tiles, columns 28w-1 .. 28w+30,
//   overlapping the next warp's by 4 so that it pools 14 pooled columns on
//   its own) and 32 output channels. Its B fragments (W's 21 k slices of 8 by
//   its 32 channels) stay in registers for the kernel's life.
// - A unit is a band of up to 8 pooled rows of one image. Its input rows
//   (every channel, rounded to T) lie in shared memory as one linear block,
//   input row after input row, channel after channel, so the k slice
//   (ky, c) of conv row r sits at a compile-time offset from that row's
//   base: the inner loop is LDS and HMMA alone.
// - The next unit's input is loaded while this one computes, a slice of it
//   each conv row (into registers before the products, into the other of
//   two buffers after them): one block-wide sync a unit.
// - A conv row is computed tile by tile (16 positions), so that the first
//   tile's bias, Relu and rounding overlap the second's products. Its
//   values are pooled across columns by the warp that made them (staged in
//   its own shared memory, with __syncwarp), and down rows in registers. A
//   pooled row leaves as 16-byte stores.
// - The next unit's loads are walked by adding (no division a load).
//
// Takes FusedConvPool with 16-bit W (and B), X of W's dtype or float32, X
// in NCHW (the graph's image) with a width that is a multiple of 4
// (4-value loads), channels-last Y, W [32 or 64, 3, 7, KW <= 8] in either
// layout, strides 2, undilated, a 3x3/2 pool with pads 1 (end pads 0 or 1),
// at most 56 pooled columns, Relu or no activation, no Z. Like direct_mma,
// an infinite input value makes NaN of its neighbours' outputs too (the
// kernel's 8-wide rows multiply the columns past it by zero weights).
#pragma once

#include <memory>

#include "backends/kernel.h"
#include "ir/graph.h"

namespace kiln::backend::cuda {

// Build time, from the graph (layouts assigned).
bool stem_conv_applies(const ir::Node& n, const ir::Graph& g);

std::unique_ptr<Kernel> make_stem_conv(const ir::Node& n);

}  // namespace kiln::backend::cuda
