// NonMaxSuppression against a brute-force greedy selection (IoU in double,
// boxes kept well away from the thresholds) plus hand cases at the
// boundaries; RoiAlign on ramps whose bilinear samples are hand-computable and
// against a direct per-sample reference; GridSample on identity grids, hand
// cases per padding mode, and errors.
#include <algorithm>
#include <cmath>

#include "reduce_test_util.h"

namespace kiln::test {
namespace {

using rq::expect_close;
using rq::expect_ints;

// ---- NonMaxSuppression ----

double area(const float* r) { return static_cast<double>(r[2] - r[0]) * (r[3] - r[1]); }

double iou(const float* a, const float* b) {  // [y1, x1, y2, x2] with y1 < y2, x1 < x2
  const double ih = std::max(0.0, static_cast<double>(std::min(a[2], b[2])) - std::max(a[0], b[0]));
  const double iw = std::max(0.0, static_cast<double>(std::min(a[3], b[3])) - std::max(a[1], b[1]));
  const double inter = ih * iw;
  return inter / (area(a) + area(b) - inter);
}

std::vector<int64_t> ref_nms(const std::vector<float>& boxes, const std::vector<float>& scores, int64_t nb,
                             int64_t nc, int64_t n, int64_t max_out, double iou_th, double score_th) {
  std::vector<int64_t> out;
  for (int64_t b = 0; b < nb; ++b)
    for (int64_t c = 0; c < nc; ++c) {
      const float* s = &scores[static_cast<size_t>((b * nc + c) * n)];
      std::vector<bool> used(static_cast<size_t>(n), false);
      std::vector<int64_t> kept;
      while (static_cast<int64_t>(kept.size()) < max_out) {
        int64_t best = -1;  // highest remaining score above the threshold, lowest index on ties
        for (int64_t i = 0; i < n; ++i)
          if (!used[static_cast<size_t>(i)] && s[i] > score_th && (best < 0 || s[i] > s[best])) best = i;
        if (best < 0) break;
        used[static_cast<size_t>(best)] = true;
        bool ok = true;
        for (int64_t k : kept)
          ok = ok && iou(&boxes[static_cast<size_t>((b * n + best) * 4)], &boxes[static_cast<size_t>((b * n + k) * 4)]) <=
                         iou_th;
        if (ok) {
          kept.push_back(best);
          out.insert(out.end(), {b, c, best});
        }
      }
    }
  return out;
}

TEST(Detection, NonMaxSuppressionMatchesGreedyReference) {
  const int64_t nb = 2, nc = 3, n = 12;
  // Boxes on a coarse grid of corners so IoUs land away from the thresholds.
  std::vector<float> boxes;
  const std::vector<float> r = rq::rnd(nb * n * 4, 21, 0.f, 6.f);
  for (int64_t i = 0; i < nb * n; ++i) {
    const float y = std::round(r[static_cast<size_t>(i * 4)]), x = std::round(r[static_cast<size_t>(i * 4 + 1)]);
    boxes.insert(boxes.end(), {y, x, y + 1 + std::round(r[static_cast<size_t>(i * 4 + 2)] / 2),
                               x + 1 + std::round(r[static_cast<size_t>(i * 4 + 3)] / 2)});
  }
  const std::vector<float> scores = rq::rnd(nb * nc * n, 22, 0.f, 1.f);
  for (int64_t max_out : {1, 3, 100})
    for (float iou_th : {0.21f, 0.55f})
      for (float score_th : {-1.f, 0.43f}) {
        const std::vector<int64_t> want = ref_nms(boxes, scores, nb, nc, n, max_out, iou_th, score_th);
        NodeSpec spec{"NonMaxSuppression", {f32({nb, n, 4}, boxes), f32({nb, nc, n}, scores), i64({1}, {max_out}),
                                            f32({1}, {iou_th})}, {}, 1, 11};
        if (score_th >= 0) spec.inputs.push_back(f32({1}, {score_th}));
        const std::string what = "max " + std::to_string(max_out) + " iou " + std::to_string(iou_th) + " score " +
                                 std::to_string(score_th);
        expect_ints(run_node(spec)[0], {static_cast<int64_t>(want.size() / 3), 3}, want, what);
        // The same boxes as [x_center, y_center, width, height].
        std::vector<float> centered;
        for (size_t i = 0; i < boxes.size(); i += 4)
          centered.insert(centered.end(), {(boxes[i + 1] + boxes[i + 3]) / 2, (boxes[i] + boxes[i + 2]) / 2,
                                           boxes[i + 3] - boxes[i + 1], boxes[i + 2] - boxes[i]});
        spec.inputs[0] = f32({nb, n, 4}, centered);
        spec.attrs["center_point_box"] = attr_i(1);
        expect_ints(run_node(spec)[0], {static_cast<int64_t>(want.size() / 3), 3}, want, what + " centered");
      }
}

TEST(Detection, NonMaxSuppressionBoundaries) {
  // Box 1 overlaps box 0 with IoU exactly 0.5 (area 1 inside area 2): kept at threshold 0.5, dropped below.
  const Tensor boxes = f32({1, 3, 4}, {0, 0, 1, 1, 0, 0, 2, 1, 5, 5, 6, 6});
  const Tensor scores = f32({1, 1, 3}, {0.9f, 0.8f, 0.5f});
  auto run = [&](float iou_th, float score_th, int64_t max_out) {
    return run_node({"NonMaxSuppression", {boxes, scores, i64({1}, {max_out}), f32({1}, {iou_th}),
                                           f32({1}, {score_th})}, {}, 1, 11})[0];
  };
  expect_ints(run(0.5f, 0.f, 10), {3, 3}, {0, 0, 0, 0, 0, 1, 0, 0, 2});
  expect_ints(run(0.49f, 0.f, 10), {2, 3}, {0, 0, 0, 0, 0, 2});
  expect_ints(run(0.5f, 0.5f, 10), {2, 3}, {0, 0, 0, 0, 0, 1});  // a score equal to the threshold is dropped
  expect_ints(run(0.5f, 0.f, 1), {1, 3}, {0, 0, 0});
  // Flipped corners describe the same boxes.
  const Tensor flipped = f32({1, 3, 4}, {1, 1, 0, 0, 2, 0, 0, 1, 6, 6, 5, 5});
  expect_ints(run_node({"NonMaxSuppression", {flipped, scores, i64({1}, {10}), f32({1}, {0.49f})}, {}, 1, 11})[0],
              {2, 3}, {0, 0, 0, 0, 0, 2});
  // Equal scores: the lower index goes first; identical boxes suppress each other.
  const Tensor same = f32({1, 3, 4}, {0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1});
  expect_ints(run_node({"NonMaxSuppression", {same, f32({1, 1, 3}, {0.7f, 0.9f, 0.9f}), i64({1}, {3})}, {}, 1, 11})[0],
              {1, 3}, {0, 0, 1});
  // Without max_output_boxes_per_class nothing is selected.
  EXPECT_EQ(run_node({"NonMaxSuppression", {boxes, scores}, {}, 1, 11})[0].shape(), (Shape{0, 3}));
  // Inference gives a data-dependent row count.
  const auto inf = infer_only("NonMaxSuppression", {{DataType::Float32, ir::SymShape{1, 3, 4}},
                                                        {DataType::Float32, ir::SymShape{1, 2, 3}}});
  ASSERT_TRUE(inf[0].shape);
  EXPECT_FALSE((*inf[0].shape)[0].known());
  EXPECT_EQ((*inf[0].shape)[1], ir::Dim(3));
  expect_error([&] { run_node({"NonMaxSuppression", {boxes, f32({1, 1, 2}, {1, 2})}, {}, 1, 11}); },
               ErrorCode::InvalidModel, "box count");
  expect_error([&] { run_node({"NonMaxSuppression", {boxes, scores}, {{"center_point_box", attr_i(2)}}, 1, 11}); },
               ErrorCode::InvalidModel, "center_point_box");
}

// ---- RoiAlign ----

// X[y][x] = x on an h x w map (one channel).
Tensor ramp(int64_t h, int64_t w) {
  std::vector<float> v;
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) v.push_back(static_cast<float>(x));
  return f32({1, 1, h, w}, v);
}

TEST(Detection, RoiAlignAverageOnRamp) {
  const Tensor x = ramp(6, 6);
  const Tensor rois = f32({1, 4}, {0, 0, 4, 4});  // x1, y1, x2, y2
  const Tensor idx = i64({1}, {0});
  std::map<std::string, ir::Attribute> attrs{{"output_height", attr_i(2)}, {"output_width", attr_i(2)},
                                             {"sampling_ratio", attr_i(2)},
                                             {"coordinate_transformation_mode", attr_s("output_half_pixel")}};
  // Bins of width 2 sample x at 0.5, 1.5 and 2.5, 3.5: means 1 and 3 on every row.
  expect_close(run_node({"RoiAlign", {x, rois, idx}, attrs, 1, 16})[0], {1, 1, 2, 2}, {1, 3, 1, 3}, 1e-6);
  // Opset 10 has no coordinate_transformation_mode and reads as output_half_pixel.
  attrs.erase("coordinate_transformation_mode");
  expect_close(run_node({"RoiAlign", {x, rois, idx}, attrs, 1, 10})[0], {1, 1, 2, 2}, {1, 3, 1, 3}, 1e-6);
  // half_pixel (the default from 16) shifts by -0.5: samples at 0 (clamped), 1 and 2, 3.
  expect_close(run_node({"RoiAlign", {x, rois, idx}, attrs, 1, 16})[0], {1, 1, 2, 2}, {0.5, 2.5, 0.5, 2.5}, 1e-6);
  // spatial_scale maps roi coordinates onto the map.
  attrs["spatial_scale"] = attr_f(0.5f);
  expect_close(run_node({"RoiAlign", {x, f32({1, 4}, {0, 0, 8, 8}), idx}, attrs, 1, 10})[0], {1, 1, 2, 2},
               {1, 3, 1, 3}, 1e-6);
}

// Bilinear value at (y, x) with RoiAlign's edge rules.
double roi_sample(const std::vector<float>& p, int64_t h, int64_t w, double y, double x, bool weighted_max) {
  if (y < -1 || y > static_cast<double>(h) || x < -1 || x > static_cast<double>(w)) return 0;
  y = std::min(std::max(y, 0.0), static_cast<double>(h - 1));
  x = std::min(std::max(x, 0.0), static_cast<double>(w - 1));
  const auto y0 = static_cast<int64_t>(y), x0 = static_cast<int64_t>(x);
  const int64_t y1 = std::min(y0 + 1, h - 1), x1 = std::min(x0 + 1, w - 1);
  const double ly = y - static_cast<double>(y0), lx = x - static_cast<double>(x0);
  const double v[4] = {(1 - ly) * (1 - lx) * p[static_cast<size_t>(y0 * w + x0)],
                       (1 - ly) * lx * p[static_cast<size_t>(y0 * w + x1)],
                       ly * (1 - lx) * p[static_cast<size_t>(y1 * w + x0)], ly * lx * p[static_cast<size_t>(y1 * w + x1)]};
  return weighted_max ? *std::max_element(v, v + 4) : v[0] + v[1] + v[2] + v[3];
}

TEST(Detection, RoiAlignMatchesReference) {
  const int64_t n = 2, c = 2, h = 7, w = 5, ph = 3, pw = 2;
  const std::vector<float> xv = rq::rnd(n * c * h * w, 31, -1.f, 1.f);
  const std::vector<float> rv = {0.3f, 0.7f, 3.9f, 5.2f, -1.5f, 2.f, 6.f, 8.f, 1.f, 1.f, 1.2f, 1.1f};
  const std::vector<int64_t> bi = {1, 0, 1};
  for (const char* mode : {"avg", "max"})
    for (const char* ctm : {"half_pixel", "output_half_pixel"})
      for (int64_t ratio : {0, 2}) {
        std::vector<double> want;
        const bool half = std::string(ctm) == "half_pixel";
        for (size_t r = 0; r < 3; ++r) {
          const double off = half ? 0.5 : 0;
          const double x1 = rv[r * 4] - off, y1 = rv[r * 4 + 1] - off;
          double rw = rv[r * 4 + 2] - off - x1, rh = rv[r * 4 + 3] - off - y1;
          if (!half) rw = std::max(rw, 1.0), rh = std::max(rh, 1.0);
          const auto gh = ratio ? ratio : static_cast<int64_t>(std::ceil(rh / ph));
          const auto gw = ratio ? ratio : static_cast<int64_t>(std::ceil(rw / pw));
          for (int64_t ch = 0; ch < c; ++ch) {
            const std::vector<float> plane(xv.begin() + (bi[r] * c + ch) * h * w,
                                           xv.begin() + (bi[r] * c + ch + 1) * h * w);
            for (int64_t py = 0; py < ph; ++py)
              for (int64_t px = 0; px < pw; ++px) {
                double acc = 0;
                bool first = true;
                for (int64_t iy = 0; iy < gh; ++iy)
                  for (int64_t ix = 0; ix < gw; ++ix) {
                    const double y = y1 + (py + (iy + 0.5) / gh) * rh / ph, x = x1 + (px + (ix + 0.5) / gw) * rw / pw;
                    const double s = roi_sample(plane, h, w, y, x, std::string(mode) == "max");
                    acc = std::string(mode) == "max" ? (first ? s : std::max(acc, s)) : acc + s;
                    first = false;
                  }
                want.push_back(std::string(mode) == "max" ? acc : acc / static_cast<double>(std::max<int64_t>(gh * gw, 1)));
              }
          }
        }
        const std::string what = std::string(mode) + " " + ctm + " ratio " + std::to_string(ratio);
        expect_close(run_node({"RoiAlign", {f32({n, c, h, w}, xv), f32({3, 4}, rv), i64({3}, bi)},
                               {{"mode", attr_s(mode)}, {"coordinate_transformation_mode", attr_s(ctm)},
                                {"output_height", attr_i(ph)}, {"output_width", attr_i(pw)},
                                {"sampling_ratio", attr_i(ratio)}}, 1, 22})[0],
                     {3, c, ph, pw}, want, 1e-5, what);
      }
  expect_error([&] { run_node({"RoiAlign", {f32({1, 1, 2, 2}, {1, 2, 3, 4}), f32({1, 4}, {0, 0, 1, 1}), i64({1}, {1})},
                               {}, 1, 16}); },
               ErrorCode::InvalidArgument, "batch index");
  expect_error([&] { run_node({"RoiAlign", {f32({1, 1, 2, 2}, {1, 2, 3, 4}), f32({1, 4}, {0, 0, 1, 1}), i64({1}, {0})},
                               {{"mode", attr_s("median")}}, 1, 16}); },
               ErrorCode::InvalidModel, "mode");
}

// ---- GridSample ----

// The grid of pixel positions of an h x w map, normalized for align_corners.
Tensor identity_grid(int64_t h, int64_t w, bool align) {
  std::vector<float> g;
  auto norm = [&](int64_t i, int64_t n) {
    return align ? (n == 1 ? 0.f : 2.f * static_cast<float>(i) / static_cast<float>(n - 1) - 1.f)
                 : (2.f * static_cast<float>(i) + 1.f) / static_cast<float>(n) - 1.f;
  };
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) g.insert(g.end(), {norm(x, w), norm(y, h)});
  return f32({1, h, w, 2}, g);
}

