// Activation layouts for the CUDA kernels: NHWC (channels last) between
// convolutions, which is the layout cuDNN's tensor-core kernels compute in
// (an NCHW convolution transposes its operands around the kernel).
//
// As on the CPU (assign_layouts.cpp), a channels-last tensor keeps its IR
// shape and byte size; producer and readers agree through attributes:
//   kiln_out_layout  (int)   layout of output 0
//   kiln_in_layouts  (ints)  layout of each input
//   kiln_w_layout    (int)   Conv/FusedConv/FusedConvPool/FusedConvPair: 1
//                            when the constant weights (input 1, and
//                            FusedConvPair's W2, input 4) hold K,R,S,C data,
//                            0 when K,C,R,S
// with 0 = plain row-major and 1 = NHWC. Unlike oneDNN's kernels, most CUDA
// kernels are pointwise: they compute in whatever layout their operands
// share. So values are grouped into components joined by pointwise and
// pooling nodes (input and output in one layout), and a component goes NHWC
// only when all of it can: every value 4-D float, none a graph input, output
// or constant, every producer and reader a convolution (X, FusedConv's Z —
// joined with its Y, which it accumulates into), a pool, a global pool
// (reader only: its [N,C,1,1] output is the same bytes in either layout) or
// a pointwise op whose other operands are scalars or in the component, and at
// least one convolution touching it.
//
// Weights: a convolution reading an NHWC X gets its constant weights
// permuted to K,R,S,C once, here; one whose weights cannot be (not constant,
// shared) keeps X plain. The choice is recorded on first visit and
// never revisited (builder::specialize reruns the backend passes on the
// engine's graph; weights absent at build, as in a weightless engine, stay
// K,C,R,S for good, so refitted data needs no permutation).
#include <cstring>
#include <numeric>
#include <set>
#include <span>

#include "passes/fusion_util.h"
#include "passes/passes.h"

