// NonMaxSuppression and RoiAlign, following the ONNX reference (which follows
// ONNX Runtime): NMS keeps boxes whose score is strictly above
// score_threshold, visits them by descending score (lower index first on ties)
// and drops a box whose IoU with a kept one is strictly above iou_threshold;
// box geometry is computed in float. RoiAlign's max mode takes the max of the
// weighted corner values of each sample, as ONNX Runtime does.
#include <algorithm>
#include <cmath>
#include <vector>

#include "backends/cpu/kernels/detection_kernels.h"
#include "backends/cpu/kernels/families.h"
#include "backends/cpu/kernels/reduce_kernels.h"
#include "backends/detection_params.h"

namespace kiln::backend {

namespace {

struct Corners {
  float x_min, x_max, y_min, y_max;
};

Corners corners(const float* b, bool center) {
  if (center) {  // [x_center, y_center, width, height]
    const float hw = b[2] / 2, hh = b[3] / 2;
    return {b[0] - hw, b[0] + hw, b[1] - hh, b[1] + hh};
  }
  // [y1, x1, y2, x2], either corner order
  return {std::min(b[1], b[3]), std::max(b[1], b[3]), std::min(b[0], b[2]), std::max(b[0], b[2])};
}

bool suppresses(const Corners& a, const Corners& b, float iou_threshold) {
  const float ix_min = std::max(a.x_min, b.x_min), ix_max = std::min(a.x_max, b.x_max);
  if (ix_max <= ix_min) return false;
  const float iy_min = std::max(a.y_min, b.y_min), iy_max = std::min(a.y_max, b.y_max);
  if (iy_max <= iy_min) return false;
  const float inter = (ix_max - ix_min) * (iy_max - iy_min);
  const float area_a = (a.x_max - a.x_min) * (a.y_max - a.y_min);
  const float area_b = (b.x_max - b.x_min) * (b.y_max - b.y_min);
  const float uni = area_a + area_b - inter;
  if (inter <= 0 || area_a <= 0 || area_b <= 0 || uni <= 0) return false;
  return inter / uni > iou_threshold;
}

std::vector<float> as_floats(const Tensor& t) {
  std::vector<float> v(static_cast<size_t>(t.numel()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(read_double(t, static_cast<int64_t>(i)));
  return v;
}

void run_nms(KernelContext& ctx) {
  const Tensor& boxes = ctx.input(0);
  const Tensor& scores = ctx.input(1);
  const params::NmsParams p = params::nms_params(ctx);
  const int64_t max_out = p.max_out;
  const float iou = p.iou, score_th = p.score_th;
  const bool by_score = p.by_score, center = p.center;
  const int64_t nb = p.batches, nc = p.classes, n = p.boxes;
  const std::vector<float> bx = as_floats(boxes), sc = as_floats(scores);

  std::vector<int64_t> selected;  // (batch, class, box) triples
  std::vector<Corners> cs(static_cast<size_t>(n));
  std::vector<int64_t> cand, kept;
  for (int64_t b = 0; b < nb; ++b) {
    for (int64_t i = 0; i < n; ++i) cs[static_cast<size_t>(i)] = corners(&bx[static_cast<size_t>((b * n + i) * 4)], center);
    for (int64_t c = 0; c < nc && max_out > 0; ++c) {
      const float* s = &sc[static_cast<size_t>((b * nc + c) * n)];
      cand.clear();
      for (int64_t i = 0; i < n; ++i)
        if (!by_score || s[i] > score_th) cand.push_back(i);
      std::stable_sort(cand.begin(), cand.end(), [&](int64_t x, int64_t y) { return s[x] > s[y]; });
      kept.clear();
      for (int64_t i : cand) {
        if (static_cast<int64_t>(kept.size()) >= max_out) break;
        bool keep = true;
        for (int64_t k : kept)
          if (suppresses(cs[static_cast<size_t>(i)], cs[static_cast<size_t>(k)], iou)) {
            keep = false;
            break;
          }
        if (!keep) continue;
        kept.push_back(i);
        selected.insert(selected.end(), {b, c, i});
      }
    }
  }
  Tensor& y = ctx.output(0, DataType::Int64, {static_cast<int64_t>(selected.size() / 3), 3});
  std::copy(selected.begin(), selected.end(), y.data<int64_t>());
}

struct Sample {
  int64_t pos[4] = {0, 0, 0, 0};
  double w[4] = {0, 0, 0, 0};
};

// The bilinear sample at (y, x) of an h x w map; all-zero weights outside it.
Sample bilinear_sample(double y, double x, int64_t h, int64_t w) {
  Sample s;
  if (y < -1.0 || y > static_cast<double>(h) || x < -1.0 || x > static_cast<double>(w)) return s;
  y = std::max(y, 0.0);
  x = std::max(x, 0.0);
  auto y_lo = static_cast<int64_t>(y), x_lo = static_cast<int64_t>(x);
  int64_t y_hi = y_lo + 1, x_hi = x_lo + 1;
  if (y_lo >= h - 1) y = static_cast<double>(y_hi = y_lo = h - 1);
  if (x_lo >= w - 1) x = static_cast<double>(x_hi = x_lo = w - 1);
  const double ly = y - static_cast<double>(y_lo), lx = x - static_cast<double>(x_lo);
  const double hy = 1 - ly, hx = 1 - lx;
  s.pos[0] = y_lo * w + x_lo;
  s.pos[1] = y_lo * w + x_hi;
  s.pos[2] = y_hi * w + x_lo;
  s.pos[3] = y_hi * w + x_hi;
  s.w[0] = hy * hx;
  s.w[1] = hy * lx;
  s.w[2] = ly * hx;
  s.w[3] = ly * lx;
  return s;
}

void run_roi_align(KernelContext& ctx) {
  const ir::Node& node = ctx.node();
  const Tensor& x = ctx.input(0);
  const Tensor& rois = ctx.input(1);
  const Tensor& idx = ctx.input(2);
  const params::RoiAlignParams a = params::roi_align_params(ctx);
  const int64_t nr = a.rois, ch = a.channels, h = a.h, w = a.w, ph = a.ph, pw = a.pw, ratio = a.ratio;
  const double scale = a.scale;
  const bool max_mode = a.max_mode, half_pixel = a.half_pixel;
  Tensor& y = ctx.output(0, x.dtype(), {nr, ch, ph, pw});
  dispatch_float(x.dtype(), node.label(), [&](auto tag) {
    using T = decltype(tag);
    const T* in = x.data<T>();
    T* out = y.data<T>();
    std::vector<Sample> samples;
    for (int64_t r = 0; r < nr; ++r) {
      const int64_t b = read_int(idx, r);
      if (b < 0 || b >= x.shape()[0])
        ctx.fail("batch index " + std::to_string(b) + " of roi " + std::to_string(r) + " is outside [0, " +
                 std::to_string(x.shape()[0]) + ")");
      const double off = half_pixel ? 0.5 : 0.0;
      const double sw = read_double(rois, r * 4) * scale - off, sh = read_double(rois, r * 4 + 1) * scale - off;
      double rw = read_double(rois, r * 4 + 2) * scale - off - sw, rh = read_double(rois, r * 4 + 3) * scale - off - sh;
      if (!half_pixel) {  // malformed rois become 1x1
        rw = std::max(rw, 1.0);
        rh = std::max(rh, 1.0);
      }
      const double bin_h = rh / static_cast<double>(ph), bin_w = rw / static_cast<double>(pw);
      const auto gh = ratio > 0 ? ratio : static_cast<int64_t>(std::ceil(rh / static_cast<double>(ph)));
      const auto gw = ratio > 0 ? ratio : static_cast<int64_t>(std::ceil(rw / static_cast<double>(pw)));
      const double count = static_cast<double>(std::max<int64_t>(gh * gw, 1));
      const int64_t ny = std::max<int64_t>(gh, 0), nx = std::max<int64_t>(gw, 0);
      samples.clear();
      for (int64_t py = 0; py < ph; ++py)
        for (int64_t px = 0; px < pw; ++px)
          for (int64_t iy = 0; iy < ny; ++iy)
            for (int64_t ix = 0; ix < nx; ++ix)
              samples.push_back(bilinear_sample(
                  sh + static_cast<double>(py) * bin_h + (static_cast<double>(iy) + 0.5) * bin_h / static_cast<double>(gh),
                  sw + static_cast<double>(px) * bin_w + (static_cast<double>(ix) + 0.5) * bin_w / static_cast<double>(gw),
                  h, w));
      for (int64_t c = 0; c < ch; ++c) {
        const T* plane = in + (b * ch + c) * h * w;
        const Sample* s = samples.data();
        for (int64_t o = 0; o < ph * pw; ++o) {
          double v = 0;
          for (int64_t k = 0; k < ny * nx; ++k, ++s) {
            if (max_mode) {
              double m = s->w[0] * static_cast<double>(plane[s->pos[0]]);
              for (int q = 1; q < 4; ++q) m = std::max(m, s->w[q] * static_cast<double>(plane[s->pos[q]]));
              v = k == 0 ? m : std::max(v, m);
            } else {
              for (int q = 0; q < 4; ++q) v += s->w[q] * static_cast<double>(plane[s->pos[q]]);
            }
          }
          if (!max_mode) v /= count;
          out[((r * ch + c) * ph) * pw + o] = T(static_cast<reduce::Calc<T>>(v));
        }
      }
    }
  });
}

}  // namespace

void register_cpu_detection(KernelRegistry& r) {
  r.add_fn("NonMaxSuppression", run_nms);
  r.add_fn("RoiAlign", run_roi_align);
  register_cpu_grid_sample(r);
}

}  // namespace kiln::backend