TEST(Detection, GridSampleIdentityAndPadding) {
  const std::vector<float> xv = {1, 2, 3, 4, 5, 6};
  const Tensor x = f32({1, 1, 2, 3}, xv);
  const std::vector<double> xd(xv.begin(), xv.end());
  for (int align = 0; align < 2; ++align)
    for (const char* mode : {"linear", "nearest", "cubic"})
      expect_close(run_node({"GridSample", {x, identity_grid(2, 3, align)},
                             {{"mode", attr_s(mode)}, {"align_corners", attr_i(align)}}, 1, 20})[0],
                   {1, 1, 2, 3}, xd, 1e-5, std::string(mode) + " align " + std::to_string(align));
  // Opset 16 spells the modes bilinear/bicubic.
  expect_close(run_node({"GridSample", {x, identity_grid(2, 3, false)}, {{"mode", attr_s("bicubic")}}, 1, 16})[0],
               {1, 1, 2, 3}, xd, 1e-5, "bicubic at 16");
  // One point per padding mode, align_corners=1 on row 0 (values 1 2 3): x = 1.5 -> 2.5 in pixels.
  const Tensor far = f32({1, 1, 3, 2}, {1.5f, -1, -3, -1, 0.25f, -1});
  auto sample = [&](const char* pad, const char* mode) {
    return run_node({"GridSample", {x, far}, {{"padding_mode", attr_s(pad)}, {"mode", attr_s(mode)},
                                              {"align_corners", attr_i(1)}}, 1, 20})[0];
  };
  // zeros: 2.5 is half outside (0.5 * 3 + 0.5 * 0); -3 -> -2 pixels is outside; 0.25 -> 1.25 pixels.
  expect_close(sample("zeros", "linear"), {1, 1, 1, 3}, {1.5, 0, 2.25}, 1e-6, "zeros");
  // border: clamped to 2 and 0.
  expect_close(sample("border", "linear"), {1, 1, 1, 3}, {3, 1, 2.25}, 1e-6, "border");
  // reflection off [0, 2]: 2.5 -> 1.5, -2 -> 2.
  expect_close(sample("reflection", "linear"), {1, 1, 1, 3}, {2.5, 3, 2.25}, 1e-6, "reflection");
  // nearest rounds half to even: 2.5 -> 2 (value 3), 1.25 -> 1.
  expect_close(sample("zeros", "nearest"), {1, 1, 1, 3}, {3, 0, 2}, 1e-6, "nearest");
}

