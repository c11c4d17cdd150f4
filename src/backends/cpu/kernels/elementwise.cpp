// The elementwise family: registration, plus the non-template parts of the
// broadcast machinery shared by its kernels (elementwise_util.h).
#include <algorithm>

#include "backends/cpu/kernels/elementwise_util.h"
#include "backends/cpu/kernels/families.h"

namespace kiln::backend {

namespace ew {

BroadcastPlan make_plan(const Shape& out, const std::vector<const Shape*>& inputs) {
  const size_t r = out.size();
  std::vector<std::array<int64_t, k_max_walk_inputs>> st(r, std::array<int64_t, k_max_walk_inputs>{});
  for (size_t k = 0; k < inputs.size(); ++k) {
    const Shape& s = *inputs[k];
    int64_t stride = 1;
    for (size_t i = s.size(); i-- > 0;) {
      st[r - s.size() + i][k] = s[i] == 1 ? 0 : stride;
      stride *= s[i];
    }
  }
  BroadcastPlan p;
  p.numel = shape_numel(out);
  for (size_t d = 0; d < r; ++d) {
    if (out[d] == 1) continue;
    if (!p.dims.empty()) {
      // Merge into the previous dim when it steps exactly over this one in every input.
      const auto& prev = p.strides.back();
      bool merge = true;
      for (size_t k = 0; k < inputs.size(); ++k) merge = merge && prev[k] == st[d][k] * out[d];
      if (merge) {
        p.dims.back() *= out[d];
        p.strides.back() = st[d];
        continue;
      }
    }
    p.dims.push_back(out[d]);
    p.strides.push_back(st[d]);
  }
  return p;
}

}  // namespace ew

void register_cpu_elementwise(KernelRegistry& r) {
  ew::register_ew_arith(r);
  ew::register_ew_logic(r);
  ew::register_ew_variadic(r);
  ew::register_ew_math(r);
  ew::register_ew_activation(r);
  ew::register_ew_cast(r);
}

}  // namespace kiln::backend
