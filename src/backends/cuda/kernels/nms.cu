// NonMaxSuppression on CUDA, mirroring backends/cpu/kernels/detection.cpp
// exactly (selection and order). Per (batch, class) segment:
//   1. keys: a candidate (score > score_threshold when given) gets the
//      64-bit key (orderable score bits << 32 | ~box index), others 0, so a
//      descending sort gives the CPU's stable order (score descending, lower
//      index first on ties) with every candidate ahead of the rest;
//   2. a bitonic sort of each segment's keys (nms_sort.cuh);
//   3. greedy selection, one block per segment: walk the sorted candidates;
//      a candidate not yet suppressed is kept and the block marks every later
//      candidate whose IoU with it is above the threshold (no O(n^2) mask, so
//      memory stays linear in the box count);
//   4. an exclusive scan of the per-segment counts gives each segment's rows,
//      the total is read back (pinned memory, sync of the run's stream) to
//      size the output, and a gather writes the (batch, class, box) rows.
// Box geometry is float and uncontracted, as the CPU computes it.
#include <algorithm>

#include "backends/cuda/kernels/nms_sort.cuh"
#include "backends/detection_params.h"
#include "core/dispatch.h"

namespace kiln::backend::cuda {

namespace {

using det::fadd;
using det::fdiv;
using det::fmul;
using det::fsub;

// (x_min, x_max, y_min, y_max) of every box of every batch item.
__global__ void nms_corners(const void* boxes, DataType dt, float4* corners, int64_t count, bool center) {
  KILN_GRID_STRIDE(i, count) {
    float b[4];
    for (int k = 0; k < 4; ++k) b[k] = static_cast<float>(det::read_float(boxes, dt, i * 4 + k));
    float4 c;
    if (center) {  // [x_center, y_center, width, height]
      const float hw = fdiv(b[2], 2.f), hh = fdiv(b[3], 2.f);
      c = make_float4(fsub(b[0], hw), fadd(b[0], hw), fsub(b[1], hh), fadd(b[1], hh));
    } else {  // [y1, x1, y2, x2], either corner order
      c = make_float4(det::std_min(b[1], b[3]), det::std_max(b[1], b[3]), det::std_min(b[0], b[2]),
                      det::std_max(b[0], b[2]));
    }
    corners[i] = c;
  }
}

// The CPU's suppresses(a, b): IoU strictly above the threshold.
__device__ __forceinline__ bool suppresses(const float4& a, const float4& b, float iou_threshold) {
  const float ix_min = det::std_max(a.x, b.x), ix_max = det::std_min(a.y, b.y);
  if (ix_max <= ix_min) return false;
  const float iy_min = det::std_max(a.z, b.z), iy_max = det::std_min(a.w, b.w);
  if (iy_max <= iy_min) return false;
  const float inter = fmul(fsub(ix_max, ix_min), fsub(iy_max, iy_min));
  const float area_a = fmul(fsub(a.y, a.x), fsub(a.w, a.z));
  const float area_b = fmul(fsub(b.y, b.x), fsub(b.w, b.z));
  const float uni = fsub(fadd(area_a, area_b), inter);
  if (inter <= 0 || area_a <= 0 || area_b <= 0 || uni <= 0) return false;
  return fdiv(inter, uni) > iou_threshold;
}

__global__ void nms_keys(const void* scores, DataType dt, uint64_t* keys, int64_t segments, int64_t n, int64_t npad,
                         bool by_score, float score_threshold) {
  KILN_GRID_STRIDE(g, segments * npad) {
    const int64_t seg = g / npad, i = g % npad;
    uint64_t key = 0;
    if (i < n) {
      const float s = static_cast<float>(det::read_float(scores, dt, seg * n + i));
      if (!by_score || s > score_threshold) key = det::nms_key(s, i);
    }
    keys[g] = key;
  }
}

// One block per segment: the greedy walk. removed[] is the segment's
// suppressed flags (zeroed); kept box indices go to selected[seg * cap + k].
__global__ void nms_greedy(const uint64_t* keys, const float4* corners, uint8_t* removed, int32_t* selected,
                           int64_t* counts, int64_t segments, int64_t classes, int64_t n, int64_t npad, int64_t cap,
                           float iou_threshold) {
  __shared__ int64_t s_candidates;
  for (int64_t seg = blockIdx.x; seg < segments; seg += gridDim.x) {
    const uint64_t* key = keys + seg * npad;
    uint8_t* rm = removed + seg * npad;
    const float4* box = corners + (seg / classes) * n;
    if (threadIdx.x == 0) {  // candidates come first: find the first zero key
      int64_t lo = 0, hi = npad;
      while (lo < hi) {
        const int64_t mid = (lo + hi) / 2;
        if (key[mid] != 0) lo = mid + 1;
        else hi = mid;
      }
      s_candidates = lo;
    }
    __syncthreads();
    const int64_t num = s_candidates;
    int64_t kept = 0;
    // Every thread walks the same i and reads the same flags (written only
    // before the last barrier), so the branches below are block-uniform.
    for (int64_t i = 0; i < num && kept < cap; ++i) {
      if (rm[i]) continue;
      const int64_t bi = det::nms_index(key[i]);
      const float4 kept_box = box[bi];
      if (threadIdx.x == 0) selected[seg * cap + kept] = static_cast<int32_t>(bi);
      ++kept;
      for (int64_t j = i + 1 + threadIdx.x; j < num; j += blockDim.x)
        if (!rm[j] && suppresses(box[det::nms_index(key[j])], kept_box, iou_threshold)) rm[j] = 1;
      __syncthreads();
    }
    if (threadIdx.x == 0) counts[seg] = kept;
    __syncthreads();  // s_candidates is rewritten for the next segment
  }
}

// Exclusive scan of counts into offsets, total at offsets[segments]; one
// block of k_scan threads, each summing a contiguous run of segments.
constexpr int k_scan = 1024;
__global__ void nms_scan(const int64_t* counts, int64_t* offsets, int64_t segments) {
  __shared__ int64_t partial[k_scan];
  const int64_t per = (segments + k_scan - 1) / k_scan;
  const int64_t begin = det::std_min<int64_t>(segments, threadIdx.x * per);
  const int64_t end = det::std_min<int64_t>(segments, begin + per);
  int64_t sum = 0;
  for (int64_t s = begin; s < end; ++s) sum += counts[s];
  partial[threadIdx.x] = sum;
  __syncthreads();
  if (threadIdx.x == 0) {
    int64_t run = 0;
    for (int t = 0; t < k_scan; ++t) {
      const int64_t v = partial[t];
      partial[t] = run;
      run += v;
    }
    offsets[segments] = run;
  }
  __syncthreads();
  int64_t run = partial[threadIdx.x];
  for (int64_t s = begin; s < end; ++s) {
    offsets[s] = run;
    run += counts[s];
  }
}

__global__ void nms_gather(const int32_t* selected, const int64_t* counts, const int64_t* offsets, int64_t* out,
                           int64_t segments, int64_t classes, int64_t cap) {
  KILN_GRID_STRIDE(g, segments * cap) {
    const int64_t seg = g / cap, k = g % cap;
    if (k >= counts[seg]) continue;
    int64_t* row = out + (offsets[seg] + k) * 3;
    row[0] = seg / classes;
    row[1] = seg % classes;
    row[2] = selected[g];
  }
}

void run_nms(KernelContext& ctx) {
  const Tensor& boxes = ctx.input(0);
  const Tensor& scores = ctx.input(1);
  const params::NmsParams p = params::nms_params(ctx);
  const int64_t nb = p.batches, nc = p.classes, n = p.boxes, segments = nb * nc;
  if (segments == 0 || n == 0 || p.max_out == 0) {
    ctx.output(0, DataType::Int64, {0, 3});
    return;
  }
  if (n >= (int64_t{1} << 31) - 1)
    throw Error(ErrorCode::Unsupported, ctx.node().label() + ": " + std::to_string(n) + " boxes on cuda");
  const int64_t npad = det::next_pow2(n), cap = std::min(p.max_out, n);

  CudaStream& cs = cuda_stream(ctx);
  const cudaStream_t st = cs.get();
  auto carve_all = [&](det::Carver& c, float4*& corners, uint64_t*& keys, uint8_t*& removed, int32_t*& selected,
                       int64_t*& counts, int64_t*& offsets) {
    corners = c.take<float4>(nb * n);
    keys = c.take<uint64_t>(segments * npad);
    removed = c.take<uint8_t>(segments * npad);
    selected = c.take<int32_t>(segments * cap);
    counts = c.take<int64_t>(segments);
    offsets = c.take<int64_t>(segments + 1);
  };
  float4* corners;
  uint64_t* keys;
  uint8_t* removed;
  int32_t* selected;
  int64_t *counts, *offsets;
  det::Carver sizing;
  carve_all(sizing, corners, keys, removed, selected, counts, offsets);
  det::Carver carve(cs.workspace(sizing.used()));
  carve_all(carve, corners, keys, removed, selected, counts, offsets);

  nms_corners<<<grid_for(nb * n), k_threads, 0, st>>>(boxes.raw(), boxes.dtype(), corners, nb * n, p.center);
  KILN_CUDA_LAUNCH("nms_corners");
  nms_keys<<<grid_for(segments * npad), k_threads, 0, st>>>(scores.raw(), scores.dtype(), keys, segments, n, npad,
                                                             p.by_score, p.score_th);
  KILN_CUDA_LAUNCH("nms_keys");
  det::sort_segments_desc(keys, segments, npad, st);
  KILN_CUDA(cudaMemsetAsync(removed, 0, static_cast<size_t>(segments * npad), st));
  const unsigned blocks = static_cast<unsigned>(std::min<int64_t>(segments, int64_t{1} << 20));
  nms_greedy<<<blocks, k_threads, 0, st>>>(keys, corners, removed, selected, counts, segments, nc, n, npad, cap, p.iou);
  KILN_CUDA_LAUNCH("nms_greedy");
  nms_scan<<<1, k_scan, 0, st>>>(counts, offsets, segments);
  KILN_CUDA_LAUNCH("nms_scan");

  // The row count decides the output shape: read it back.
  auto* total = static_cast<int64_t*>(cs.pinned(sizeof(int64_t)));
  KILN_CUDA(cudaMemcpyAsync(total, offsets + segments, sizeof(int64_t), cudaMemcpyDeviceToHost, st));
  cs.synchronize();
  const int64_t rows = *total;
  Tensor& y = ctx.output(0, DataType::Int64, {rows, 3});
  if (rows == 0) return;
  nms_gather<<<grid_for(segments * cap), k_threads, 0, st>>>(selected, counts, offsets, y.data<int64_t>(), segments,
                                                              nc, cap);
  KILN_CUDA_LAUNCH("nms_gather");
}

std::unique_ptr<Kernel> make_nms(const ir::Node& n, const ir::Graph& g) {
  if (n.inputs.size() < 2 || !det::is_float_or_unknown(g, n.inputs[0]) || !det::is_float_or_unknown(g, n.inputs[1]))
    throw Error(ErrorCode::Unsupported, n.label() + ": NonMaxSuppression on cuda takes float boxes and scores");
  return std::make_unique<FnKernel>(run_nms, /*capturable=*/false);  // syncs to size its output
}

}  // namespace

void register_cuda_detection_nms(KernelRegistry& r) { r.add("NonMaxSuppression", make_nms, "cuda"); }

}  // namespace kiln::backend::cuda
