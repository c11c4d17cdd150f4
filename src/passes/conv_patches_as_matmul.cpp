// A vision transformer's patch embedding,
//   O = Conv(X, W[, B]) with kernel == strides, no pads, dilations or groups
//   Z = Transpose(Reshape(O, [N, K, Hp*Wp]), perm [0, 2, 1])        [N, Hp*Wp, K]
// is one GEMM of the image's patches: each row of P = [N*Hp*Wp, C*kh*kw] is
// one patch, and Z = P . W^T + B, already in Z's layout:
//   P = Reshape(Transpose(Reshape(X, [N, C, Hp, kh, Wp, kw]), [0, 2, 4, 1, 3, 5]), [N*Hp*Wp, C*kh*kw])
//   Z = Reshape(FusedMatMul(P, W as [C*kh*kw, K], B), [N, Hp*Wp, K])
// cuDNN runs this convolution slowly (three input channels, a stride as wide
// as the kernel: 0.37 ms at ViT-B/16 batch 32 on an H100, against ~20 us for
// the GEMM and the one copy of the image), and the Transpose after it goes
// too. A CUDA backend pass, before the layouts; Conv or com.kiln FusedConv
// without activation or Z, W and B constants, every shape known, each link
// read only by the next.
#include <algorithm>
#include <cstring>

#include "passes/fusion_util.h"
#include "passes/passes.h"

namespace kiln::passes {

namespace {

bool all_equal(const std::vector<int64_t>& v, int64_t x) {
  return std::all_of(v.begin(), v.end(), [&](int64_t e) { return e == x; });
}

struct Match {
  size_t conv, reshape, transpose;
};

// W [K, C, kh, kw] as [C*kh*kw, K] (row j = input element j of a patch).
Tensor weight_matrix(const Tensor& w) {
  const int64_t k = w.shape()[0], rows = w.numel() / k;
  const size_t es = dtype_size(w.dtype());
  Tensor out = Tensor::empty(w.dtype(), {rows, k});
  const auto* src = static_cast<const unsigned char*>(w.raw());
  auto* dst = static_cast<unsigned char*>(out.raw());
  for (int64_t o = 0; o < k; ++o)
    for (int64_t j = 0; j < rows; ++j)
      std::memcpy(dst + static_cast<size_t>(j * k + o) * es, src + static_cast<size_t>(o * rows + j) * es, es);
  return out;
}

}  // namespace

int conv_patches_as_matmul(ir::Graph& g, const NodeFilter& mine) {
  if (g.opset("") < 5) return 0;  // Reshape takes its shape as an input from opset 5
  const Readers readers(g);
  std::vector<Match> found;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const ir::Node& c = g.nodes[i];
    const bool fused = c.domain == "com.kiln" && c.op_type == "FusedConv";
    if ((!is_onnx(c, "Conv") && !fused) || c.outputs.size() != 1 || (mine && !mine(c))) continue;
    if (fused && (c.has_input(3) || ir::read_activation(c).kind != ir::Activation::None)) continue;
    if (!c.has_input(0) || !c.has_input(1)) continue;
    const auto& w = g.value(c.inputs[1]).constant;
    const auto& xs = g.value(c.inputs[0]).shape;
    if (!w || w->rank() != 4 || !xs || xs->size() != 4 || !ir::shape_known(*xs)) continue;
    if (c.has_input(2) && !g.value(c.inputs[2]).constant) continue;
    const std::vector<int64_t> kernel = {w->shape()[2], w->shape()[3]};
    const std::string pad = c.attr_s("auto_pad", "NOTSET");
    if (c.attr_i("group", 1) != 1 || (pad != "NOTSET" && pad != "VALID") || !all_equal(c.attr_ints("pads"), 0) ||
        !all_equal(c.attr_ints("dilations"), 1) || c.attr_ints("strides") != kernel)
      continue;
    const Shape x = ir::to_shape(*xs);
    if (x[1] != w->shape()[1] || x[2] % kernel[0] || x[3] % kernel[1]) continue;
    // O -> Reshape [N, K, Hp*Wp] -> Transpose [0, 2, 1].
    const ir::NodeId r = readers.sole(c.outputs[0]);
    if (r < 0) continue;
    const ir::Node& rs = g.nodes[static_cast<size_t>(r)];
    const auto& rshape = g.value(rs.outputs.empty() ? c.outputs[0] : rs.outputs[0]).shape;
    const int64_t n = x[0], k = w->shape()[0], hp = x[2] / kernel[0], wp = x[3] / kernel[1];
    if (!is_onnx(rs, "Reshape") || rs.outputs.size() != 1 || rs.inputs[0] != c.outputs[0] || (mine && !mine(rs)) ||
        !rshape || !ir::shape_known(*rshape) || ir::to_shape(*rshape) != Shape{n, k, hp * wp})
      continue;
    const ir::NodeId t = readers.sole(rs.outputs[0]);
    if (t < 0) continue;
    const ir::Node& tr = g.nodes[static_cast<size_t>(t)];
    if (!is_onnx(tr, "Transpose") || tr.outputs.size() != 1 || tr.attr_ints("perm") != std::vector<int64_t>{0, 2, 1} ||
        (mine && !mine(tr)))
      continue;
    found.push_back({i, static_cast<size_t>(r), static_cast<size_t>(t)});
  }
  if (found.empty()) return 0;

