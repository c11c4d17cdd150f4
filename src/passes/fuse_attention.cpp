// The attention of exported transformers (PyTorch's scaled_dot_product_attention
// as its ONNX exporter writes it, and hand-written forms):
//   S = MatMul([Mul|Div](q, c1), [Mul|Div](Transpose(k, ..,3,2), c2)) [Mul|Div c3]
//   Y = MatMul(Softmax(S, last axis), v)
// with q, k, v 4-D [B, heads, seq, head] becomes one com.kiln Attention(q, k, v)
// (the ONNX-23 op at any opset) with scale = c1 * c2 * c3 (each 1 when absent;
// Div by c counts 1/c; a scale on k before its Transpose counts too). A scale
// node must keep its operand's shape (a [1,1,1,1,1] constant would not). Four to six kernels and the [B, heads, seq, seq]
// scores' round trips become the attention kernel's. A CUDA backend pass, run
// after lowering, so the scalars may be 16-bit constants; every intermediate
// must have no other reader, and q, k and v one dtype and fully known shapes
// with equal batch, heads and head size.
//
// Views: q, k and v are often a chain of Reshape/Transpose/Squeeze/
// Unsqueeze/Flatten/Gather(constant index) away from the tensor they come
// from (nn.MultiheadAttention splits one projection into heads that way), and
// Y as many Reshape/Transpose away from what reads it. When such a chain is a
// strided view of that tensor (ir/strided_view.h: ViewTracer) with the head dim
// contiguous, the fused node reads the tensor itself and writes the last
// value of Y's chain, through kiln.views (ir/attention_views.h): the copies
// those nodes made are gone (the input chains' nodes die in the prune when
// nothing else reads them; Y's chain must be read only by itself).
#include <algorithm>
#include <cmath>
#include <optional>

#include "core/dispatch.h"
#include "ir/attention_views.h"
#include "passes/fusion_util.h"
#include "passes/passes.h"

namespace kiln::passes {

namespace {

std::optional<double> scalar_of(const ir::Graph& g, ir::ValueId v) {
  const auto& c = g.value(v).constant;
  if (!c || c->numel() != 1 || !dtype_is_float(c->dtype())) return std::nullopt;
  return read_double(*c, 0);
}

struct Matcher {
  const ir::Graph& g;
  const Readers& readers;
  const std::vector<ir::NodeId>& producer;
  const NodeFilter& mine;
  std::vector<ir::NodeId> chain;  // the nodes the fused one replaces

  // The node making v when it is ours, ONNX op `op`, and read only by `reader`.
  const ir::Node* only_for(ir::ValueId v, const char* op, ir::NodeId reader) {
    const ir::NodeId p = producer[static_cast<size_t>(v)];
    if (p < 0 || readers.sole(v) != reader) return nullptr;
    const ir::Node& n = g.nodes[static_cast<size_t>(p)];
    if (!is_onnx(n, op) || n.outputs.size() != 1 || (mine && !mine(n))) return nullptr;
    return &n;
  }
  ir::NodeId id_of(const ir::Node* n) const { return static_cast<ir::NodeId>(n - g.nodes.data()); }

