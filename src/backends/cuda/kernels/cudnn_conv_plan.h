// cuDNN 9 graph-API convolution plans: one operation (forward, or backward
// data for ConvTranspose) in an operation graph, engine configs from the
// heuristics (mode A, then the fallback list), the first whose execution plan
// finalizes. Host code; plans are pooled per process and device (a kernel
// holds its plans while it lives) and executed on the stream's handle; the
// kernels in cudnn_conv.cu own a ConvPlanCache each and look plans up by
// problem (shapes, strides, alignment, beta).
#pragma once

#include <cudnn.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backends/cuda/kernels/cudnn_util.h"
#include "ir/graph.h"

namespace kiln::backend::cuda {

// One convolution in cuDNN's terms. Forward: x -> y. Backward data: dy (the
// ONNX ConvTranspose input, in `x`) -> dx (its output, in `y`). Dims are full
// tensor dims (N, C, spatial...) of rank 4 or 5; 1-D convolutions come as
// 2-D with H = 1. Strides in elements.
struct ConvProblem {
  bool backward_data = false;
  cudnnDataType_t data_type = CUDNN_DATA_FLOAT;
  std::vector<int64_t> x_dims, x_strides, w_dims, y_dims, y_strides;
  std::vector<int64_t> w_strides;  // empty: packed (K,C,R,S); K,R,S,C data for channels-last engines
  std::vector<int64_t> pre_pads, post_pads, strides, dilations;
  int64_t align_x = 16, align_w = 16, align_y = 16;
  bool accumulate = false;  // beta = 1: y += conv (FusedConv's Z already in y)
  int pick = 0;             // k: the k-th distinct engine that works (candidates cudnn, cudnn_alt, cudnn_alt2, ...)
  // Runtime fusion (forward only, no accumulate): y = [relu](conv [+ z] +
  // [bias]) in one cuDNN graph, z (FusedConv's residual, y's dims and
  // strides) read through uid 5, bias [K] through uid 4. Tried with
  // precompiled engines only unless KILN_CUDNN_RUNTIME_FUSION=1 (runtime-
  // compiled ones cost seconds of NVRTC per shape and process);
  // ConvPlanCache::try_get says when none finalizes.
  bool fuse_add = false, fuse_bias = false, fuse_relu = false;
  int64_t align_z = 16;
  bool operator==(const ConvProblem&) const = default;
  std::string str() const;  // for messages: "x [..] w [..] -> y [..] pads .."
};

// A finalized plan and everything it was built from (kept alive with it).
struct ConvPlan {
  std::vector<CudnnDesc> keep;  // tensors, convolution, operation, graph, engine config
  CudnnDesc plan;
  int64_t workspace = 0;
  std::string engine;  // "engine N" for messages
};

// A kernel's plans by problem, each taken from the process-wide pool of its
// (device, problem) for the kernel's lifetime and given back when the kernel
// goes (cudnn_conv_plan.cpp): one plan never runs on two threads at once, and
// a later context reuses plans instead of building them.
class ConvPlanCache {
 public:
  ConvPlanCache() = default;
  ~ConvPlanCache();
  ConvPlanCache(const ConvPlanCache&) = delete;
  ConvPlanCache& operator=(const ConvPlanCache&) = delete;

  // The plan for `p` on the current device. kiln::Error naming `node` and the
  // shapes when no engine configuration finalizes.
  const ConvPlan& get(const ConvProblem& p, const ir::Node& node);
  // As get(), but nullptr (remembered) when no engine config finalizes: for
  // fused problems, whose caller then runs the unfused one.
  const ConvPlan* try_get(const ConvProblem& p);

 private:
  const ConvPlan* find_or_acquire(const ConvProblem& p, bool fused);

  struct Held {
    int device;
    ConvProblem problem;
    ConvPlan* plan;  // null: no fused engine
  };
  std::vector<Held> m_plans;
};

// Executes the plan on the handle's stream (x, w, y as in ConvProblem;
// `bias` and `z` for a fused plan with fuse_bias / fuse_add). z may be y's
// own buffer (the planner puts FusedConv's Y over Z): cuDNN does not document
// overlap, but its fused epilogue reads an element of z where it writes that
// element of y; gpu_test.sh's models_fp16_rtfusion checks a residual network
// run this way against PyTorch.
void execute_conv(cudnnHandle_t handle, const ConvPlan& plan, const void* x, const void* w, void* y, void* workspace,
                  const void* bias = nullptr, const void* z = nullptr);

// Whether convolutions try fused cuDNN graphs at all: KILN_CUDNN_FUSION=0
// turns them off (conv, then kiln's epilogue), for comparing the two.
bool cudnn_fusion_enabled();

// Contiguous row-major strides of `dims`.
std::vector<int64_t> packed_strides(const std::vector<int64_t>& dims);
// Strides of NCHW-ordered dims [N,C,H,W] laid out as NHWC (or K,C,R,S
// weights as K,R,S,C): what cuDNN is told for channels-last operands.
std::vector<int64_t> nhwc_strides(const std::vector<int64_t>& dims);

}  // namespace kiln::backend::cuda
