// Shape rules of the reshape-like ops and the attribute-valued tensors of Constant
// and ConstantOfShape (see shape_rules.h); slicing, padding and indexing rules
// are in shape_rules_index.cpp.
#include "ir/ops/shape_rules.h"

#include <algorithm>
#include <limits>
#include <set>

namespace kiln::ir::rules {

void Fail::operator()(const std::string& what) const {
  throw Error(m_code, m_node.label() + ": " + what);
}

int64_t norm_axis(const Fail& fail, int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= rank)
    fail("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  return axis < 0 ? axis + rank : axis;
}

std::vector<int64_t> norm_axes(const Fail& fail, const std::vector<int64_t>& axes, int64_t rank) {
  std::vector<int64_t> out;
  out.reserve(axes.size());
  for (int64_t a : axes) {
    const int64_t n = norm_axis(fail, a, rank);
    if (std::find(out.begin(), out.end(), n) != out.end())
      fail("axis " + std::to_string(a) + " is repeated");
    out.push_back(n);
  }
  return out;
}

int64_t checked_mul(const Fail& fail, int64_t a, int64_t b) {
  if (a != 0 && b > std::numeric_limits<int64_t>::max() / a)
    fail("size " + std::to_string(a) + " x " + std::to_string(b) + " overflows int64");
  return a * b;
}

Dim dim_product(const Fail& fail, const SymShape& s, size_t begin, size_t end) {
  int64_t p = 1;
  bool all_known = true;
  for (size_t i = begin; i < end; ++i) {
    if (!s[i].known()) { all_known = false; continue; }
    if (s[i].value == 0) return Dim(0);
    p = checked_mul(fail, p, s[i].value);
  }
  if (all_known) return Dim(p);
  if (p == 1 && end - begin >= 1) {  // a single symbol times ones is that symbol
    const Dim* sym = nullptr;
    for (size_t i = begin; i < end; ++i)
      if (!s[i].known()) { if (sym) return Dim(); sym = &s[i]; }
    return *sym;
  }
  return Dim();
}

Dim broadcast_dim(const Fail& fail, const Dim& a, const Dim& b) {
  if (a.known() && a.value == 1) return b;
  if (b.known() && b.value == 1) return a;
  if (a.known() && b.known()) {
    if (a.value != b.value)
      fail("cannot broadcast dimension " + std::to_string(a.value) + " with " + std::to_string(b.value));
    return a;
  }
  if (a.known()) return a;  // the symbol must be 1 or equal a
  if (b.known()) return b;
  if (!a.symbol.empty() && a.symbol == b.symbol) return a;
  return Dim();
}

SymShape broadcast(const Fail& fail, const SymShape& a, const SymShape& b) {
  const size_t rank = std::max(a.size(), b.size());
  SymShape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    const Dim da = i + a.size() >= rank ? a[i + a.size() - rank] : Dim(1);
    const Dim db = i + b.size() >= rank ? b[i + b.size() - rank] : Dim(1);
    out[i] = broadcast_dim(fail, da, db);
  }
  return out;
}

