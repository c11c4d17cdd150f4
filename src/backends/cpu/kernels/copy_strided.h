// Byte-moving primitives for the CPU tensor kernels. Most shape/layout ops are a
// strided view of the input copied into a contiguous output (Transpose: permuted
// strides; Slice: scaled strides and an offset; Expand: zero strides), so they
// are written once here on raw bytes with the element size instead of per dtype.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kiln/tensor.h"

namespace kiln::backend::cpu {

using Strides = std::vector<int64_t>;  // in elements; may be negative or 0

// Row-major strides of a contiguous tensor of this shape.
Strides contiguous_strides(const Shape& shape);

// For every multi-index i < shape: dst[sum(i*dst_strides)] = src[sum(i*src_strides)].
// Adjacent dims that are contiguous on both sides are merged, so copies of whole
// rows become memcpy.
void copy_strided(void* dst, const Strides& dst_strides, const void* src, const Strides& src_strides,
                  const Shape& shape, size_t elem_size);

// Writes n copies of the element at `value` (elem_size bytes).
void fill_elems(void* dst, int64_t n, const void* value, size_t elem_size);

// out[o_0, ..., o_n] = in[maps[0][o_0], ..., maps[n][o_n]] for a contiguous in
// and out, or the element at `fill` where any map entry is -1. Pad and nearest
// Resize are this with different maps.
void gather_axes(void* dst, const Shape& out_shape, const void* src, const Shape& in_shape,
                 const std::vector<std::vector<int64_t>>& maps, const void* fill, size_t elem_size);

// Calls f with an unsigned integer of the element's size (1, 2, 4 or 8 bytes),
// so typed loops can move elements of any dtype; false for other sizes.
template <typename F>
bool dispatch_bytes(size_t elem_size, F&& f) {
  switch (elem_size) {
    case 1: f(uint8_t{}); return true;
    case 2: f(uint16_t{}); return true;
    case 4: f(uint32_t{}); return true;
    case 8: f(uint64_t{}); return true;
    default: return false;
  }
}

inline const std::byte* bytes_of(const Tensor& t) { return static_cast<const std::byte*>(t.raw()); }
inline std::byte* bytes_of(Tensor& t) { return static_cast<std::byte*>(t.raw()); }

}  // namespace kiln::backend::cpu