TEST(Detection, GridSampleVolumetric) {
  const std::vector<float> xv = rq::rnd(2 * 3 * 4 * 2, 41);
  const Tensor x = f32({1, 2, 3, 4, 2}, xv);
  std::vector<float> g;  // identity grid over D=3, H=4, W=2 with align_corners=1: components (x, y, z)
  for (int64_t z = 0; z < 3; ++z)
    for (int64_t y = 0; y < 4; ++y)
      for (int64_t xx = 0; xx < 2; ++xx)
        g.insert(g.end(), {static_cast<float>(xx) * 2.f - 1.f, static_cast<float>(y) * 2.f / 3.f - 1.f,
                           static_cast<float>(z) - 1.f});
  const std::vector<double> xd(xv.begin(), xv.end());
  for (const char* mode : {"linear", "nearest"})
    expect_close(run_node({"GridSample", {x, f32({1, 3, 4, 2, 3}, g)},
                           {{"mode", attr_s(mode)}, {"align_corners", attr_i(1)}}, 1, 20})[0],
                 {1, 2, 3, 4, 2}, xd, 1e-5, mode);
  // Midway between z = 0 and z = 1 at (y, x) = (0, 0): the mean of the two voxels.
  const Tensor mid = run_node({"GridSample", {x, f32({1, 1, 1, 1, 3}, {-1, -1, -0.5f})}, {{"align_corners", attr_i(1)}},
                               1, 20})[0];
  expect_close(mid, {1, 2, 1, 1, 1}, {(xd[0] + xd[8]) / 2, (xd[24] + xd[32]) / 2}, 1e-6, "midpoint");
}

