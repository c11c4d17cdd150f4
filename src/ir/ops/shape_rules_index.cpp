// Shape rules of the slicing, padding, splitting and indexing ops (see shape_rules.h).
#include <algorithm>
#include <cmath>
#include <limits>

#include "ir/ops/shape_rules.h"

namespace kiln::ir::rules {

std::vector<SliceAxis> slice(const Fail& fail, const SymShape& in, const std::vector<int64_t>& starts,
                             const std::vector<int64_t>& ends, const std::vector<int64_t>* axes,
                             const std::vector<int64_t>* steps) {
  const int64_t rank = static_cast<int64_t>(in.size());
  if (starts.size() != ends.size())
    fail("starts " + shape_str(starts) + " and ends " + shape_str(ends) + " differ in length");
  std::vector<int64_t> ax;
  if (axes) {
    if (axes->size() != starts.size())
      fail("axes " + shape_str(*axes) + " and starts " + shape_str(starts) + " differ in length");
    ax = norm_axes(fail, *axes, rank);
  } else {
    if (static_cast<int64_t>(starts.size()) > rank)
      fail("starts " + shape_str(starts) + " has more entries than the input's rank " + std::to_string(rank));
    for (int64_t i = 0; i < static_cast<int64_t>(starts.size()); ++i) ax.push_back(i);
  }
  if (steps && steps->size() != starts.size())
    fail("steps " + shape_str(*steps) + " and starts " + shape_str(starts) + " differ in length");

  std::vector<SliceAxis> out(in.size());
  for (size_t i = 0; i < in.size(); ++i) out[i].len = in[i];
  for (size_t k = 0; k < ax.size(); ++k) {
    int64_t s = starts[k], e = ends[k];
    const int64_t st = steps ? (*steps)[k] : 1;
    if (st == 0) fail("slice step must not be 0");
    SliceAxis& r = out[static_cast<size_t>(ax[k])];
    const Dim& d = in[static_cast<size_t>(ax[k])];
    r.step = st;
    if (!d.known()) {
      const bool full = st == 1    ? (s == 0 || s <= -k_slice_inf) && e >= k_slice_inf
                        : st == -1 ? (s == -1 || s >= k_slice_inf) && e <= -k_slice_inf
                                   : false;
      r.len = full ? d : Dim();
      continue;
    }
    const int64_t n = d.value;
    if (s < 0) s += n;
    if (e < 0) e += n;
    int64_t len = 0;
    // Magnitude of the step as unsigned: -INT64_MIN does not fit int64.
    const uint64_t mag = st > 0 ? static_cast<uint64_t>(st) : static_cast<uint64_t>(-(st + 1)) + 1;
    if (st > 0) {
      s = std::clamp<int64_t>(s, 0, n);
      e = std::clamp<int64_t>(e, 0, n);
      if (e > s) len = static_cast<int64_t>((static_cast<uint64_t>(e - s) - 1) / mag + 1);
    } else if (n > 0) {
      s = std::clamp<int64_t>(s, 0, n - 1);
      e = std::clamp<int64_t>(e, -1, n - 1);
      if (s > e) len = static_cast<int64_t>((static_cast<uint64_t>(s - e) - 1) / mag + 1);
    }
    r.start = len > 0 ? s : 0;
    r.len = Dim(len);
  }
  return out;
}

SymShape slice_shape(const std::vector<SliceAxis>& axes) {
  SymShape out;
  for (const SliceAxis& a : axes) out.push_back(a.len);
  return out;
}

std::pair<int64_t, int64_t> shape_range(int64_t rank, int64_t start, std::optional<int64_t> end) {
  int64_t e = end.value_or(rank);
  if (start < 0) start += rank;
  if (e < 0) e += rank;
  start = std::clamp<int64_t>(start, 0, rank);
  e = std::clamp<int64_t>(e, 0, rank);
  return {start, std::max(start, e)};
}

Pads pads(const Fail& fail, int64_t rank, const std::vector<int64_t>& values, const std::vector<int64_t>* axes) {
  std::vector<int64_t> ax;
  if (axes) {
    ax = norm_axes(fail, *axes, rank);
  } else {
    for (int64_t i = 0; i < rank; ++i) ax.push_back(i);
  }
  if (values.size() != 2 * ax.size())
    fail("pads " + shape_str(values) + " must have 2 x " + std::to_string(ax.size()) + " entries");
  Pads p;
  p.begin.assign(static_cast<size_t>(rank), 0);
  p.end.assign(static_cast<size_t>(rank), 0);
  for (size_t k = 0; k < ax.size(); ++k) {
    p.begin[static_cast<size_t>(ax[k])] = values[k];
    p.end[static_cast<size_t>(ax[k])] = values[k + ax.size()];
  }
  return p;
}

SymShape pad(const Fail& fail, const SymShape& in, const Pads& p) {
  SymShape out(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const int64_t extra = p.begin[i] + p.end[i];
    if (!in[i].known()) {
      out[i] = extra == 0 ? in[i] : Dim();
      continue;
    }
    const int64_t n = in[i].value + extra;
    if (n < 0 || -p.begin[i] > in[i].value || -p.end[i] > in[i].value)
      fail("pads crop more than dim " + std::to_string(i) + " of size " + std::to_string(in[i].value) + " holds");
    out[i] = Dim(n);
  }
  return out;
}

std::vector<int64_t> split_sizes(const Fail& fail, const Dim& dim, const std::vector<int64_t>* split,
                                 int64_t num_outputs, size_t n_outputs, int64_t opset) {
  if (split) {
    if (split->size() != n_outputs)
      fail("split " + shape_str(*split) + " has " + std::to_string(split->size()) + " entries for " +
           std::to_string(n_outputs) + " outputs");
    int64_t sum = 0;
    for (int64_t s : *split) {
      if (s < 0) fail("split " + shape_str(*split) + " has a negative size");
      sum += s;
    }
    if (dim.known() && sum != dim.value)
      fail("split " + shape_str(*split) + " sums to " + std::to_string(sum) + ", not the dim size " +
           std::to_string(dim.value));
    return *split;
  }
  if (num_outputs > 0 && static_cast<size_t>(num_outputs) != n_outputs)
    fail("num_outputs is " + std::to_string(num_outputs) + " but the node has " + std::to_string(n_outputs) +
         " outputs");
  if (n_outputs == 0) fail("has no outputs");
  const int64_t n = static_cast<int64_t>(n_outputs);
  if (!dim.known()) return std::vector<int64_t>(n_outputs, -1);
  const int64_t d = dim.value;
  if (d % n == 0) return std::vector<int64_t>(n_outputs, d / n);
  if (opset < 18)
    fail("dim of size " + std::to_string(d) + " cannot be split evenly into " + std::to_string(n) + " outputs");
  // Opset 18: chunks of ceil(d/n), the last one smaller.
  const int64_t chunk = d / n + 1;
  std::vector<int64_t> sizes(n_outputs, chunk);
  sizes.back() = d - chunk * (n - 1);
  if (sizes.back() < 0)
    fail("dim of size " + std::to_string(d) + " cannot be split into " + std::to_string(n) + " chunks of " +
         std::to_string(chunk));
  return sizes;
}

int64_t range_count(const Fail& fail, double start, double limit, double delta) {
  if (delta == 0) fail("delta must not be 0");
  const double n = std::ceil((limit - start) / delta);
  if (!std::isfinite(n) && !(n < 0)) fail("range is not finite");
  if (n > 9.0e15) fail("range has too many elements");
  return n > 0 ? static_cast<int64_t>(n) : 0;
}

int64_t range_count_int(const Fail& fail, int64_t start, int64_t limit, int64_t delta) {
  if (delta == 0) fail("delta must not be 0");
  const __int128 diff = static_cast<__int128>(limit) - start;
  if (diff == 0 || (diff > 0) != (delta > 0)) return 0;
  const __int128 ad = delta > 0 ? static_cast<__int128>(delta) : -static_cast<__int128>(delta);
  const __int128 ax = diff > 0 ? diff : -diff;
  return static_cast<int64_t>((ax + ad - 1) / ad);
}

SymShape gather(const Fail& fail, const SymShape& data, const SymShape& indices, int64_t axis) {
  if (data.empty()) fail("data must have rank >= 1");
  const size_t a = static_cast<size_t>(norm_axis(fail, axis, static_cast<int64_t>(data.size())));
  SymShape out(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(a));
  out.insert(out.end(), indices.begin(), indices.end());
  out.insert(out.end(), data.begin() + static_cast<std::ptrdiff_t>(a) + 1, data.end());
  return out;
}

std::optional<SymShape> gather_nd(const Fail& fail, const SymShape& data, const SymShape& indices,
                                  int64_t batch_dims) {
  const int64_t r = static_cast<int64_t>(data.size()), q = static_cast<int64_t>(indices.size());
  if (r < 1 || q < 1) fail("data and indices must have rank >= 1");
  if (batch_dims < 0 || batch_dims >= std::min(r, q))
    fail("batch_dims " + std::to_string(batch_dims) + " must be in [0, min(rank(data), rank(indices)))");
  const size_t b = static_cast<size_t>(batch_dims);
  SymShape out;
  for (size_t i = 0; i < b; ++i) {
    const Dim &d = data[i], &x = indices[i];
    if (d.known() && x.known() && d.value != x.value)
      fail("batch dim " + std::to_string(i) + " differs: data " + sym_str(data) + ", indices " + sym_str(indices));
    out.push_back(x.known() ? x : d);
  }
  out.insert(out.end(), indices.begin() + static_cast<std::ptrdiff_t>(b), indices.end() - 1);
  const Dim& last = indices.back();
  if (!last.known()) return std::nullopt;
  const int64_t m = last.value;
  if (m < 1 || m > r - batch_dims)
    fail("indices' last dim " + std::to_string(m) + " must be in [1, " + std::to_string(r - batch_dims) + "]");
  out.insert(out.end(), data.begin() + static_cast<std::ptrdiff_t>(batch_dims + m), data.end());
  return out;
}

SymShape onehot(const Fail& fail, const SymShape& indices, const Dim& depth, int64_t axis) {
  const int64_t r = static_cast<int64_t>(indices.size());
  if (axis < -r - 1 || axis > r)
    fail("axis " + std::to_string(axis) + " is out of range for output rank " + std::to_string(r + 1));
  const size_t a = static_cast<size_t>(axis < 0 ? axis + r + 1 : axis);
  SymShape out = indices;
  out.insert(out.begin() + static_cast<std::ptrdiff_t>(a), depth);
  return out;
}

}  // namespace kiln::ir::rules
