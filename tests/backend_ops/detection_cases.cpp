// Consistency cases of the CUDA detection family (see backend_ops.h):
// Resize/Upsample, GridSample, RoiAlign, NonMaxSuppression.
#include <cmath>

#include "backend_ops.h"

namespace kiln::test::ops {

namespace {

using Attrs = std::map<std::string, ir::Attribute>;

Tensor none() { return Tensor(); }
Tensor vec_f32(std::vector<float> v) {
  const auto n = static_cast<int64_t>(v.size());
  return f32({n}, std::move(v));
}
Tensor vec_i64(std::vector<int64_t> v) {
  const auto n = static_cast<int64_t>(v.size());
  return i64({n}, std::move(v));
}

// A small deterministic generator for structured inputs (boxes).
struct Lcg {
  uint32_t s;
  float next(float lo, float hi) {
    s = s * 1664525u + 1013904223u;
    return lo + (hi - lo) * static_cast<float>(s >> 8) / static_cast<float>(1u << 24);
  }
};

// ---- Resize / Upsample ----

OpCase resize(std::string name, Tensor x, Tensor roi, Tensor scales, Tensor sizes, Attrs attrs, double tol = 1e-5,
              int64_t opset = 19) {
  OpCase c;
  c.name = "Resize " + name;
  c.op = "Resize";
  c.inputs = {std::move(x), std::move(roi), std::move(scales), std::move(sizes)};
  c.attrs = std::move(attrs);
  c.opset = opset;
  c.tol = tol;
  return c;
}

void resize_cases(std::vector<OpCase>& out) {
  const Tensor x = rand_f32({2, 3, 5, 7}, 11);
  const Tensor up = vec_i64({2, 3, 8, 11}), down = vec_i64({2, 3, 3, 4});
  const char* coords[] = {"half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel", "half_pixel_symmetric"};
  // Nearest: every nearest_mode x coordinate mode, up and down.
  for (const char* nm : {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"})
    for (const char* cm : coords)
      for (bool is_up : {true, false})
        out.push_back(resize(std::string("nearest ") + nm + " " + cm + (is_up ? " up" : " down"), x, none(), none(),
                             is_up ? up : down,
                             {{"mode", a_str("nearest")}, {"nearest_mode", a_str(nm)},
                              {"coordinate_transformation_mode", a_str(cm)}}));
  // Linear and cubic: every coordinate mode, scales and sizes, up and down.
  for (const char* mode : {"linear", "cubic"})
    for (const char* cm : coords) {
      const double tol = std::string(mode) == "cubic" ? 1e-4 : 1e-5;
      const Attrs a = {{"mode", a_str(mode)}, {"coordinate_transformation_mode", a_str(cm)}};
      out.push_back(resize(std::string(mode) + " " + cm + " scales up", x, none(), vec_f32({1, 1, 1.7f, 2.3f}), none(), a, tol));
      out.push_back(resize(std::string(mode) + " " + cm + " scales down", x, none(), vec_f32({1, 1, 0.6f, 0.45f}), none(), a, tol));
      out.push_back(resize(std::string(mode) + " " + cm + " sizes up", x, none(), none(), up, a, tol));
      out.push_back(resize(std::string(mode) + " " + cm + " sizes down", x, none(), none(), down, a, tol));
    }
  // Cubic variants, antialias, crop and resize.
  out.push_back(resize("cubic a=-0.5 exclude_outside", x, none(), vec_f32({1, 1, 1.5f, 0.7f}), none(),
                       {{"mode", a_str("cubic")}, {"cubic_coeff_a", a_float(-0.5f)}, {"exclude_outside", a_int(1)}}, 1e-4));
  out.push_back(resize("linear antialias down", rand_f32({1, 2, 17, 23}, 12), none(), vec_f32({1, 1, 0.3f, 0.45f}), none(),
                       {{"mode", a_str("linear")}, {"antialias", a_int(1)}}));
  out.push_back(resize("cubic antialias down", rand_f32({1, 2, 17, 23}, 13), none(), none(), vec_i64({1, 2, 6, 5}),
                       {{"mode", a_str("cubic")}, {"antialias", a_int(1)}}, 1e-4));
  out.push_back(resize("linear antialias up", x, none(), vec_f32({1, 1, 2, 1.5f}), none(),
                       {{"mode", a_str("linear")}, {"antialias", a_int(1)}}));
  for (const char* mode : {"nearest", "linear", "cubic"})
    out.push_back(resize(std::string("tf_crop_and_resize ") + mode, x,
                         vec_f32({0, 0, 0.1f, -0.2f, 1, 1, 0.8f, 1.3f}), none(), vec_i64({2, 3, 6, 9}),
                         {{"mode", a_str(mode)}, {"coordinate_transformation_mode", a_str("tf_crop_and_resize")},
                          {"extrapolation_value", a_float(-7.5f)}},
                         std::string(mode) == "cubic" ? 1e-4 : 1e-5));
  // Axes: spatial pair, non-spatial axis alone, unordered, aspect policies.
  out.push_back(resize("axes [2,3] linear", x, none(), vec_f32({1.5f, 0.8f}), none(),
                       {{"mode", a_str("linear")}, {"axes", a_ints({2, 3})}}));
  out.push_back(resize("axes [1] linear channels", x, none(), none(), vec_i64({5}),
                       {{"mode", a_str("linear")}, {"axes", a_ints({1})}}));
  out.push_back(resize("axes [1] nearest channels", x, none(), vec_f32({2}), none(),
                       {{"mode", a_str("nearest")}, {"axes", a_ints({1})}}));
  out.push_back(resize("axes [3,0] cubic", x, none(), none(), vec_i64({9, 3}),
                       {{"mode", a_str("cubic")}, {"axes", a_ints({3, 0})}}, 1e-4));
  out.push_back(resize("axes [-1] linear last only", x, none(), vec_f32({2.5f}), none(),
                       {{"mode", a_str("linear")}, {"axes", a_ints({-1})}}));
  out.push_back(resize("axes [2] nearest rows only", x, none(), vec_f32({3}), none(),
                       {{"mode", a_str("nearest")}, {"axes", a_ints({2})}}));
  for (const char* policy : {"not_larger", "not_smaller"})
    out.push_back(resize(std::string("keep_aspect_ratio ") + policy, x, none(), none(), vec_i64({9, 9}),
                         {{"mode", a_str("linear")}, {"axes", a_ints({2, 3})},
                          {"keep_aspect_ratio_policy", a_str(policy)}}));
  // Ranks other than 4; a 1000+ dim; identity; empty.
  out.push_back(resize("5-D trilinear", rand_f32({1, 2, 3, 4, 5}, 14), none(), vec_f32({1, 1, 2, 1.5f, 0.8f}), none(),
                       {{"mode", a_str("linear")}}));
  out.push_back(resize("5-D nearest", rand_f32({1, 2, 3, 4, 5}, 15), none(), vec_f32({1, 1, 2, 1.5f, 0.8f}), none(),
                       {{"mode", a_str("nearest")}}));
  out.push_back(resize("3-D linear", rand_f32({2, 3, 7}, 16), none(), vec_f32({1, 1, 2.5f}), none(),
                       {{"mode", a_str("linear")}}));
  out.push_back(resize("2-D cubic both dims", rand_f32({5, 6}, 17), none(), none(), vec_i64({9, 4}),
                       {{"mode", a_str("cubic")}}, 1e-4));
  out.push_back(resize("1-D linear", rand_f32({13}, 18), none(), none(), vec_i64({29}), {{"mode", a_str("linear")}}));
  out.push_back(resize("linear rank 4 all axes", x, none(), vec_f32({2, 0.5f, 1.4f, 0.6f}), none(),
                       {{"mode", a_str("linear")}}));
  out.push_back(resize("linear long row", rand_f32({1, 1, 3, 1200}, 19), none(), none(), vec_i64({1, 1, 4, 2001}),
                       {{"mode", a_str("linear")}}));
  out.push_back(resize("nearest big NCHW", rand_f32({2, 16, 33, 41}, 20), none(), vec_f32({1, 1, 2, 2}), none(),
                       {{"mode", a_str("nearest")}, {"coordinate_transformation_mode", a_str("asymmetric")},
                        {"nearest_mode", a_str("floor")}}));
  out.push_back(resize("linear identity scales", x, none(), vec_f32({1, 1, 1, 1}), none(), {{"mode", a_str("linear")}}));
  out.push_back(resize("nearest identity sizes", x, none(), none(), vec_i64({2, 3, 5, 7}), {{"mode", a_str("nearest")}}));
  out.push_back(resize("linear empty batch", rand_f32({0, 3, 4, 4}, 21), none(), vec_f32({1, 1, 2, 2}), none(),
                       {{"mode", a_str("linear")}}));
  // Dtypes.
  out.push_back(resize("linear f16", rand_float(DataType::Float16, {1, 3, 6, 5}, 22), none(), vec_f32({1, 1, 1.5f, 2}),
                       none(), {{"mode", a_str("linear")}}, 2e-3));
  out.push_back(resize("cubic f64", rand_float(DataType::Float64, {1, 3, 6, 5}, 23), none(), vec_f32({1, 1, 1.5f, 0.6f}),
                       none(), {{"mode", a_str("cubic")}}, 1e-6));
  out.push_back(resize("linear bf16", rand_float(DataType::BFloat16, {1, 2, 6, 5}, 24), none(), vec_f32({1, 1, 2, 2}),
                       none(), {{"mode", a_str("linear")}}, 1e-2));
  out.push_back(resize("linear u8", rand_int(DataType::UInt8, {1, 3, 6, 5}, 25, 0, 255), none(), vec_f32({1, 1, 2, 2}),
                       none(), {{"mode", a_str("linear")}, {"coordinate_transformation_mode", a_str("align_corners")}}));
  out.push_back(resize("linear i32 3 axes", rand_int(DataType::Int32, {2, 3, 6, 5}, 26, -1000, 1000), none(),
                       vec_f32({1, 2, 1.5f, 0.5f}), none(), {{"mode", a_str("linear")}}));
  out.push_back(resize("nearest i64", rand_int(DataType::Int64, {1, 2, 4, 5}, 27, -(int64_t{1} << 60), int64_t{1} << 60),
                       none(), vec_f32({1, 1, 2.5f, 1.5f}), none(), {{"mode", a_str("nearest")}}));
  out.push_back(resize("nearest bool", rand_int(DataType::Bool, {1, 2, 4, 5}, 28, 0, 1), none(), vec_f32({1, 1, 2, 0.6f}),
                       none(), {{"mode", a_str("nearest")}}));
  out.push_back(resize("nearest f16 crop", rand_float(DataType::Float16, {1, 2, 4, 5}, 29), vec_f32({0, 0, -0.3f, 0.2f, 1, 1, 1.1f, 0.9f}),
                       none(), vec_i64({1, 2, 7, 6}),
                       {{"mode", a_str("nearest")}, {"coordinate_transformation_mode", a_str("tf_crop_and_resize")},
                        {"extrapolation_value", a_float(2.f)}}));
  // Older forms: Resize-10 (scales only), Resize-11/13, Upsample-7/9.
  {
    OpCase c;
    c.name = "Resize-10 nearest";
    c.op = "Resize";
    c.opset = 10;
    c.inputs = {x, vec_f32({1, 1, 2.5f, 0.6f})};
    c.attrs = {{"mode", a_str("nearest")}};
    out.push_back(c);
    c.name = "Resize-10 linear";
    c.attrs = {{"mode", a_str("linear")}};
    out.push_back(c);
  }
  out.push_back(resize("opset 11 linear roi empty", x, f32({0}, {}), vec_f32({1, 1, 1.3f, 1.9f}), none(),
                       {{"mode", a_str("linear")}}, 1e-5, 11));
  out.push_back(resize("opset 13 cubic sizes", x, none(), none(), vec_i64({2, 3, 4, 9}), {{"mode", a_str("cubic")}}, 1e-4, 13));
  for (int64_t opset : {7, 9}) {
    for (const char* mode : {"nearest", "linear"}) {
      OpCase c;
      c.name = "Upsample-" + std::to_string(opset) + " " + mode;
      c.op = "Upsample";
      c.opset = opset;
      c.inputs = {x};
      if (opset == 9) c.inputs.push_back(vec_f32({1, 1, 2, 3}));
      else c.attrs["scales"] = a_floats({1, 1, 2, 3});
      c.attrs["mode"] = a_str(mode);
      out.push_back(c);
    }
  }
}

// ---- GridSample ----

void grid_sample_cases(std::vector<OpCase>& out) {
  const Tensor x = rand_f32({2, 3, 5, 6}, 31);
  const Tensor grid = rand_f32({2, 4, 7, 2}, 32, -1.25f, 1.25f);
  for (const char* mode : {"bilinear", "nearest", "bicubic"})
    for (const char* pad : {"zeros", "border", "reflection"})
      for (int64_t align : {0, 1}) {
        OpCase c;
        c.name = std::string("GridSample ") + mode + " " + pad + " align " + std::to_string(align);
        c.op = "GridSample";
        c.opset = 16;
        c.inputs = {x, grid};
        c.attrs = {{"mode", a_str(mode)}, {"padding_mode", a_str(pad)}, {"align_corners", a_int(align)}};
        c.tol = std::string(mode) == "bicubic" ? 1e-4 : 1e-5;
        out.push_back(c);
      }
  // Opset 20 names, 5-D and 3-D inputs, other dtypes, a far-outside grid.
  const Tensor x5 = rand_f32({1, 2, 3, 4, 5}, 33), g5 = rand_f32({1, 2, 3, 4, 3}, 34, -1.3f, 1.3f);
  const Tensor x3 = rand_f32({2, 3, 7}, 35), g3 = rand_f32({2, 5, 1}, 36, -1.4f, 1.4f);
  for (const char* mode : {"linear", "nearest"})
    for (const char* pad : {"zeros", "border", "reflection"}) {
      OpCase c;
      c.op = "GridSample";
      c.opset = 20;
      c.attrs = {{"mode", a_str(mode)}, {"padding_mode", a_str(pad)}, {"align_corners", a_int(0)}};
      c.name = std::string("GridSample 5-D ") + mode + " " + pad;
      c.inputs = {x5, g5};
      out.push_back(c);
      c.name = std::string("GridSample 3-D ") + mode + " " + pad;
      c.inputs = {x3, g3};
      c.attrs["align_corners"] = a_int(1);
      out.push_back(c);
    }
  {
    OpCase c;
    c.op = "GridSample";
    c.opset = 20;
    c.name = "GridSample cubic reflection far outside";
    c.inputs = {x, rand_f32({2, 3, 3, 2}, 37, -4.f, 4.f)};
    c.attrs = {{"mode", a_str("cubic")}, {"padding_mode", a_str("reflection")}};
    c.tol = 1e-4;
    out.push_back(c);
    c.name = "GridSample linear f16";
    c.inputs = {rand_float(DataType::Float16, {1, 4, 6, 5}, 38), rand_float(DataType::Float16, {1, 3, 4, 2}, 39)};
    c.attrs = {{"mode", a_str("linear")}};
    c.tol = 2e-3;
    out.push_back(c);
    c.name = "GridSample linear f64";
    c.inputs = {rand_float(DataType::Float64, {1, 4, 6, 5}, 40), rand_float(DataType::Float64, {1, 3, 4, 2}, 41)};
    c.tol = 1e-9;
    out.push_back(c);
    c.name = "GridSample many channels";
    c.inputs = {rand_f32({1, 300, 4, 4}, 42), rand_f32({1, 2, 3, 2}, 43)};
    c.tol = 1e-5;
    out.push_back(c);
    c.name = "GridSample empty grid";
    c.inputs = {x, rand_f32({2, 0, 3, 2}, 44)};
    out.push_back(c);
  }
}

// ---- RoiAlign ----

void roi_align_cases(std::vector<OpCase>& out) {
  const Tensor x = rand_f32({2, 3, 10, 12}, 51);
  // Boxes [x1, y1, x2, y2] in input pixels (before spatial_scale), some partly
  // or wholly outside the map, one degenerate, one reversed.
  const Tensor rois = f32({6, 4}, {1, 1, 8, 6,  -3, -2, 5, 4,  10, 12, 30, 25,  2.5f, 3.5f, 2.5f, 3.5f,
                                   14, 2, 6, 9,  0, 0, 23, 19});
  const Tensor idx = vec_i64({0, 1, 1, 0, 1, 0});
  for (const char* mode : {"avg", "max"})
    for (const char* ctm : {"half_pixel", "output_half_pixel"})
      for (int64_t ratio : {0, 2}) {
        OpCase c;
        c.name = std::string("RoiAlign ") + mode + " " + ctm + " ratio " + std::to_string(ratio);
        c.op = "RoiAlign";
        c.inputs = {x, rois, idx};
        c.attrs = {{"mode", a_str(mode)}, {"coordinate_transformation_mode", a_str(ctm)},
                   {"output_height", a_int(3)}, {"output_width", a_int(4)}, {"sampling_ratio", a_int(ratio)},
                   {"spatial_scale", a_float(0.5f)}};
        out.push_back(c);
      }
  OpCase c;
  c.op = "RoiAlign";
  c.name = "RoiAlign opset 10 default";
  c.opset = 10;
  c.inputs = {x, rois, idx};
  out.push_back(c);
  c.opset = 21;
  c.name = "RoiAlign f16";
  c.inputs = {rand_float(DataType::Float16, {2, 3, 10, 12}, 52), rois, idx};
  c.attrs = {{"output_height", a_int(2)}, {"output_width", a_int(2)}, {"spatial_scale", a_float(0.5f)}};
  c.tol = 2e-3;
  out.push_back(c);
  c.name = "RoiAlign f64 max";
  c.inputs = {rand_float(DataType::Float64, {2, 3, 10, 12}, 53), rand_float(DataType::Float64, {3, 4}, 54, 0, 20),
              vec_i64({1, 0, 1})};
  c.attrs = {{"mode", a_str("max")}, {"output_height", a_int(5)}, {"output_width", a_int(3)}};
  c.tol = 1e-9;
  out.push_back(c);
  c.name = "RoiAlign no rois";
  c.inputs = {x, f32({0, 4}, {}), i64({0}, {})};
  c.attrs = {};
  c.tol = 1e-5;
  out.push_back(c);
  c.name = "RoiAlign many channels big rois";
  c.inputs = {rand_f32({1, 64, 20, 20}, 55), f32({2, 4}, {0, 0, 19, 19, 3, 5, 40, 11}), vec_i64({0, 0})};
  c.attrs = {{"output_height", a_int(7)}, {"output_width", a_int(7)}};
  out.push_back(c);
}

// ---- NonMaxSuppression ----

// boxes [batches, n, 4] as [y1, x1, y2, x2] (or centers), scores [batches, classes, n].
OpCase nms(std::string name, Tensor boxes, Tensor scores, Tensor max_out, Tensor iou, Tensor score_th, int64_t center = 0) {
  OpCase c;
  c.name = "NonMaxSuppression " + name;
  c.op = "NonMaxSuppression";
  c.inputs = {std::move(boxes), std::move(scores), std::move(max_out), std::move(iou), std::move(score_th)};
  if (center) c.attrs["center_point_box"] = a_int(1);
  return c;
}

// Random boxes: clusters of heavily overlapping boxes plus scattered ones.
Tensor random_boxes(int64_t batches, int64_t n, uint32_t seed, bool center = false) {
  Lcg g{seed};
  std::vector<float> v;
  for (int64_t i = 0; i < batches * n; ++i) {
    const bool clustered = (i % 3) != 0;
    const float cy = clustered ? 20.f + g.next(-2, 2) : g.next(0, 100), cx = clustered ? 30.f + g.next(-2, 2) : g.next(0, 100);
    const float h = g.next(2, 20), w = g.next(2, 20);
    if (center) v.insert(v.end(), {cx, cy, w, h});
    else if (i % 5 == 0) v.insert(v.end(), {cy + h / 2, cx + w / 2, cy - h / 2, cx - w / 2});  // flipped corners
    else v.insert(v.end(), {cy - h / 2, cx - w / 2, cy + h / 2, cx + w / 2});
  }
  return f32({batches, n, 4}, v);
}

void nms_cases(std::vector<OpCase>& out) {
  const Tensor boxes = random_boxes(2, 40, 61), scores = rand_f32({2, 3, 40}, 62, 0, 1);
  out.push_back(nms("2 batches 3 classes", boxes, scores, scalar_i64(5), scalar_f32(0.5f), scalar_f32(0.2f)));
  out.push_back(nms("max_output 0", boxes, scores, scalar_i64(0), scalar_f32(0.5f), scalar_f32(0.2f)));
  out.push_back(nms("max_output large", boxes, scores, scalar_i64(1000), scalar_f32(0.3f), none()));
  out.push_back(nms("max_output omitted", boxes, scores, none(), none(), none()));
  out.push_back(nms("iou omitted", boxes, scores, i64({1}, {100}), none(), none()));
  out.push_back(nms("score_threshold high", boxes, scores, scalar_i64(100), scalar_f32(0.6f), scalar_f32(0.9f)));
  out.push_back(nms("score_threshold above all", boxes, scores, scalar_i64(100), scalar_f32(0.6f), scalar_f32(2.f)));
  out.push_back(nms("negative scores", boxes, rand_f32({2, 3, 40}, 63, -1, 1), scalar_i64(7), scalar_f32(0.4f),
                    scalar_f32(-0.5f)));
  out.push_back(nms("center_point_box", random_boxes(2, 40, 64, true), scores, scalar_i64(6), scalar_f32(0.45f),
                    scalar_f32(0.1f), 1));
  // Ties: every score equal (lower index first), then a few tied groups with -0/+0.
  out.push_back(nms("all scores tied", random_boxes(1, 40, 76), f32({1, 1, 40}, std::vector<float>(40, 0.5f)),
                    scalar_i64(40), scalar_f32(0.5f), none()));
  {
    std::vector<float> s(40);
    for (size_t i = 0; i < s.size(); ++i) s[i] = i % 4 == 0 ? 0.f : i % 4 == 1 ? -0.f : i % 4 == 2 ? 0.25f : 0.75f;
    out.push_back(nms("tied groups", random_boxes(1, 40, 65), f32({1, 1, 40}, s), scalar_i64(100), scalar_f32(0.2f),
                      none()));
  }
  {
    // Heavily overlapping: nested boxes around one center; disjoint: a grid.
    std::vector<float> nested, grid;
    for (int i = 0; i < 30; ++i) {
      const float e = 10.f + 0.1f * static_cast<float>(i);
      nested.insert(nested.end(), {50 - e, 50 - e, 50 + e, 50 + e});
      const float y = static_cast<float>(i / 6) * 10.f, x = static_cast<float>(i % 6) * 10.f;
      grid.insert(grid.end(), {y, x, y + 9, x + 9});
    }
    out.push_back(nms("nested boxes", f32({1, 30, 4}, nested), rand_f32({1, 2, 30}, 66, 0, 1), scalar_i64(30),
                      scalar_f32(0.9f), none()));
    out.push_back(nms("disjoint boxes", f32({1, 30, 4}, grid), rand_f32({1, 2, 30}, 67, 0, 1), scalar_i64(30),
                      scalar_f32(0.f), none()));
  }
  out.push_back(nms("one box", random_boxes(1, 1, 68), rand_f32({1, 2, 1}, 69, 0, 1), scalar_i64(3), scalar_f32(0.5f),
                    none()));
  out.push_back(nms("no boxes", f32({2, 0, 4}, {}), f32({2, 3, 0}, {}), scalar_i64(3), scalar_f32(0.5f), none()));
  // Past the shared-memory sort tile (4096 keys per segment).
  out.push_back(nms("5000 boxes", random_boxes(1, 5000, 70), rand_f32({1, 2, 5000}, 71, 0, 1), scalar_i64(200),
                    scalar_f32(0.5f), scalar_f32(0.05f)));
  {
    Lcg g{73};
    std::vector<float> q(9000);
    for (float& v : q) v = std::floor(g.next(0, 50)) / 50.f;  // many ties
    out.push_back(nms("9000 boxes quantized scores", random_boxes(1, 9000, 72), f32({1, 1, 9000}, q),
                      scalar_i64(100000), scalar_f32(0.7f), none()));
  }
  out.push_back(nms("f16 boxes and scores", rand_float(DataType::Float16, {1, 20, 4}, 74, 0, 10),
                    rand_float(DataType::Float16, {1, 2, 20}, 75, 0, 1), scalar_i64(10), scalar_f32(0.3f), none()));
}

}  // namespace

std::vector<OpCase> detection_cases() {
  std::vector<OpCase> c;
  resize_cases(c);
  grid_sample_cases(c);
  roi_align_cases(c);
  nms_cases(c);
  return c;
}

}  // namespace kiln::test::ops