  // v = x * c or x / c (c a scalar constant) read only by `reader`: x, and
  // the factor multiplied into `scale`. Else v itself.
  ir::ValueId strip_scale(ir::ValueId v, ir::NodeId reader, double& scale) {
    for (const char* op : {"Mul", "Div"}) {
      const ir::Node* n = only_for(v, op, reader);
      if (!n || n->inputs.size() != 2) continue;
      for (size_t i = 0; i < 2; ++i) {
        const std::optional<double> c = scalar_of(g, n->inputs[i]);
        if (!c || (op[0] == 'D' && i != 1)) continue;  // a divisor only as the second operand
        if (op[0] == 'D' && *c == 0) return v;
        // The scale must not broadcast its operand to another shape.
        if (!g.value(n->outputs[0]).shape || g.value(n->outputs[0]).shape != g.value(n->inputs[1 - i]).shape) return v;
        scale *= op[0] == 'D' ? 1.0 / *c : *c;
        chain.push_back(id_of(n));
        return n->inputs[1 - i];
      }
    }
    return v;
  }
};

bool rank4_known(const ir::Graph& g, ir::ValueId v) {
  const auto& s = g.value(v).shape;
  return s && s->size() == 4 && ir::shape_known(*s);
}

int64_t dim(const ir::Graph& g, ir::ValueId v, size_t i) { return (*g.value(v).shape)[i].value; }

// ---- views ----

bool shape_of(const ir::Graph& g, ir::ValueId v, Shape& out) {
  const auto& s = g.value(v).shape;
  if (!s || !ir::shape_known(*s)) return false;
  out = ir::to_shape(*s);
  return std::find(out.begin(), out.end(), 0) == out.end();
}

bool is_reshape(const ir::Node& n) {
  return is_onnx(n, "Reshape") || is_onnx(n, "Flatten") || is_onnx(n, "Squeeze") || is_onnx(n, "Unsqueeze");
}

// The index of a Gather with a constant one-element index: which, and
// whether the dim stays (a 1-D index) or goes (a scalar).
bool gather_index(const ir::Graph& g, const ir::Node& n, int64_t& index, bool& keep) {
  if (!is_onnx(n, "Gather") || n.inputs.size() != 2) return false;
  const auto& c = g.value(n.inputs[1]).constant;
  if (!c || c->numel() != 1 || c->rank() > 1 || (c->dtype() != DataType::Int64 && c->dtype() != DataType::Int32))
    return false;
  index = read_int(*c, 0);
  keep = c->rank() == 1;
  return true;
}

// Applies view op `n` (its input to its output) to `v`; false when the
// result is no view of the same buffer.
bool apply_view_op(const ir::Graph& g, const ir::Node& n, ir::ViewTracer& v) {
  Shape out;
  if (n.outputs.size() != 1 || !shape_of(g, n.outputs[0], out)) return false;
  int64_t index = 0;
  bool keep = false;
  if (is_onnx(n, "Transpose")) {
    if (!v.transpose(transpose_perm(n, v.dims().size()))) return false;
  } else if (gather_index(g, n, index, keep)) {
    if (!v.select(n.attr_i("axis", 0), index, keep)) return false;
  } else if (is_reshape(n)) {
    if (!v.reshape(out)) return false;
  } else {
    return false;
  }
  return v.dims() == out;
}

struct Traced {
  ir::ValueId value;
  ir::StridedView view;
  std::vector<ir::NodeId> absorbed;     // Y's chain
  std::vector<const ir::Node*> ops;     // an operand's view ops, from `value` on
};

std::vector<int64_t> inverse_of(const std::vector<int64_t>& perm) {
  std::vector<int64_t> inverse(perm.size(), -1);
  for (size_t k = 0; k < perm.size(); ++k)
    if (perm[k] >= 0 && perm[k] < static_cast<int64_t>(perm.size())) inverse[static_cast<size_t>(perm[k])] = static_cast<int64_t>(k);
  return inverse;
}

// Y's chain walked back from its last value (the tracer starts there): the
// input of a Transpose is its output transposed by the inverse permutation;
// of a reshape, its output reshaped back.
bool walk_back(const ir::Graph& g, const std::vector<ir::NodeId>& chain, size_t len, ir::ViewTracer& t) {
  for (size_t i = len; i-- > 0;) {
    const ir::Node& n = g.nodes[static_cast<size_t>(chain[i])];
    Shape in;
    if (!shape_of(g, n.inputs[0], in)) return false;
    if (is_onnx(n, "Transpose")) {
      if (!t.transpose(inverse_of(transpose_perm(n, in.size()))) || t.dims() != in) return false;
    } else if (!t.reshape(in)) {
      return false;
    }
  }
  return true;
}

// Y's view when it suits the kernels: the head dim contiguous, every element
// of its tensor once.
std::optional<ir::StridedView> output_view(const ir::ViewTracer& t) {
  std::optional<ir::StridedView> v = t.flat();
  if (v && (v->strides.back() != 1 || !v->is_dense_permutation())) v.reset();
  return v;
}

// x (4-D, known) as a view of the farthest tensor up its chain of view ops
// that gives one with the head dim contiguous; x itself when none does.
Traced trace_operand(const ir::Graph& g, const std::vector<ir::NodeId>& producer, const std::vector<bool>& dead,
                     const NodeFilter& mine, ir::ValueId x) {
  std::vector<const ir::Node*> ops;  // from x backwards
  ir::ValueId cur = x;
  Shape in;
  for (int guard = 0; guard < 32; ++guard) {
    const ir::NodeId p = producer[static_cast<size_t>(cur)];
    if (p < 0 || dead[static_cast<size_t>(p)]) break;
    const ir::Node& n = g.nodes[static_cast<size_t>(p)];
    int64_t index = 0;
    bool keep = false;
    const bool view_op = is_onnx(n, "Transpose") || is_reshape(n) || gather_index(g, n, index, keep);
    if (!view_op || n.inputs.empty() || (mine && !mine(n)) || !shape_of(g, n.inputs[0], in)) break;
    ops.push_back(&n);
    cur = n.inputs[0];
  }
  for (size_t len = ops.size(); len > 0; --len) {
    const ir::ValueId base = ops[len - 1]->inputs[0];
    shape_of(g, base, in);
    ir::ViewTracer t(in);
    bool ok = true;
    for (size_t i = len; ok && i-- > 0;) ok = apply_view_op(g, *ops[i], t);
    const std::optional<ir::StridedView> v = ok ? t.flat() : std::nullopt;
    if (v && v->strides.back() == 1)
      return {base, *v, {}, std::vector<const ir::Node*>(ops.rbegin() + static_cast<std::ptrdiff_t>(ops.size() - len), ops.rend())};
  }
  Shape xs;
  shape_of(g, x, xs);
  return {x, ir::StridedView::dense(xs), {}, {}};
}

// y as a view of the last value of the Reshape/Transpose chain reading it
// (each link its value's only reader), with the head dim contiguous; y itself
// when the chain is empty or gives none.
Traced trace_output(const ir::Graph& g, const Readers& readers, const std::vector<bool>& dead, const NodeFilter& mine,
                    ir::ValueId y) {
  std::vector<ir::NodeId> chain;
  ir::ValueId cur = y;
  Shape s;
  for (int guard = 0; guard < 32; ++guard) {
    const ir::NodeId r = readers.sole(cur);
    if (r < 0 || dead[static_cast<size_t>(r)]) break;
    const ir::Node& n = g.nodes[static_cast<size_t>(r)];
    if ((!is_onnx(n, "Transpose") && !is_reshape(n)) || n.inputs[0] != cur || n.outputs.size() != 1 ||
        (mine && !mine(n)) || !shape_of(g, n.outputs[0], s))
      break;
    chain.push_back(r);
    cur = n.outputs[0];
  }
  for (size_t len = chain.size(); len > 0; --len) {
    const ir::ValueId last = g.nodes[static_cast<size_t>(chain[len - 1])].outputs[0];
    shape_of(g, last, s);
    ir::ViewTracer t(s);
    const std::optional<ir::StridedView> v = walk_back(g, chain, len, t) ? output_view(t) : std::nullopt;
    if (v) return {last, *v, std::vector<ir::NodeId>(chain.begin(), chain.begin() + static_cast<std::ptrdiff_t>(len)), {}};
  }
  Shape ys;
  shape_of(g, y, ys);
  return {y, ir::StridedView::dense(ys), {}, {}};
}

// ---- row permutations into the views ----
// A MatMul by a 2-D B, or a Gemm without transA, maps each row of A (the
// last axis) on its own: permuting A's leading dims permutes its output's
// the same way. nn.MultiheadAttention(batch_first) transposes [B, S, E] to
// [S, B, E] before the projection and back after the output projection;
// moved to the projections' other side, the permutations fold into the
// attention's views and no Transpose runs.

// A node a fold made useless: dead, and naming no value, so producers()
// after the fold finds the value's new producer.
void kill(ir::Graph& g, std::vector<bool>& dead, ir::NodeId n) {
  dead[static_cast<size_t>(n)] = true;
  g.nodes[static_cast<size_t>(n)].inputs.clear();
  g.nodes[static_cast<size_t>(n)].outputs.clear();
}

bool keeps_last(const std::vector<int64_t>& perm) {
  return !perm.empty() && perm.back() == static_cast<int64_t>(perm.size()) - 1;
}

bool rowwise(const ir::Graph& g, const ir::Node& n) {
  const bool gemm = is_onnx(n, "Gemm") || (n.domain == "com.kiln" && n.op_type == "FusedGemm");
  const bool matmul = is_onnx(n, "MatMul") || (n.domain == "com.kiln" && n.op_type == "FusedMatMul");
  if ((!gemm && !matmul) || n.inputs.size() < 2 || n.outputs.size() != 1) return false;
  if (gemm) {
    // C must be the same for every row (absent, a scalar, [N] or [1, N]): a
    // C with a value per row would stay with the old row order.
    if (n.attr_i("transA", 0) != 0) return false;
    if (!n.has_input(2)) return true;
    const auto& c = g.value(n.inputs[2]).shape;
    return c && (c->size() <= 1 || (c->size() == 2 && (*c)[0].known() && (*c)[0].value == 1));
  }
  const auto& b = g.value(n.inputs[1]).shape;
  return b && b->size() == 2;
}

// q, k and v views of one projection P = MatMul(Transpose(x, perm), W): P is
// computed from x instead (rows in x's order) and the views start with the
// transpose. Every reader of P and of the view chains must be the chains'.
bool fold_input_transpose(ir::Graph& g, const Readers& readers, const std::vector<ir::NodeId>& producer,
                          std::vector<bool>& dead, const NodeFilter& mine, Traced* const (&operands)[3],
                          const std::vector<ir::NodeId>& core) {
  Traced* const* ops = operands;
  const ir::ValueId p = ops[0]->value;
  if (ops[1]->value != p || ops[2]->value != p) return false;
  std::vector<bool> in_chains(g.nodes.size(), false);
  for (int i = 0; i < 3; ++i) {
    if (ops[i]->ops.empty()) return false;
    for (const ir::Node* n : ops[i]->ops) in_chains[static_cast<size_t>(n - g.nodes.data())] = true;
  }
  for (ir::NodeId c : core) in_chains[static_cast<size_t>(c)] = true;
  const auto read_only_by_chains = [&](ir::ValueId v) {
    if (readers.is_output[static_cast<size_t>(v)]) return false;
    for (ir::NodeId r : readers.nodes[static_cast<size_t>(v)])
      if (!in_chains[static_cast<size_t>(r)]) return false;
    return true;
  };
  if (!read_only_by_chains(p)) return false;
  for (int i = 0; i < 3; ++i)
    for (const ir::Node* n : ops[i]->ops)
      if (!read_only_by_chains(n->outputs[0])) return false;
  const ir::NodeId m = producer[static_cast<size_t>(p)];
  if (m < 0 || dead[static_cast<size_t>(m)]) return false;
  ir::Node& mm = g.nodes[static_cast<size_t>(m)];
  if (!rowwise(g, mm) || (!is_onnx(mm, "MatMul") && mm.op_type != "FusedMatMul")) return false;
  if (mine && !mine(mm)) return false;
  const ir::NodeId t = producer[static_cast<size_t>(mm.inputs[0])];
  if (t < 0 || dead[static_cast<size_t>(t)] || readers.sole(mm.inputs[0]) != m) return false;
  const ir::Node& tr = g.nodes[static_cast<size_t>(t)];
  Shape x, ps;
  if (!is_onnx(tr, "Transpose") || (mine && !mine(tr)) || !shape_of(g, tr.inputs[0], x) || !shape_of(g, p, ps)) return false;
  const std::vector<int64_t> perm = transpose_perm(tr, x.size());
  if (!keeps_last(perm) || ps.size() != x.size()) return false;
  Shape p_new = x;
  p_new.back() = ps.back();
  ir::StridedView views[3];
  for (int i = 0; i < 3; ++i) {
    ir::ViewTracer vt(p_new);
    bool ok = vt.transpose(perm) && vt.dims() == ps;
    for (const ir::Node* n : ops[i]->ops) ok = ok && apply_view_op(g, *n, vt);
    const std::optional<ir::StridedView> v = ok ? vt.flat() : std::nullopt;
    if (!v || v->strides.back() != 1) return false;
    views[i] = *v;
  }
  for (int i = 0; i < 3; ++i) ops[i]->view = views[i];
  mm.inputs[0] = tr.inputs[0];
  g.value(p).shape = ir::to_sym(p_new);
  kill(g, dead, t);
  return true;
}

// Y written to F, read only by G = rowwise(F) (F 2-D) -> Reshape -> Z =
// Transpose(perm keeping the last axis): Y is written to F' instead, F's rows
// in Z's order, G reads F' and the Reshape gives Z directly.
bool fold_output_transpose(ir::Graph& g, const Readers& readers, std::vector<bool>& dead, const NodeFilter& mine,
                           Traced& ty) {
  if (ty.absorbed.empty()) return false;
  const ir::ValueId f = ty.value;
  Shape fs, gs, rs, zs;
  if (!shape_of(g, f, fs) || fs.size() != 2) return false;
  const ir::NodeId gi = readers.sole(f);
  if (gi < 0 || dead[static_cast<size_t>(gi)]) return false;
  ir::Node& gn = g.nodes[static_cast<size_t>(gi)];
  if (!rowwise(g, gn) || gn.inputs[0] != f || gn.inputs[1] == f || (mine && !mine(gn))) return false;
  for (size_t i = 2; i < gn.inputs.size(); ++i)
    if (gn.inputs[i] == f) return false;
  const ir::NodeId ri = readers.sole(gn.outputs[0]);
  if (ri < 0 || dead[static_cast<size_t>(ri)]) return false;
  ir::Node& rn = g.nodes[static_cast<size_t>(ri)];
  if (!is_onnx(rn, "Reshape") || rn.inputs.size() < 2 || rn.inputs[0] != gn.outputs[0] || rn.outputs.size() != 1 ||
      (mine && !mine(rn)) ||
      !shape_of(g, gn.outputs[0], gs) || !shape_of(g, rn.outputs[0], rs) || rs.size() < 2 || rs.back() != gs.back())
    return false;
  const ir::NodeId zi = readers.sole(rn.outputs[0]);
  if (zi < 0 || dead[static_cast<size_t>(zi)]) return false;
  const ir::Node& zn = g.nodes[static_cast<size_t>(zi)];
  if (!is_onnx(zn, "Transpose") || (mine && !mine(zn)) || !shape_of(g, zn.outputs[0], zs)) return false;
  const std::vector<int64_t> perm = transpose_perm(zn, rs.size());
  if (!keeps_last(perm)) return false;
  // F as a view of F' (rows in Z's order), then Y's chain back from F.
  Shape lead(zs.begin(), zs.end() - 1);
  lead.push_back(fs.back());
  ir::ViewTracer t(fs);
  if (!t.reshape(lead) || !t.transpose(inverse_of(perm)) || !t.reshape(fs)) return false;
  if (!walk_back(g, ty.absorbed, ty.absorbed.size(), t)) return false;
  const std::optional<ir::StridedView> v = output_view(t);
  if (!v) return false;
  ir::Value fv;
  fv.name = g.value(f).name + "/rows";
  fv.dtype = g.value(f).dtype;
  fv.shape = ir::to_sym(fs);
  const ir::ValueId f_new = g.add_value(std::move(fv));
  const ir::ValueId shape_id = add_shape_constant(g, rn.name + "/rows_shape", zs);
  gn.inputs[0] = f_new;
  rn.inputs[1] = shape_id;
  rn.outputs[0] = zn.outputs[0];
  kill(g, dead, zi);  // Z is rn's now
  ty.value = f_new;
  ty.view = *v;
  return true;
}

}  // namespace

int fuse_attention(ir::Graph& g, const NodeFilter& mine) {
  Readers readers(g);
  std::vector<ir::NodeId> producer = g.producers();
  std::vector<bool> dead(g.nodes.size(), false);
  const int64_t opset = g.opset("");
  int fused = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const ir::Node& out_mm = g.nodes[i];
    if (dead[i] || !is_onnx(out_mm, "MatMul") || out_mm.inputs.size() != 2 || out_mm.outputs.size() != 1) continue;
    if (mine && !mine(out_mm)) continue;
    Matcher m{g, readers, producer, mine, {}};
    const ir::NodeId self = static_cast<ir::NodeId>(i);
    const ir::Node* sm = m.only_for(out_mm.inputs[0], "Softmax", self);
    if (!sm || sm->inputs.size() != 1) continue;
    // The last axis (rank 4): opset 13+ defaults to -1; before, the input is
    // coerced to 2-D at `axis` (default 1), the same rows only at axis 3.
    const int64_t axis = sm->attr_i("axis", opset >= 13 ? -1 : 1);
    if (axis != -1 && axis != 3) continue;
    m.chain.push_back(m.id_of(sm));
    double scale = 1.0;
    ir::ValueId s = m.strip_scale(sm->inputs[0], m.id_of(sm), scale);
    const ir::NodeId s_reader = m.chain.back();
    const ir::Node* qk = m.only_for(s, "MatMul", s_reader);
    if (!qk || qk->inputs.size() != 2) continue;
    m.chain.push_back(m.id_of(qk));
    const ir::NodeId qk_id = m.id_of(qk);
    const ir::ValueId q = m.strip_scale(qk->inputs[0], qk_id, scale);
    ir::ValueId kt = m.strip_scale(qk->inputs[1], qk_id, scale);
    const ir::NodeId kt_reader = kt == qk->inputs[1] ? qk_id : m.chain.back();
    const ir::Node* tr = m.only_for(kt, "Transpose", kt_reader);
    if (!tr || tr->inputs.size() != 1 || tr->attr_ints("perm") != std::vector<int64_t>{0, 1, 3, 2}) continue;
    m.chain.push_back(m.id_of(tr));
    const ir::ValueId k = m.strip_scale(tr->inputs[0], m.id_of(tr), scale);
    const ir::ValueId v = out_mm.inputs[1];
    if (!rank4_known(g, q) || !rank4_known(g, k) || !rank4_known(g, v)) continue;
    const DataType dt = g.value(q).dtype;
    if (g.value(k).dtype != dt || g.value(v).dtype != dt ||
        (dt != DataType::Float32 && dt != DataType::Float16 && dt != DataType::BFloat16))
      continue;
    bool fits = true;
    for (size_t d : {0u, 1u, 3u}) fits &= dim(g, q, d) == dim(g, k, d);
    fits &= dim(g, k, 0) == dim(g, v, 0) && dim(g, k, 1) == dim(g, v, 1) && dim(g, k, 2) == dim(g, v, 2);
    if (!fits || !std::isfinite(scale) || scale == 0) continue;

    ir::Node f;
    f.name = out_mm.name + "/attention";
    f.domain = "com.kiln";
    f.op_type = "Attention";
    f.inputs = {q, k, v};
    f.outputs = out_mm.outputs;
    ir::Attribute a;
    a.kind = ir::Attribute::Kind::Float;
    a.f = static_cast<float>(scale);
    f.attrs["scale"] = a;
    keep_placement(out_mm, f);
    std::vector<ir::NodeId> absorbed = m.chain;
    absorbed.push_back(self);
    Traced tq = trace_operand(g, producer, dead, mine, q), tk = trace_operand(g, producer, dead, mine, k),
           tv = trace_operand(g, producer, dead, mine, v);
    Traced ty = trace_output(g, readers, dead, mine, out_mm.outputs[0]);
    fold_input_transpose(g, readers, producer, dead, mine, {&tq, &tk, &tv}, absorbed);
    const bool added_values = fold_output_transpose(g, readers, dead, mine, ty);
    if (tq.value != q || tk.value != k || tv.value != v || ty.value != out_mm.outputs[0]) {
      const ir::AttentionViews views{tq.view, tk.view, tv.view, ty.view, {}};
      ir::Attribute va, ya;
      va.kind = ya.kind = ir::Attribute::Kind::Ints;
      va.ints = ir::views_attribute(views);
      Shape ys;
      shape_of(g, ty.value, ys);
      ya.ints = ys;
      f.attrs["kiln.views"] = va;
      f.attrs["kiln.y_shape"] = ya;
      f.inputs = {tq.value, tk.value, tv.value};
      f.outputs = {ty.value};
      absorbed.insert(absorbed.end(), ty.absorbed.begin(), ty.absorbed.end());
    }
    // replace_chain puts the fused node at the last absorbed one, the last in
    // topological order: after its inputs' producers, before Y's readers.
    std::sort(absorbed.begin(), absorbed.end());
    const size_t first = static_cast<size_t>(absorbed.front());
    absorbed.erase(absorbed.begin());
    replace_chain(g, dead, first, absorbed, std::move(f));
    ++fused;
    if (added_values) {  // later matches index both by value
      readers = Readers(g);
      producer = g.producers();
    }
  }
  finish_fusions(g, dead, fused);
  return fused;
}

}  // namespace kiln::passes
