// Internal to the CPU reduce kernels (reduce*.cpp): the sub-family
// registration register_cpu_reduce() calls, and small helpers they share.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "backends/kernel.h"
#include "core/dispatch.h"

namespace kiln::backend {

void register_cpu_arg_topk(KernelRegistry& r);  // reduce_arg.cpp: ArgMax, ArgMin, TopK

namespace reduce {

// How a kernel computes on T: float for float16/bfloat16, T otherwise.
template <typename T>
using Calc = std::conditional_t<std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>, float, T>;

template <typename T>
inline bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>) return std::isnan(v);
  else return false;
}

// Sizes of the dims before, at and after `axis`.
struct AxisSplit {
  int64_t outer = 1, n = 1, inner = 1;
};
inline AxisSplit split_at(const Shape& s, size_t axis) {
  AxisSplit r;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i < axis) r.outer *= s[i];
    else if (i == axis) r.n = s[i];
    else r.inner *= s[i];
  }
  return r;
}

// Calls f(i, o) for every input element i (row-major) with the output element
// o it reduces into; ostride[d] is 0 for reduced dims.
template <typename F>
void walk(const Shape& in, const std::vector<int64_t>& ostride, F&& f) {
  const int64_t total = shape_numel(in);
  if (total == 0) return;
  const size_t r = in.size();
  if (r == 0) {
    f(0, 0);
    return;
  }
  const int64_t last = in[r - 1], ls = ostride[r - 1];
  std::vector<int64_t> idx(r, 0);
  int64_t o = 0;
  for (int64_t i = 0; i < total; i += last) {
    for (int64_t k = 0; k < last; ++k) f(i + k, o + k * ls);
    for (size_t d = r - 1; d-- > 0;) {
      if (++idx[d] < in[d]) {
        o += ostride[d];
        break;
      }
      o -= ostride[d] * (in[d] - 1);
      idx[d] = 0;
    }
  }
}

// Output strides over the dims of `in` for a reduction of the dims marked in
// `reduced` (0 there); `count` gets the number of elements each output reduces.
inline std::vector<int64_t> reduce_strides(const Shape& in, const std::vector<bool>& reduced, int64_t* count) {
  std::vector<int64_t> ostride(in.size(), 0);
  int64_t stride = 1;
  *count = 1;
  for (size_t d = in.size(); d-- > 0;) {
    if (reduced[d]) {
      *count *= in[d];
    } else {
      ostride[d] = stride;
      stride *= in[d];
    }
  }
  return ostride;
}

}  // namespace reduce
}  // namespace kiln::backend
