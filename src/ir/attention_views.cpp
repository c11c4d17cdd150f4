#include "ir/attention_views.h"

#include "kiln/error.h"

namespace kiln::ir {

namespace {

constexpr size_t k_per_view = 9;

[[noreturn]] void bad(const Node& n, const std::string& why) {
  throw Error(ErrorCode::InvalidModel, n.label() + ": kiln.views " + why);
}

}  // namespace

std::optional<AttentionViews> attention_views(const Node& node) {
  if (node.domain != "com.kiln") return std::nullopt;  // the ONNX op has no such attributes
  const bool has_views = node.attr("kiln.views") != nullptr, has_shape = node.attr("kiln.y_shape") != nullptr;
  if (!has_views && !has_shape) return std::nullopt;
  if (!has_views || !has_shape) bad(node, "and kiln.y_shape come together");
  const std::vector<int64_t> ints = node.attr_ints("kiln.views");
  if (ints.size() != 4 * k_per_view) bad(node, "must hold 36 ints (4 views of offset, 4 dims, 4 strides)");
  AttentionViews v;
  StridedView* views[4] = {&v.q, &v.k, &v.v, &v.y};
  for (size_t i = 0; i < 4; ++i) {
    const int64_t* p = ints.data() + i * k_per_view;
    StridedView& s = *views[i];
    s.offset = p[0];
    s.dims.assign(p + 1, p + 5);
    s.strides.assign(p + 5, p + 9);
    if (s.offset < 0) bad(node, "has a negative offset");
    for (size_t k = 0; k < 4; ++k)
      if (s.dims[k] < 1 || s.strides[k] < 0) bad(node, "needs dims >= 1 and strides >= 0");
  }
  v.y_shape = node.attr_ints("kiln.y_shape");
  for (int64_t d : v.y_shape)
    if (d < 1) bad(node, "kiln.y_shape needs dims >= 1");
  const Shape &q = v.q.dims, &k = v.k.dims, &vv = v.v.dims, &y = v.y.dims;
  if (k[0] != q[0] || vv[0] != q[0] || k[1] != vv[1] || k[2] != vv[2] || k[3] != q[3] || q[1] % k[1] != 0)
    bad(node, "Q, K and V disagree on batch, heads, length or head size");
  if (y != Shape{q[0], q[1], q[2], vv[3]}) bad(node, "Y must be [B, q heads, q length, v head size]");
  int64_t y_numel = 1;
  for (int64_t d : v.y_shape) y_numel *= d;
  if (y_numel != v.y.numel() || !v.y.is_dense_permutation()) bad(node, "Y must cover its tensor, each element once");
  return v;
}

void check_view_extents(const Node& node, const AttentionViews& v, int64_t q_numel, int64_t k_numel, int64_t v_numel) {
  if (v.q.extent() > q_numel || v.k.extent() > k_numel || v.v.extent() > v_numel)
    bad(node, "reach past the Q, K or V tensor");
}

std::vector<int64_t> views_attribute(const AttentionViews& v) {
  std::vector<int64_t> out;
  for (const StridedView* s : {&v.q, &v.k, &v.v, &v.y}) {
    out.push_back(s->offset);
    out.insert(out.end(), s->dims.begin(), s->dims.end());
    out.insert(out.end(), s->strides.begin(), s->strides.end());
  }
  return out;
}

}  // namespace kiln::ir