namespace kiln::passes {

namespace {

bool is_conv(const ir::Node& n) {
  return onnx_or_kiln(n) && (n.op_type == "Conv" || n.op_type == "FusedConv" || n.op_type == "FusedConvPool" ||
                             n.op_type == "FusedConvPair");
}

// A convolution's activation inputs (FusedConvPair has two, X and X2) and
// weight inputs (W and W2), which follow X's layout together.
bool is_conv_x(const ir::Node& n, size_t i) { return i == 0 || (n.op_type == "FusedConvPair" && i == 3); }
std::span<const size_t> weight_inputs(const ir::Node& n) {
  static constexpr size_t k_pair[] = {1, 4}, k_one[] = {1};
  if (n.op_type == "FusedConvPair") return k_pair;
  return k_one;
}

bool is_window_pool(const ir::Node& n) {
  if (!onnx_or_kiln(n)) return false;
  if (n.op_type == "AveragePool") return true;
  return n.op_type == "MaxPool" && !(n.outputs.size() > 1 && n.outputs[1] != ir::k_no_value);
}

bool is_global_pool(const ir::Node& n) {
  return onnx_or_kiln(n) && (n.op_type == "GlobalAveragePool" || n.op_type == "GlobalMaxPool");
}

// Ops computing each output element from the same element of their inputs
// (after scalar broadcast): layout-blind.
bool is_pointwise(const ir::Node& n) {
  static const std::set<std::string> ops = {"Relu", "Sigmoid", "Tanh", "Clip", "HardSigmoid", "HardSwish",
                                            "LeakyRelu", "Elu", "Selu", "Erf", "Neg", "Abs", "Sqrt", "Add",
                                            "Sub", "Mul", "Div", "Cast", "Gelu", "Mish", "Softplus"};
  return onnx_or_kiln(n) && ops.count(n.op_type) && n.outputs.size() == 1;
}

bool is_layout_candidate(const ir::Graph& g, ir::ValueId v) {
  const ir::Value& val = g.value(v);
  const bool fp = val.dtype == DataType::Float32 || val.dtype == DataType::Float16 || val.dtype == DataType::BFloat16;
  return fp && !val.constant && val.shape && val.shape->size() == 4;
}

bool is_scalar(const ir::Graph& g, ir::ValueId v) {
  const ir::Value& val = g.value(v);
  if (!val.shape) return false;
  for (const ir::Dim& d : *val.shape)
    if (!d.known() || d.value != 1) return false;
  return true;
}

struct UnionFind {
  std::vector<int32_t> parent;
  explicit UnionFind(size_t n) : parent(n) { std::iota(parent.begin(), parent.end(), 0); }
  int32_t find(int32_t x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  }
  void join(int32_t a, int32_t b) { parent[find(a)] = find(b); }
};

// Shapes equal for certain: every dim known or a named symbol (two
// anonymous unknown dims may differ at run time, and broadcast).
bool surely_same_shape(const ir::Graph& g, ir::ValueId a, ir::ValueId b) {
  const auto& sa = g.value(a).shape;
  const auto& sb = g.value(b).shape;
  if (!sa || !sb || sa->size() != sb->size()) return false;
  for (size_t d = 0; d < sa->size(); ++d) {
    const ir::Dim &x = (*sa)[d], &y = (*sb)[d];
    if (!(x.known() || !x.symbol.empty()) || !(x == y)) return false;
  }
  return true;
}

// Whether a convolution's weights are (or will be, here) K,R,S,C: decided
// already, or constant 4-D data only this node reads.
bool weights_can_follow(const ir::Graph& g, const Readers& readers, const ir::Node& n) {
  if (const ir::Attribute* a = n.attr("kiln_w_layout")) return a->i == 1;
  for (size_t i : weight_inputs(n)) {
    if (!n.has_input(i)) return false;
    const ir::ValueId w = n.inputs[i];
    const ir::Value& wv = g.value(w);
    if (!wv.constant || wv.constant->rank() != 4 || readers.sole(w) < 0) return false;
  }
  return true;
}

// A broadcast operand of a 4-D output whose last two (H, W) dims are known
// 1: [N,C,1,1], [C,1,1], [1,1]. Its bytes read the same in either layout,
// and the binary kernels walk it by channel (elementwise_engine.cuh).
bool is_channel_operand(const ir::Graph& g, const ir::Node& n, size_t i) {
  static const std::set<std::string> binary = {"Add", "Sub", "Mul", "Div"};
  if (!binary.count(n.op_type) || n.inputs.size() != 2) return false;
  const auto& s = g.value(n.inputs[i]).shape;
  const auto& o = g.value(n.outputs[0]).shape;
  if (!s || !o || o->size() != 4 || s->size() > 4 || s->size() < 2) return false;
  const size_t r = s->size();
  return (*s)[r - 1].known() && (*s)[r - 1].value == 1 && (*s)[r - 2].known() && (*s)[r - 2].value == 1;
}

// Whether reader `n` can read its input `i` as it is while `n` computes in
// NHWC: in the layout (X of a convolution, X2 of a FusedConvPair, Z of a
// FusedConv, a pool's X, a pointwise op's operand of the output's shape), or
// layout-free (scalars, channel operands).
bool reads_nhwc(const ir::Graph& g, const ir::Node& n, size_t i) {
  if (is_conv(n)) return is_conv_x(n, i) || (n.op_type == "FusedConv" && i == 3);
  if (is_window_pool(n) || is_global_pool(n)) return i == 0;
  if (is_pointwise(n)) return surely_same_shape(g, n.inputs[i], n.outputs[0]);
  return false;
}

bool layout_free_operand(const ir::Graph& g, const ir::Node& n, size_t i) {
  return is_pointwise(n) && (is_scalar(g, n.inputs[i]) || is_channel_operand(g, n, i));
}

void permute_kcrs_to_krsc(const Tensor& w, Tensor& out) {
  const Shape& s = w.shape();
  const int64_t K = s[0], C = s[1], RS = s[2] * s[3];
  const size_t es = dtype_size(w.dtype());
  const auto* src = static_cast<const uint8_t*>(w.raw());
  auto* dst = static_cast<uint8_t*>(out.raw());
  for (int64_t k = 0; k < K; ++k)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t p = 0; p < RS; ++p)
        std::memcpy(dst + ((k * RS + p) * C + c) * es, src + ((k * C + c) * RS + p) * es, es);
}

ir::Attribute int_attr(int64_t v) {
  ir::Attribute a;
  a.kind = ir::Attribute::Kind::Int;
  a.i = v;
  return a;
}

}  // namespace

