// A strided view of a dense buffer, as PyTorch's views are: element i (a
// multi-index) at offset + sum(i[k] * strides[k]). The reshapes, transposes
// and selections that exporters chain between a tensor and its use are views
// of the tensor's buffer; a kernel that reads through the view (attention's
// flash candidate) makes the copies they cost vanish.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "kiln/tensor.h"

namespace kiln::ir {

struct StridedView {
  int64_t offset = 0;
  Shape dims;
  std::vector<int64_t> strides;

  static StridedView dense(const Shape& dims);  // row-major
  int64_t numel() const;
  // The largest element offset + 1 (0 when empty; saturates): the buffer it needs.
  int64_t extent() const;
  // Whether the view is every element of a dense buffer of numel() exactly
  // once (a permutation of its dims, offset 0).
  bool is_dense_permutation() const;
};

// A view followed through view ops. Each dim is kept as the sub-dims
// (size, stride) it was made of, so a chain may pass through shapes no single
// stride per dim describes (nn.MultiheadAttention's [S, B*H, D] of a [S, B,
// 3*E] projection) and still end in one that does.
class ViewTracer {
 public:
  explicit ViewTracer(const Shape& dense_dims);

  // The same elements in row-major order of `to` (same count); false (and
  // unchanged) when a sub-dim would have to split unevenly.
  bool reshape(const Shape& to);
  // New dim k is old dim perm[k]. False for a bad perm.
  bool transpose(const std::vector<int64_t>& perm);
  // Index `index` of dim `axis` (negative counts from the end): the dim is
  // dropped, or kept with size 1.
  bool select(int64_t axis, int64_t index, bool keep_dim);

  Shape dims() const;
  // One stride per dim, when each dim's sub-dims are contiguous with each
  // other; dims of size 1 get stride 0.
  std::optional<StridedView> flat() const;

 private:
  using Sub = std::pair<int64_t, int64_t>;  // size, stride
  int64_t m_offset = 0;
  std::vector<std::vector<Sub>> m_dims;  // outer sub-dim first; size-1 sub-dims dropped
};

}  // namespace kiln::ir