SymShape flatten(const Fail& fail, const SymShape& in, int64_t axis) {
  const int64_t rank = static_cast<int64_t>(in.size());
  if (axis < -rank || axis > rank)
    fail("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  const size_t a = static_cast<size_t>(axis < 0 ? axis + rank : axis);
  return {dim_product(fail, in, 0, a), dim_product(fail, in, a, in.size())};
}

namespace {
// Element count of a shape split into a known factor and named symbols (a known
// zero makes the whole count known). `opaque` counts anonymous unknown dims.
struct Count {
  bool zero = false;
  int64_t known = 1;
  std::multiset<std::string> symbols;
  int opaque = 0;
};

void add_dim(const Fail& fail, Count& c, const Dim& d) {
  if (d.known()) {
    if (d.value == 0) c.zero = true;
    else c.known = checked_mul(fail, c.known, d.value);
  } else if (d.symbol.empty()) {
    ++c.opaque;
  } else {
    c.symbols.insert(d.symbol);
  }
}
}  // namespace

SymShape reshape(const Fail& fail, const SymShape& in, const std::vector<int64_t>& target, bool allowzero) {
  SymShape out(target.size());
  int64_t infer_at = -1;
  bool has_zero = false;
  for (size_t i = 0; i < target.size(); ++i) {
    const int64_t t = target[i];
    if (t == -1) {
      if (infer_at >= 0) fail("shape " + shape_str(target) + " has more than one -1");
      infer_at = static_cast<int64_t>(i);
    } else if (t == 0 && !allowzero) {
      if (i >= in.size())
        fail("shape " + shape_str(target) + " copies dim " + std::to_string(i) + " (0) of an input of rank " +
             std::to_string(in.size()));
      out[i] = in[i];
    } else if (t < 0) {
      fail("shape " + shape_str(target) + " has invalid dim " + std::to_string(t));
    } else {
      has_zero |= t == 0;
      out[i] = Dim(t);
    }
  }
  if (allowzero && has_zero && infer_at >= 0)
    fail("shape " + shape_str(target) + " has both 0 and -1 while allowzero=1");

  Count cin, cout;
  for (const Dim& d : in) add_dim(fail, cin, d);
  for (size_t i = 0; i < out.size(); ++i)
    if (static_cast<int64_t>(i) != infer_at) add_dim(fail, cout, out[i]);
  // Symbols on both sides cancel: [batch,3,4] -> [0,-1] gives [batch,12].
  for (auto it = cout.symbols.begin(); it != cout.symbols.end();) {
    auto match = cin.symbols.find(*it);
    if (match == cin.symbols.end()) { ++it; continue; }
    cin.symbols.erase(match);
    it = cout.symbols.erase(it);
  }
  const bool in_known = cin.zero || (cin.symbols.empty() && cin.opaque == 0);
  const bool out_known = cout.zero || (cout.symbols.empty() && cout.opaque == 0);
  const std::string what = "cannot reshape " + sym_str(in) + " to " + shape_str(target);
  if (infer_at < 0) {
    if (in_known && out_known) {
      const int64_t nin = cin.zero ? 0 : cin.known, nout = cout.zero ? 0 : cout.known;
      if (nin != nout) fail(what + ": element counts differ");
    }
    return out;
  }
  Dim& inferred = out[static_cast<size_t>(infer_at)];
  if (cout.zero) fail(what + ": -1 is ambiguous with a zero-sized dim");
  if (in_known && out_known) {
    const int64_t nin = cin.zero ? 0 : cin.known;
    if (nin % cout.known != 0) fail(what + ": element count is not divisible");
    inferred = Dim(nin / cout.known);
  } else if (!cin.zero && out_known && cin.opaque == 0 && cin.symbols.size() == 1 && cin.known == cout.known) {
    inferred = Dim::sym(*cin.symbols.begin());
  } else {
    inferred = Dim();
  }
  return out;
}

std::optional<SymShape> squeeze(const Fail& fail, const SymShape& in, const std::vector<int64_t>* axes) {
  const int64_t rank = static_cast<int64_t>(in.size());
  std::vector<bool> drop(in.size(), false);
  if (axes && !axes->empty()) {  // an empty list squeezes like an absent one (as ONNX Runtime does)
    for (int64_t a : norm_axes(fail, *axes, rank)) {
      const Dim& d = in[static_cast<size_t>(a)];
      if (d.known() && d.value != 1)
        fail("cannot squeeze axis " + std::to_string(a) + " of size " + std::to_string(d.value));
      drop[static_cast<size_t>(a)] = true;
    }
  } else {
    for (size_t i = 0; i < in.size(); ++i) {
      if (!in[i].known()) return std::nullopt;  // may or may not be 1
      drop[i] = in[i].value == 1;
    }
  }
  SymShape out;
  for (size_t i = 0; i < in.size(); ++i)
    if (!drop[i]) out.push_back(in[i]);
  return out;
}

SymShape unsqueeze(const Fail& fail, const SymShape& in, const std::vector<int64_t>& axes) {
  const int64_t rank = static_cast<int64_t>(in.size() + axes.size());
  std::vector<bool> inserted(static_cast<size_t>(rank), false);
  for (int64_t a : norm_axes(fail, axes, rank)) inserted[static_cast<size_t>(a)] = true;
  SymShape out;
  size_t next = 0;
  for (size_t i = 0; i < inserted.size(); ++i) out.push_back(inserted[i] ? Dim(1) : in[next++]);
  return out;
}

std::vector<int64_t> transpose_perm(const Fail& fail, const std::vector<int64_t>& perm, int64_t rank) {
  std::vector<int64_t> p;
  if (perm.empty()) {
    for (int64_t i = rank - 1; i >= 0; --i) p.push_back(i);
    return p;
  }
  if (static_cast<int64_t>(perm.size()) != rank)
    fail("perm " + shape_str(perm) + " does not match rank " + std::to_string(rank));
  return norm_axes(fail, perm, rank);  // rejects repeats, so it is a permutation
}

SymShape tile(const Fail& fail, const SymShape& in, const std::vector<int64_t>& repeats) {
  if (repeats.size() != in.size())
    fail("repeats " + shape_str(repeats) + " must have one entry per input dim (rank " +
         std::to_string(in.size()) + ")");
  SymShape out(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (repeats[i] < 0) fail("repeats " + shape_str(repeats) + " has a negative entry");
    if (repeats[i] == 0 || (in[i].known() && in[i].value == 0)) out[i] = Dim(0);
    else if (repeats[i] == 1) out[i] = in[i];
    else if (in[i].known()) out[i] = Dim(checked_mul(fail, in[i].value, repeats[i]));
  }
  return out;
}

SymShape concat(const Fail& fail, const std::vector<SymShape>& ins, int64_t axis) {
  if (ins.empty()) fail("needs at least one input");
  const int64_t rank = static_cast<int64_t>(ins[0].size());
  const size_t a = static_cast<size_t>(norm_axis(fail, axis, rank));
  SymShape out = ins[0];
  for (size_t k = 1; k < ins.size(); ++k) {
    const SymShape& s = ins[k];
    if (static_cast<int64_t>(s.size()) != rank)
      fail("input " + std::to_string(k) + " has rank " + std::to_string(s.size()) + ", expected " +
           std::to_string(rank));
    for (size_t i = 0; i < s.size(); ++i) {
      if (i == a) {
        out[i] = out[i].known() && s[i].known() ? Dim(out[i].value + s[i].value) : Dim();
        continue;
      }
      if (out[i].known() && s[i].known() && out[i].value != s[i].value)
        fail("input " + std::to_string(k) + " has shape " + sym_str(s) + ", which differs from " +
             sym_str(ins[0]) + " outside axis " + std::to_string(a));
      if (!out[i].known()) out[i] = s[i].known() ? s[i] : (out[i] == s[i] ? out[i] : Dim());
    }
  }
  return out;
}

SymShape depth_to_space(const Fail& fail, const SymShape& in, int64_t b) {
  if (in.size() != 4) fail("input must be 4-D, got " + sym_str(in));
  if (b <= 0) fail("blocksize must be positive");
  const int64_t bb = checked_mul(fail, b, b);
  SymShape out(4);
  out[0] = in[0];
  if (in[1].known()) {
    if (in[1].value % bb != 0)
      fail("channels " + std::to_string(in[1].value) + " are not divisible by blocksize^2 = " + std::to_string(bb));
    out[1] = Dim(in[1].value / bb);
  }
  if (in[2].known()) out[2] = Dim(checked_mul(fail, in[2].value, b));
  if (in[3].known()) out[3] = Dim(checked_mul(fail, in[3].value, b));
  return out;
}

SymShape space_to_depth(const Fail& fail, const SymShape& in, int64_t b) {
  if (in.size() != 4) fail("input must be 4-D, got " + sym_str(in));
  if (b <= 0) fail("blocksize must be positive");
  SymShape out(4);
  out[0] = in[0];
  if (in[1].known()) out[1] = Dim(checked_mul(fail, in[1].value, checked_mul(fail, b, b)));
  for (size_t i = 2; i < 4; ++i) {
    if (!in[i].known()) continue;
    if (in[i].value % b != 0)
      fail("spatial dim " + std::to_string(in[i].value) + " is not divisible by blocksize " + std::to_string(b));
    out[i] = Dim(in[i].value / b);
  }
  return out;
}

// ---- Attribute-valued tensors ----

Tensor constant_value(const Fail& fail) {
  const Node& node = fail.node();
  for (const char* key : {"sparse_value", "value_string", "value_strings"})
    if (node.attr(key))
      throw Error(ErrorCode::Unsupported, node.label() + ": attribute '" + key + "' is not supported");
  int found = 0;
  for (const char* key : {"value", "value_float", "value_floats", "value_int", "value_ints"}) found += node.attr(key) != nullptr;
  if (found != 1) fail("needs exactly one of the value* attributes, got " + std::to_string(found));
  if (const Attribute* a = node.attr("value")) {
    if (a->kind != Attribute::Kind::Tensor || !a->t) fail("attribute 'value' must be a tensor");
    if (!dtype_is_supported(a->t->dtype()))
      throw Error(ErrorCode::Unsupported, node.label() + ": constant of dtype " +
                                              std::string(dtype_name(a->t->dtype())) + " is not supported");
    return *a->t;
  }
  if (node.attr("value_float")) return Tensor::from_vector(DataType::Float32, {}, std::vector<float>{node.attr_f("value_float", 0)});
  if (node.attr("value_int")) return Tensor::from_vector(DataType::Int64, {}, std::vector<int64_t>{node.attr_i("value_int", 0)});
  if (node.attr("value_floats")) {
    auto v = node.attr_floats("value_floats");
    return Tensor::from_vector(DataType::Float32, {static_cast<int64_t>(v.size())}, v);
  }
  auto v = node.attr_ints("value_ints");
  return Tensor::from_vector(DataType::Int64, {static_cast<int64_t>(v.size())}, v);
}

Tensor fill_value(const Fail& fail) {
  const Attribute* a = fail.node().attr("value");
  if (!a) return Tensor::from_vector(DataType::Float32, {1}, std::vector<float>{0.f});
  if (a->kind != Attribute::Kind::Tensor || !a->t) fail("attribute 'value' must be a tensor");
  if (a->t->numel() != 1) fail("attribute 'value' must hold one element, got " + shape_str(a->t->shape()));
  if (!dtype_is_supported(a->t->dtype()))
    throw Error(ErrorCode::Unsupported, fail.node().label() + ": fill value of dtype " +
                                            std::string(dtype_name(a->t->dtype())) + " is not supported");
  return *a->t;
}

}  // namespace kiln::ir::rules
