#include "backends/cpu/kernels/copy_strided.h"

#include <algorithm>

#include "backends/kernel_params.h"
#include "kiln/error.h"

namespace kiln::backend::cpu {

Strides contiguous_strides(const Shape& shape) {
  Strides s(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;) s[i - 1] = s[i] * shape[i];
  return s;
}

namespace {
using Axis = params::CopyAxis;
}  // namespace

void copy_strided(void* dst, const Strides& dst_strides, const void* src, const Strides& src_strides,
                  const Shape& shape, size_t elem_size) {
  // Drop unit dims, then merge from the inside out where both sides are contiguous.
  const auto axes = params::merge_copy_axes(dst_strides, src_strides, shape);
  if (!axes) return;
  const std::vector<Axis>& merged = *axes;
  auto* d = static_cast<std::byte*>(dst);
  const auto* s = static_cast<const std::byte*>(src);
  const int64_t es = static_cast<int64_t>(elem_size);
  if (merged.empty()) {
    std::memcpy(d, s, elem_size);
    return;
  }
  const Axis inner = merged.front();
  const bool contiguous = inner.dst == 1 && inner.src == 1;
  auto copy_row = [&](int64_t doff, int64_t soff) {
    if (contiguous) {
      std::memcpy(d + doff * es, s + soff * es, static_cast<size_t>(inner.n * es));
      return;
    }
    const bool typed = dispatch_bytes(elem_size, [&](auto tag) {
      using U = decltype(tag);
      U* dp = reinterpret_cast<U*>(d) + doff;
      const U* sp = reinterpret_cast<const U*>(s) + soff;
      for (int64_t k = 0; k < inner.n; ++k) dp[k * inner.dst] = sp[k * inner.src];
    });
    if (!typed)
      for (int64_t k = 0; k < inner.n; ++k)
        std::memcpy(d + (doff + k * inner.dst) * es, s + (soff + k * inner.src) * es, elem_size);
  };
  // Walk the outer dims (merged[1..], innermost first) with an odometer.
  const size_t outer = merged.size() - 1;
  std::vector<int64_t> idx(outer, 0);
  int64_t doff = 0, soff = 0;
  while (true) {
    copy_row(doff, soff);
    size_t k = 0;
    for (; k < outer; ++k) {
      const Axis& a = merged[k + 1];
      doff += a.dst;
      soff += a.src;
      if (++idx[k] < a.n) break;
      doff -= a.dst * a.n;
      soff -= a.src * a.n;
      idx[k] = 0;
    }
    if (k == outer) return;
  }
}

void gather_axes(void* dst, const Shape& out_shape, const void* src, const Shape& in_shape,
                 const std::vector<std::vector<int64_t>>& maps, const void* fill, size_t elem_size) {
  const int64_t n = shape_numel(out_shape);
  if (n == 0) return;
  if (out_shape.empty()) {
    std::memcpy(dst, src, elem_size);
    return;
  }
  const size_t rank = out_shape.size();
  const Strides in_strides = contiguous_strides(in_shape);
  const int64_t row = out_shape.back();
  const std::vector<int64_t>& inner = maps.back();
  const bool typed = dispatch_bytes(elem_size, [&](auto tag) {
    using U = decltype(tag);
    U value;
    std::memcpy(&value, fill, sizeof(U));
    const U* s = static_cast<const U*>(src);
    U* d = static_cast<U*>(dst);
    std::vector<int64_t> idx(rank - 1, 0);
    for (int64_t r = 0; r < n / row; ++r) {
      int64_t base = 0;
      bool fill_row = false;
      for (size_t k = 0; k + 1 < rank; ++k) {
        const int64_t m = maps[k][static_cast<size_t>(idx[k])];
        fill_row |= m < 0;
        base += m * in_strides[k];
      }
      U* o = d + r * row;
      if (fill_row) {
        std::fill_n(o, row, value);
      } else {
        for (int64_t j = 0; j < row; ++j) {
          const int64_t m = inner[static_cast<size_t>(j)];
          o[j] = m < 0 ? value : s[base + m];
        }
      }
      for (size_t k = rank - 1; k-- > 0;) {  // odometer over the outer output dims
        if (++idx[k] < out_shape[k]) break;
        idx[k] = 0;
      }
    }
  });
  if (!typed) throw Error(ErrorCode::Unsupported, "gather_axes: element size " + std::to_string(elem_size));
}

void fill_elems(void* dst, int64_t n, const void* value, size_t elem_size) {
  if (n <= 0) return;
  const bool typed = dispatch_bytes(elem_size, [&](auto tag) {
    using U = decltype(tag);
    U v;
    std::memcpy(&v, value, sizeof(U));
    std::fill_n(static_cast<U*>(dst), n, v);
  });
  if (!typed)
    for (int64_t i = 0; i < n; ++i) std::memcpy(static_cast<std::byte*>(dst) + i * static_cast<int64_t>(elem_size), value, elem_size);
}

}  // namespace kiln::backend::cpu
