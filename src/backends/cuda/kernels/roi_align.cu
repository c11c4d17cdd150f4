// RoiAlign on CUDA, mirroring backends/cpu/kernels/detection.cpp: one
// thread per output element (roi, channel, bin) walks the bin's grid of
// bilinear samples in the CPU's order and arithmetic (double, uncontracted).
// Max mode takes the max of the weighted corner values of each sample, as
// ONNX Runtime does. A batch index outside X (the CPU fails the run) gives
// zeros for that roi here: reporting it would need a sync.
#include "backends/cuda/kernels/detection_common.cuh"
#include "backends/detection_params.h"

namespace kiln::backend::cuda {

namespace {

using det::dadd;
using det::ddiv;
using det::dmul;
using det::dsub;

struct RoiArgs : params::RoiAlignParams {
  DataType rois_dtype = DataType::Float32;
};

struct Sample {
  int64_t pos[4] = {0, 0, 0, 0};
  double w[4] = {0, 0, 0, 0};
};

// The bilinear sample at (y, x) of an h x w map; all-zero weights outside it.
__device__ inline Sample bilinear_sample(double y, double x, int64_t h, int64_t w) {
  Sample s;
  if (y < -1.0 || y > static_cast<double>(h) || x < -1.0 || x > static_cast<double>(w)) return s;
  y = det::std_max(y, 0.0);
  x = det::std_max(x, 0.0);
  auto y_lo = static_cast<int64_t>(y), x_lo = static_cast<int64_t>(x);
  int64_t y_hi = y_lo + 1, x_hi = x_lo + 1;
  if (y_lo >= h - 1) y = static_cast<double>(y_hi = y_lo = h - 1);
  if (x_lo >= w - 1) x = static_cast<double>(x_hi = x_lo = w - 1);
  const double ly = dsub(y, static_cast<double>(y_lo)), lx = dsub(x, static_cast<double>(x_lo));
  const double hy = dsub(1, ly), hx = dsub(1, lx);
  s.pos[0] = y_lo * w + x_lo;
  s.pos[1] = y_lo * w + x_hi;
  s.pos[2] = y_hi * w + x_lo;
  s.pos[3] = y_hi * w + x_hi;
  s.w[0] = dmul(hy, hx);
  s.w[1] = dmul(hy, lx);
  s.w[2] = dmul(ly, hx);
  s.w[3] = dmul(ly, lx);
  return s;
}

template <typename T>
__global__ void roi_align_kernel(const T* x, const void* rois, const int64_t* batch_idx, T* y, RoiArgs a) {
  KILN_GRID_STRIDE(i, a.rois * a.channels * a.ph * a.pw) {
    const int64_t px = i % a.pw, py = (i / a.pw) % a.ph;
    const int64_t c = (i / (a.pw * a.ph)) % a.channels, r = i / (a.pw * a.ph * a.channels);
    const int64_t b = batch_idx[r];
    if (b < 0 || b >= a.batch) {
      y[i] = store<T>(static_cast<Acc<T>>(0.0));
      continue;
    }
    const double off = a.half_pixel ? 0.5 : 0.0;
    const double sw = dsub(dmul(det::read_float(rois, a.rois_dtype, r * 4), a.scale), off);
    const double sh = dsub(dmul(det::read_float(rois, a.rois_dtype, r * 4 + 1), a.scale), off);
    double rw = dsub(dsub(dmul(det::read_float(rois, a.rois_dtype, r * 4 + 2), a.scale), off), sw);
    double rh = dsub(dsub(dmul(det::read_float(rois, a.rois_dtype, r * 4 + 3), a.scale), off), sh);
    if (!a.half_pixel) {  // malformed rois become 1x1
      rw = det::std_max(rw, 1.0);
      rh = det::std_max(rh, 1.0);
    }
    const double ph = static_cast<double>(a.ph), pw = static_cast<double>(a.pw);
    const double bin_h = ddiv(rh, ph), bin_w = ddiv(rw, pw);
    const int64_t gh = a.ratio > 0 ? a.ratio : static_cast<int64_t>(ceil(ddiv(rh, ph)));
    const int64_t gw = a.ratio > 0 ? a.ratio : static_cast<int64_t>(ceil(ddiv(rw, pw)));
    const double count = static_cast<double>(det::std_max<int64_t>(gh * gw, 1));
    const int64_t ny = det::std_max<int64_t>(gh, 0), nx = det::std_max<int64_t>(gw, 0);
    const T* plane = x + (b * a.channels + c) * a.h * a.w;
    const double y0 = dadd(sh, dmul(static_cast<double>(py), bin_h));
    const double x0 = dadd(sw, dmul(static_cast<double>(px), bin_w));
    double v = 0;
    int64_t k = 0;
    for (int64_t iy = 0; iy < ny; ++iy) {
      const double sy = dadd(y0, ddiv(dmul(dadd(static_cast<double>(iy), 0.5), bin_h), static_cast<double>(gh)));
      for (int64_t ix = 0; ix < nx; ++ix, ++k) {
        const double sx = dadd(x0, ddiv(dmul(dadd(static_cast<double>(ix), 0.5), bin_w), static_cast<double>(gw)));
        const Sample s = bilinear_sample(sy, sx, a.h, a.w);
        if (a.max_mode) {
          double m = dmul(s.w[0], static_cast<double>(load(plane[s.pos[0]])));
          for (int q = 1; q < 4; ++q) m = det::std_max(m, dmul(s.w[q], static_cast<double>(load(plane[s.pos[q]]))));
          v = k == 0 ? m : det::std_max(v, m);
        } else {
          for (int q = 0; q < 4; ++q) v = dadd(v, dmul(s.w[q], static_cast<double>(load(plane[s.pos[q]]))));
        }
      }
    }
    if (!a.max_mode) v = ddiv(v, count);
    y[i] = store<T>(static_cast<Acc<T>>(v));
  }
}

void run_roi_align(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& rois = ctx.input(1);
  const Tensor& idx = ctx.input(2);
  RoiArgs a;
  static_cast<params::RoiAlignParams&>(a) = params::roi_align_params(ctx);
  if (idx.dtype() != DataType::Int64) ctx.fail("batch_indices must be int64");
  a.rois_dtype = rois.dtype();
  Tensor& y = ctx.output(0, x.dtype(), {a.rois, a.channels, a.ph, a.pw});
  if (y.numel() == 0) return;
  dispatch_float(x.dtype(), ctx, [&](auto tag) {
    using T = decltype(tag);
    roi_align_kernel<T><<<grid_for(y.numel()), k_threads, 0, cuda_stream(ctx).get()>>>(
        static_cast<const T*>(x.raw()), rois.raw(), static_cast<const int64_t*>(idx.raw()), static_cast<T*>(y.raw()), a);
    KILN_CUDA_LAUNCH("roi_align_kernel");
  });
}

std::unique_ptr<Kernel> make_roi_align(const ir::Node& n, const ir::Graph& g) {
  if (n.inputs.size() < 3 || !det::is_float_or_unknown(g, n.inputs[0]) || !det::is_float_or_unknown(g, n.inputs[1]) ||
      !dtype_in(g, n.inputs[2], {DataType::Int64}))
    throw Error(ErrorCode::Unsupported, n.label() + ": RoiAlign on cuda takes float X and rois, int64 batch_indices");
  return std::make_unique<FnKernel>(run_roi_align);
}

}  // namespace

void register_cuda_detection_roi_align(KernelRegistry& r) { r.add("RoiAlign", make_roi_align, "cuda"); }

}  // namespace kiln::backend::cuda