int assign_cuda_layouts(ir::Graph& g, const NodeFilter& mine) {
  for (ir::Node& n : g.nodes) {
    if (mine && !mine(n)) continue;
    n.attrs.erase("kiln_out_layout");
    n.attrs.erase("kiln_in_layouts");
  }
  const auto is_mine = [&](const ir::Node& n) { return !mine || mine(n); };
  const Readers readers(g);
  const std::vector<ir::NodeId> producer = g.producers();
  const size_t nv = g.values.size();
  std::vector<bool> is_input(nv, false);
  for (ir::ValueId v : g.inputs) is_input[static_cast<size_t>(v)] = true;

  // Components: pointwise and pooling nodes join their output with the
  // inputs they read in its layout; FusedConv joins Z with Y.
  UnionFind uf(nv);
  for (const ir::Node& n : g.nodes) {
    if (!is_mine(n) || n.outputs.empty() || n.outputs[0] == ir::k_no_value) continue;
    const ir::ValueId y = n.outputs[0];
    if (is_pointwise(n) || is_window_pool(n)) {
      for (size_t i = 0; i < n.inputs.size(); ++i)
        if (n.inputs[i] != ir::k_no_value && reads_nhwc(g, n, i)) uf.join(n.inputs[i], y);
    } else if (n.op_type == "FusedConv" && n.has_input(3)) {
      uf.join(n.inputs[3], y);
    }
  }
  // A component is vetoed by any value, producer or reader that cannot go NHWC.
  std::vector<bool> veto(nv, false), has_conv(nv, false);
  for (size_t v = 0; v < nv; ++v) {
    const int32_t c = uf.find(static_cast<int32_t>(v));
    const auto id = static_cast<ir::ValueId>(v);
    if (readers.nodes[v].empty() && !readers.is_output[v] && producer[v] < 0) continue;  // unused
    const ir::NodeId p = producer[v];
    bool ok = p >= 0 && !is_input[v] && !readers.is_output[v] && is_layout_candidate(g, id);
    if (ok) {
      const ir::Node& pn = g.nodes[static_cast<size_t>(p)];
      ok = is_mine(pn) && pn.outputs[0] == id && (is_conv(pn) || is_pointwise(pn) || is_window_pool(pn));
      // A pointwise op broadcasting a non-scalar operand ([N,C,1,1] gates,
      // per-channel scales) indexes it by NCHW position: not layout-blind.
      if (ok && is_pointwise(pn))
        for (size_t i = 0; ok && i < pn.inputs.size(); ++i)
          ok = pn.inputs[i] == ir::k_no_value || layout_free_operand(g, pn, i) || reads_nhwc(g, pn, i);
      if (is_conv(pn)) has_conv[c] = true;
    }
    for (ir::NodeId r : readers.nodes[v]) {
      if (!ok) break;
      const ir::Node& rn = g.nodes[static_cast<size_t>(r)];
      ok = is_mine(rn);
      for (size_t i = 0; ok && i < rn.inputs.size(); ++i)
        if (rn.inputs[i] == id) ok = reads_nhwc(g, rn, i) || layout_free_operand(g, rn, i);
      // NHWC X with K,C,R,S weights is a mix cuDNN's fast engines do not
      // take: X stays plain unless the weights follow.
      bool conv_x = false;
      for (size_t i = 0; is_conv(rn) && i < rn.inputs.size(); ++i) conv_x |= rn.inputs[i] == id && is_conv_x(rn, i);
      if (ok && conv_x) {
        ok = weights_can_follow(g, readers, rn);
        if (ok) has_conv[c] = true;
      }
    }
    if (!ok) veto[c] = true;
  }
  std::vector<bool> nhwc(nv, false);
  int marked = 0;
  for (size_t v = 0; v < nv; ++v) {
    const int32_t c = uf.find(static_cast<int32_t>(v));
    if (veto[c] || !has_conv[c] || producer[v] < 0) continue;
    nhwc[v] = true;
    ++marked;
  }
  // (Even with nothing marked, every convolution's weight layout is recorded.)
  for (ir::Node& n : g.nodes) {
    if (!is_mine(n)) continue;
    if (!n.outputs.empty() && n.outputs[0] != ir::k_no_value && nhwc[n.outputs[0]])
      n.attrs["kiln_out_layout"] = int_attr(1);
    bool any_in = false;
    for (ir::ValueId v : n.inputs) any_in |= v != ir::k_no_value && nhwc[v];
    if (any_in) {
      ir::Attribute& in = n.attrs["kiln_in_layouts"];
      in.kind = ir::Attribute::Kind::Ints;
      in.ints.assign(n.inputs.size(), 0);
      for (size_t i = 0; i < n.inputs.size(); ++i) in.ints[i] = n.inputs[i] != ir::k_no_value && nhwc[n.inputs[i]];
    }
    // Weights follow X, decided once (see the top of the file).
    if (!is_conv(n) || n.attr("kiln_w_layout") || !n.has_input(1)) continue;
    const bool permute = nhwc[n.inputs[0]] && weights_can_follow(g, readers, n);
    for (size_t i : weight_inputs(n)) {
      if (!permute) break;
      const ir::Value& wv = g.value(n.inputs[i]);
      Tensor out = Tensor::empty(wv.constant->dtype(), wv.constant->shape());
      permute_kcrs_to_krsc(*wv.constant, out);
      g.value(n.inputs[i]).constant = std::move(out);
    }
    n.attrs["kiln_w_layout"] = int_attr(permute ? 1 : 0);
  }
  return marked;
}

}  // namespace kiln::passes
