// The elementwise family: registration, plus the non-template parts of the
// broadcast machinery shared by its kernels (elementwise_util.h).
#include <algorithm>

#include "backends/cpu/kernels/elementwise_util.h"
#include "backends/cpu/kernels/families.h"

namespace kiln::backend {

namespace ew {

void require_same_dtype(const KernelContext& ctx, std::initializer_list<size_t> inputs) {
  DataType first = DataType::Undefined;
  for (size_t i : inputs) {
    if (!ctx.has_input(i)) continue;
    const DataType dt = ctx.input(i).dtype();
    if (first == DataType::Undefined) first = dt;
    else if (dt != first)
      ctx.fail("input " + std::to_string(i) + " has dtype " + std::string(dtype_name(dt)) +
               ", expected " + std::string(dtype_name(first)) + " like the other inputs");
  }
}

Shape broadcast_shape(const KernelContext& ctx, const std::vector<const Shape*>& shapes) {
  size_t rank = 0;
  for (const Shape* s : shapes) rank = std::max(rank, s->size());
  Shape out(rank, 1);
  for (const Shape* s : shapes) {
    const size_t off = rank - s->size();
    for (size_t i = 0; i < s->size(); ++i) {
      const int64_t d = (*s)[i];
      int64_t& o = out[off + i];
      if (d == o || d == 1) continue;
      if (o == 1) { o = d; continue; }
      std::string msg = "cannot broadcast shapes";
      for (const Shape* t : shapes) msg += " " + shape_str(*t);
      ctx.fail(msg);
    }
  }
  return out;
}

Shape legacy_rhs_shape(const KernelContext& ctx, const Shape& a, const Shape& b) {
  const ir::Node& node = ctx.node();
  if (node.attr_i("broadcast", 0) == 0) {
    if (a != b)
      ctx.fail("shapes " + shape_str(a) + " and " + shape_str(b) +
               " differ and the (opset < 7) broadcast attribute is not set");
    return b;
  }
  if (!node.attr("axis")) return b;  // suffix matching: what numpy does too
  const int64_t ra = static_cast<int64_t>(a.size()), rb = static_cast<int64_t>(b.size());
  int64_t axis = node.attr_i("axis", 0);
  if (axis < 0) axis += ra;
  if (axis < 0 || axis + rb > ra)
    ctx.fail("broadcast axis " + std::to_string(node.attr_i("axis", 0)) + " does not fit shape " +
             shape_str(b) + " into " + shape_str(a));
  Shape out = b;
  out.resize(static_cast<size_t>(ra - axis), 1);
  return out;
}

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
