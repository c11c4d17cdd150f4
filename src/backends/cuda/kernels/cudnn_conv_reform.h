// Convolutions cuDNN runs slowly as they are, rewritten into equal ones it
// runs on tensor cores. A 16-bit convolution over a few input channels (an
// image network's stem: 7x7, stride 2, over RGB) finds no tensor-core engine
// for its operands, and cuDNN runs it several times slower than its products
// would take. Two rewrites, each a candidate of cudnn_conv.cu that the
// builder keeps only where it times faster:
//
//   PadChannels  (cudnn_c8)   X and W copied into 8-channel NHWC scratch,
//                             zeros past C (which add nothing).
//   SpaceToDepth (cudnn_s2d)  a stride-2 convolution over C <= 4 channels as
//                             the stride-1 convolution over X's 2x2 blocks:
//                             S[n, Y, X, (by, bx, c)] = X[n, c, 2Y+by, 2X+bx]
//                             over 4C channels padded to a multiple of 8, and
//                             W'[m, ay, ax, (by, bx, c)] = W[m, c, 2ay+by-s,
//                             2ax+bx-s'] (zero outside W), where s = the
//                             begin pad's parity per axis. S holds the pads
//                             (begin pad (p+s)/2 blocks), so the convolution
//                             has none: a 7x7/2 stem over 224x224 RGB becomes
//                             a 4x4/1 one over 115x115x16, 1.7x the products
//                             of the original but on tensor cores.
//
// Host side here; the copies are kernels on the node's stream, into scratch
// the caller takes from the stream's workspace.
#pragma once

#include <cstddef>
#include <cstdint>

#include "backends/cuda/kernels/cudnn_conv_plan.h"
#include "backends/kernel.h"
#include "ir/graph.h"

namespace kiln::backend::cuda {

enum class Reform { None, PadChannels, SpaceToDepth };

// Build time, from the graph: a 2-D ungrouped Conv/FusedConv in fp16 or bf16
// with W's shape known, over 1-7 channels (PadChannels) or, with strides 2,2
// and no dilation, over 1-4 (SpaceToDepth).
bool reform_applies(Reform r, const ir::Node& n, const ir::Graph& g);

// A reformed problem's geometry and the scratch its operands take.
struct Reformed {
  Reform reform = Reform::None;
  int64_t c = 0, cp = 0;            // X's channels; the copies' channels (a multiple of 8)
  int64_t kh = 0, kw = 0;           // W's kernel
  int64_t sh = 0, sw = 0;           // SpaceToDepth: W's shift (the begin pad's parity)
  int64_t qh = 0, qw = 0;           // SpaceToDepth: S's begin pad in 2x2 blocks
  int64_t ah = 0, aw = 0;           // SpaceToDepth: W''s kernel
  int64_t lh = 0, lw = 0;           // SpaceToDepth: S's padded height and width
  size_t x_bytes = 0, w_bytes = 0;  // scratch of each copy, whole 256-byte blocks (scratch_bytes)
};

// Rewrites `p`, the node's own forward problem (2-D, X's and W's dims from the
// node, Y as it is written), into the reformed one: X and W become the NHWC
// copies, and for SpaceToDepth the window becomes stride 1 without pads.
// ctx.fail where the shapes do not allow it (the build checked the graph).
Reformed reform_problem(KernelContext& ctx, Reform r, ConvProblem& p);

// Writes the copies of x (NHWC when x_nhwc, else NCHW) and w (K,R,S,C when
// w_nhwc, else K,C,R,S) into x_out and w_out, 16-byte aligned.
void reform_operands(KernelContext& ctx, const Reformed& rf, const Tensor& x, bool x_nhwc, const Tensor& w,
                     bool w_nhwc, void* x_out, void* w_out);

}  // namespace kiln::backend::cuda
