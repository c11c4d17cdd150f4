#include "ir/strided_view.h"

#include <algorithm>

namespace kiln::ir {

StridedView StridedView::dense(const Shape& dims) {
  StridedView v;
  v.dims = dims;
  v.strides.assign(dims.size(), 1);
  for (size_t k = dims.size(); k-- > 1;) v.strides[k - 1] = v.strides[k] * std::max<int64_t>(dims[k], 1);
  return v;
}

int64_t StridedView::numel() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

int64_t StridedView::extent() const {
  if (numel() == 0) return 0;
  // Saturates: a hostile view must not wrap around into range.
  int64_t last = offset;
  for (size_t k = 0; k < dims.size(); ++k) {
    int64_t step = 0;
    if (__builtin_mul_overflow(dims[k] - 1, strides[k], &step) || __builtin_add_overflow(last, step, &last))
      return INT64_MAX;
  }
  return last == INT64_MAX ? last : last + 1;
}

bool StridedView::is_dense_permutation() const {
  if (offset != 0) return false;
  std::vector<size_t> order;
  for (size_t k = 0; k < dims.size(); ++k)
    if (dims[k] != 1) order.push_back(k);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return strides[a] < strides[b]; });
  int64_t expect = 1;
  for (size_t k : order) {
    if (strides[k] != expect) return false;
    expect *= dims[k];
  }
  return true;
}

ViewTracer::ViewTracer(const Shape& dense_dims) {
  const StridedView d = StridedView::dense(dense_dims);
  for (size_t k = 0; k < d.dims.size(); ++k) {
    m_dims.emplace_back();
    if (d.dims[k] != 1) m_dims.back().push_back({d.dims[k], d.strides[k]});
  }
}

Shape ViewTracer::dims() const {
  Shape out;
  for (const auto& subs : m_dims) {
    int64_t n = 1;
    for (const Sub& s : subs) n *= s.first;
    out.push_back(n);
  }
  return out;
}

bool ViewTracer::reshape(const Shape& to) {
  std::vector<Sub> subs;  // every sub-dim, outer first
  for (const auto& d : m_dims) subs.insert(subs.end(), d.begin(), d.end());
  std::vector<std::vector<Sub>> out;
  size_t i = 0;
  for (int64_t want : to) {
    if (want < 1) return false;
    out.emplace_back();
    int64_t have = 1;
    while (have < want) {
      if (i >= subs.size()) return false;
      auto [n, stride] = subs[i];
      const int64_t need = want / have;
      if (want % have) return false;
      if (n <= need) {  // the whole sub-dim
        out.back().push_back(subs[i++]);
        have *= n;
      } else {  // its outer part: (need, stride * n/need), leaving (n/need, stride)
        if (n % need) return false;
        out.back().push_back({need, stride * (n / need)});
        subs[i] = {n / need, stride};
        have *= need;
      }
    }
    if (have != want) return false;
  }
  if (i != subs.size()) return false;
  m_dims = std::move(out);
  return true;
}

bool ViewTracer::transpose(const std::vector<int64_t>& perm) {
  if (perm.size() != m_dims.size()) return false;
  std::vector<bool> seen(perm.size(), false);
  std::vector<std::vector<Sub>> out;
  for (int64_t p : perm) {
    if (p < 0 || p >= static_cast<int64_t>(perm.size()) || seen[static_cast<size_t>(p)]) return false;
    seen[static_cast<size_t>(p)] = true;
    out.push_back(m_dims[static_cast<size_t>(p)]);
  }
  m_dims = std::move(out);
  return true;
}

bool ViewTracer::select(int64_t axis, int64_t index, bool keep_dim) {
  const int64_t rank = static_cast<int64_t>(m_dims.size());
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) return false;
  const int64_t n = dims()[static_cast<size_t>(axis)];
  if (index < 0) index += n;
  if (index < 0 || index >= n) return false;
  auto& subs = m_dims[static_cast<size_t>(axis)];
  for (size_t k = subs.size(); k-- > 0;) {  // the index in mixed radix, inner sub-dim first
    m_offset += (index % subs[k].first) * subs[k].second;
    index /= subs[k].first;
  }
  if (keep_dim) subs.clear();
  else m_dims.erase(m_dims.begin() + axis);
  return true;
}

std::optional<StridedView> ViewTracer::flat() const {
  StridedView v;
  v.offset = m_offset;
  for (const auto& subs : m_dims) {
    int64_t n = 1, stride = 0;
    for (size_t k = subs.size(); k-- > 0;) {  // inner first: each outer stride = inner stride * inner size
      if (k + 1 < subs.size() && subs[k].second != subs[k + 1].second * subs[k + 1].first) return std::nullopt;
      n *= subs[k].first;
    }
    if (!subs.empty()) stride = subs.back().second;
    v.dims.push_back(n);
    v.strides.push_back(n == 1 ? 0 : stride);
  }
  return v;
}

}  // namespace kiln::ir