  std::vector<int> role(g.nodes.size(), 0);  // 1: dropped, 2: replaced by the GEMM's nodes (at the Transpose)
  std::vector<size_t> match_at(g.nodes.size(), 0);
  for (size_t m = 0; m < found.size(); ++m) {
    role[found[m].conv] = role[found[m].reshape] = 1;
    role[found[m].transpose] = 2;
    match_at[found[m].transpose] = m;
  }
  std::vector<ir::Node> nodes;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (role[i] == 0) nodes.push_back(std::move(g.nodes[i]));
    if (role[i] != 2) continue;
    const Match& m = found[match_at[i]];
    const ir::Node& c = g.nodes[m.conv];
    const ir::Node& tr = g.nodes[m.transpose];
    const Tensor w = *g.value(c.inputs[1]).constant;  // a copy: add_value moves the values
    const Shape x = ir::to_shape(*g.value(c.inputs[0]).shape);
    const int64_t n = x[0], ch = x[1], kh = w.shape()[2], kw = w.shape()[3], k = w.shape()[0];
    const int64_t hp = x[2] / kh, wp = x[3] / kw;
    const DataType dt = g.value(c.inputs[0]).dtype;
    const std::string base = c.name + "/patches";
    const auto value = [&](const std::string& name, const Shape& s, DataType t) {
      ir::Value v;
      v.name = base + name;
      v.dtype = t;
      v.shape = ir::to_sym(s);
      return g.add_value(std::move(v));
    };
    const auto shape_const = [&](const std::string& name, const Shape& s) { return add_shape_constant(g, base + name, s); };
    const auto node = [&](const std::string& op, const std::string& name, std::vector<ir::ValueId> in,
                          ir::ValueId out) {
      ir::Node nd;
      nd.name = base + name;
      nd.op_type = op;
      nd.inputs = std::move(in);
      nd.outputs = {out};
      keep_placement(c, nd);
      return nd;
    };
    const ir::ValueId xr = value("/split", {n, ch, hp, kh, wp, kw}, dt);
    const ir::ValueId xt = value("/gathered", {n, hp, wp, ch, kh, kw}, dt);
    const ir::ValueId p = value("/rows", {n * hp * wp, ch * kh * kw}, dt);
    const ir::ValueId y = value("/gemm", {n * hp * wp, k}, dt);
    const ir::ValueId wm_id = add_constant(g, base + "/weight", weight_matrix(w));
    nodes.push_back(node("Reshape", "/split", {c.inputs[0], shape_const("/split_shape", {n, ch, hp, kh, wp, kw})}, xr));
    ir::Node t = node("Transpose", "/gather", {xr}, xt);
    ir::Attribute perm;
    perm.kind = ir::Attribute::Kind::Ints;
    perm.ints = {0, 2, 4, 1, 3, 5};
    t.attrs["perm"] = perm;
    nodes.push_back(std::move(t));
    nodes.push_back(node("Reshape", "/rows", {xt, shape_const("/rows_shape", {n * hp * wp, ch * kh * kw})}, p));
    ir::Node mm = node("FusedMatMul", "/gemm", {p, wm_id}, y);
    mm.domain = "com.kiln";
    if (c.has_input(2)) mm.inputs.push_back(c.inputs[2]);
    ir::write_activation(mm, {});
    nodes.push_back(std::move(mm));
    nodes.push_back(node("Reshape", "/tokens", {y, shape_const("/tokens_shape", {n, hp * wp, k})}, tr.outputs[0]));
  }
  g.nodes = std::move(nodes);
  use_kiln_domain(g);
  g.prune();
  return static_cast<int>(found.size());
}

}  // namespace kiln::passes
