#include "ir/ops/nn_attrs.h"

#include <algorithm>
#include <string>

#include "kiln/error.h"

namespace kiln::ir {

namespace {

[[noreturn]] void bad(const Node& node, const std::string& what) {
  throw Error(ErrorCode::InvalidModel, node.label() + ": " + what);
}

std::string list_str(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s + "]";
}

// Attribute of per-axis ints: `count` values, each >= min_value; default `fill`.
std::vector<int64_t> axis_ints(const Node& node, const char* key, size_t count, int64_t fill,
                               int64_t min_value) {
  std::vector<int64_t> v = node.attr_ints(key);
  if (v.empty()) return std::vector<int64_t>(count, fill);
  if (v.size() != count)
    bad(node, std::string(key) + " " + list_str(v) + " has " + std::to_string(v.size()) +
                  " values, expected " + std::to_string(count));
  for (int64_t x : v)
    if (x < min_value)
      bad(node, std::string(key) + " " + list_str(v) + " must be >= " + std::to_string(min_value));
  return v;
}

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }
int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }

}  // namespace

Window read_window(const Node& node, size_t spatial_rank, const std::vector<int64_t>& weight_kernel,
                   bool pooling) {
  Window w;
  const std::string ap = node.attr_s("auto_pad", "NOTSET");
  if (ap == "NOTSET" || ap.empty()) w.auto_pad = AutoPad::NotSet;
  else if (ap == "SAME_UPPER") w.auto_pad = AutoPad::SameUpper;
  else if (ap == "SAME_LOWER") w.auto_pad = AutoPad::SameLower;
  else if (ap == "VALID") w.auto_pad = AutoPad::Valid;
  else bad(node, "unknown auto_pad '" + ap + "'");

  const size_t n = spatial_rank;
  if (node.attr("kernel_shape")) {
    w.kernel = axis_ints(node, "kernel_shape", n, 1, 1);
    for (size_t i = 0; i < weight_kernel.size() && i < n; ++i)
      if (weight_kernel[i] >= 0 && weight_kernel[i] != w.kernel[i])
        bad(node, "kernel_shape " + list_str(w.kernel) + " does not match the weight's spatial dims " +
                      list_str(weight_kernel));
  } else if (pooling) {
    bad(node, "attribute kernel_shape is required");
  } else {
    w.kernel = weight_kernel;
    w.kernel.resize(n, -1);
    for (int64_t k : w.kernel)
      if (k == 0) bad(node, "the weight has an empty spatial dimension " + list_str(weight_kernel));
  }
  w.strides = axis_ints(node, "strides", n, 1, 1);
  w.dilations = axis_ints(node, "dilations", n, 1, 1);
  w.pads = axis_ints(node, "pads", 2 * n, 0, 0);
  // Explicit pads only apply with NOTSET (ONNX forbids both; exporters still write zeros).
  if (w.auto_pad != AutoPad::NotSet) std::fill(w.pads.begin(), w.pads.end(), 0);
  const int64_t ceil_mode = node.attr_i("ceil_mode", 0);
  if (ceil_mode != 0 && ceil_mode != 1) bad(node, "ceil_mode must be 0 or 1");
  w.ceil_mode = ceil_mode == 1;
  return w;
}

int64_t window_out_dim(const Node& node, Window& w, size_t i, int64_t in) {
  const size_t n = w.rank();
  const int64_t s = w.strides[i], ext = w.extent(i);
  int64_t out = 0;
  switch (w.auto_pad) {
    case AutoPad::SameUpper:
    case AutoPad::SameLower: {
      out = ceil_div(in, s);
      const int64_t total = std::max<int64_t>(0, (out - 1) * s + ext - in);
      const int64_t small = total / 2;
      w.pads[i] = w.auto_pad == AutoPad::SameUpper ? small : total - small;
      w.pads[i + n] = total - w.pads[i];
      break;
    }
    case AutoPad::Valid:
    case AutoPad::NotSet: {
      if (w.auto_pad == AutoPad::Valid) w.pads[i] = w.pads[i + n] = 0;
      const int64_t span = in + w.pads[i] + w.pads[i + n] - ext;
      if (span < 0) break;
      if (w.ceil_mode) {
        out = ceil_div(span, s) + 1;
        // The last window must start inside the input or its begin padding.
        if ((out - 1) * s >= in + w.pads[i]) --out;
      } else {
        out = span / s + 1;
      }
      break;
    }
  }
  if (out <= 0)
    bad(node, "window of extent " + std::to_string(ext) + " does not fit spatial axis " +
                  std::to_string(i) + " of size " + std::to_string(in) + " with pads " +
                  list_str(w.pads));
  return out;
}

int64_t transpose_out_dim(const Node& node, Window& w, size_t i, int64_t in, int64_t output_padding,
                          int64_t out_shape) {
  const size_t n = w.rank();
  const int64_t full = w.strides[i] * (in - 1) + output_padding + w.extent(i);
  int64_t out = 0;
  if (out_shape > 0 || w.auto_pad == AutoPad::SameUpper || w.auto_pad == AutoPad::SameLower) {
    out = out_shape > 0 ? out_shape : in * w.strides[i];
    // Negative total padding (a requested size past `full`) extends the end.
    const int64_t total = full - out;
    if (w.auto_pad == AutoPad::SameUpper) {
      w.pads[i] = floor_div(total, 2);
      w.pads[i + n] = total - w.pads[i];
    } else {
      w.pads[i + n] = floor_div(total, 2);
      w.pads[i] = total - w.pads[i + n];
    }
  } else {
    if (w.auto_pad == AutoPad::Valid) w.pads[i] = w.pads[i + n] = 0;
    out = full - w.pads[i] - w.pads[i + n];
  }
  if (out <= 0)
    bad(node, "output size of spatial axis " + std::to_string(i) + " would be " + std::to_string(out));
  return out;
}

}  // namespace kiln::ir