TEST(Detection, GridSampleErrors) {
  const Tensor x = f32({1, 1, 2, 2}, {1, 2, 3, 4});
  const Tensor g = f32({1, 1, 1, 2}, {0, 0});
  expect_error([&] { run_node({"GridSample", {x, g}, {{"mode", attr_s("linear")}}, 1, 16}); },
               ErrorCode::InvalidModel, "mode");
  expect_error([&] { run_node({"GridSample", {x, g}, {{"mode", attr_s("bilinear")}}, 1, 20}); },
               ErrorCode::InvalidModel, "mode");
  expect_error([&] { run_node({"GridSample", {x, g}, {{"padding_mode", attr_s("wrap")}}, 1, 20}); },
               ErrorCode::InvalidModel, "padding_mode");
  expect_error([&] { run_node({"GridSample", {x, f32({1, 1, 1, 3}, {0, 0, 0})}, {}, 1, 20}); },
               ErrorCode::InvalidModel, "last dim");
  expect_error([&] {
    run_node({"GridSample", {f32({1, 1, 1, 1, 1}, {1}), f32({1, 1, 1, 1, 3}, {0, 0, 0})}, {{"mode", attr_s("cubic")}},
              1, 20});
  }, ErrorCode::InvalidModel, "cubic");
}

}  // namespace
}  // namespace kiln::test
