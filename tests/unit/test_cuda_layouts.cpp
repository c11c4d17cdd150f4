// The CUDA layout pass (passes/assign_cuda_layouts.cpp) on hand-built graphs:
// which values go NHWC, what vetoes a component, weights permuted once. The
// kernels reading these marks run in test_backend_ops / the GPU model tests.
#include <gtest/gtest.h>

#include "ir/graph.h"
#include "kernel_harness.h"
#include "pass_test_util.h"
#include "passes/passes.h"

namespace kiln::test {
namespace {

struct G : GraphBuilder {
  // A value; a constant (weights) holds 0, 1, 2, ...
  ir::ValueId v(const std::string& name, Shape s, bool constant = false) {
    if (!constant) return GraphBuilder::v(name, s);
    Tensor t = Tensor::empty(DataType::Float32, s);
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = static_cast<float>(i);
    return GraphBuilder::v(name, s, t);
  }
  const ir::Node& node(const std::string& name) const {
    for (const ir::Node& x : g.nodes)
      if (x.name == name) return x;
    throw std::runtime_error("no node " + name);
  }
  int64_t out_layout(const std::string& name) const { return node(name).attr_i("kiln_out_layout", 0); }
  std::vector<int64_t> in_layouts(const std::string& name) const { return node(name).attr_ints("kiln_in_layouts"); }
};

// x -> Conv0(W) -> Relu1 -> MaxPool2 -> Conv3(W2) -> Add4(+pool) -> Relu5 -> GAP6 -> y
// gate: Relu5 becomes Mul(s, g) with g [1,4,1,1] (a per-channel gate, as in
// squeeze-excitation); mask: with g [1,1,8,8] (a spatial mask).
G residual_block(bool gate = false, bool mask = false) {
  G b;
  const Shape act{1, 4, 8, 8};
  const ir::ValueId x = b.v("x", act), w = b.v("W", {4, 4, 3, 3}, true), w2 = b.v("W2", {4, 4, 3, 3}, true),
                    a = b.v("a", act), r = b.v("r", act), m = b.v("m", act), c = b.v("c", act), s = b.v("s", act),
                    t = b.v("t", act), y = b.v("y", {1, 4, 1, 1});
  b.n("Conv", {x, w}, {a});
  b.n("Relu", {a}, {r});
  b.n("MaxPool", {r}, {m});
  b.n("Conv", {m, w2}, {c});
  b.n("Add", {c, m}, {s});
  if (gate || mask) {
    const ir::ValueId gv = b.v("g", mask ? Shape{1, 1, 8, 8} : Shape{1, 4, 1, 1});
    b.g.inputs.push_back(gv);
    b.n("Mul", {s, gv}, {t});
  } else {
    b.n("Relu", {s}, {t});
  }
  b.n("GlobalAveragePool", {t}, {y});
  b.g.inputs.insert(b.g.inputs.begin(), x);
  b.g.outputs = {y};
  return b;
}

TEST(CudaLayouts, ConvChainGoesNhwcBetweenPlainInputAndOutput) {
  G b = residual_block();
  EXPECT_EQ(passes::assign_cuda_layouts(b.g), 6);  // a r m c s t
  for (const char* n : {"Conv0", "Relu1", "MaxPool2", "Conv3", "Add4", "Relu5"}) EXPECT_EQ(b.out_layout(n), 1) << n;
  EXPECT_EQ(b.out_layout("GlobalAveragePool6"), 0);
  EXPECT_EQ(b.in_layouts("GlobalAveragePool6"), (std::vector<int64_t>{1}));
  EXPECT_TRUE(b.in_layouts("Conv0").empty());  // x is a graph input: plain
  EXPECT_EQ(b.in_layouts("Add4"), (std::vector<int64_t>{1, 1}));
  // Conv0 reads plain X: weights stay K,C,R,S. Conv3 reads NHWC: K,R,S,C.
  EXPECT_EQ(b.node("Conv0").attr_i("kiln_w_layout", -1), 0);
  EXPECT_EQ(b.node("Conv3").attr_i("kiln_w_layout", -1), 1);
  const Tensor& w2 = *b.g.value(b.node("Conv3").inputs[1]).constant;
  // Element (k=1, c=2, r=0, s=1): K,C,R,S index 1*36+2*9+0*3+1 = 55, at K,R,S,C
  // position 1*36 + (0*3+1)*4 + 2 = 42.
  EXPECT_EQ(w2.data<float>()[42], 55.f);
  const Tensor& w = *b.g.value(b.node("Conv0").inputs[1]).constant;
  EXPECT_EQ(w.data<float>()[42], 42.f);

  // Again (builder::specialize reruns backend passes): same marks, weights
  // not permuted twice.
  EXPECT_EQ(passes::assign_cuda_layouts(b.g), 6);
  EXPECT_EQ(b.g.value(b.node("Conv3").inputs[1]).constant->data<float>()[42], 55.f);
  EXPECT_EQ(b.out_layout("Relu5"), 1);
}

TEST(CudaLayouts, ChannelGateIsLayoutFreeSpatialMaskVetoes) {
  // Mul(s, g[1,4,1,1]): g's bytes are the same in either layout and the
  // binary kernels walk it by channel: the block still goes NHWC.
  G b = residual_block(true);
  EXPECT_EQ(passes::assign_cuda_layouts(b.g), 6);
  EXPECT_EQ(b.out_layout("Mul5"), 1);
  // Mul(s, g[1,1,8,8]) would index g by NCHW position: s's component
  // (joined to m, c, a, r through Add, MaxPool and Relu) stays plain.
  G m = residual_block(false, true);
  EXPECT_EQ(passes::assign_cuda_layouts(m.g), 0);
  for (const ir::Node& n : m.g.nodes) {
    EXPECT_EQ(n.attr_i("kiln_out_layout", 0), 0) << n.label();
    if (n.op_type == "Conv") {
      EXPECT_EQ(n.attr_i("kiln_w_layout", -1), 0) << n.label();
    }
  }
}

// x -> Conv0 -> h; h -> Conv1(1x1) -> a; FusedConvPair2(a, W, -, h, W2) -> p
// -> GAP3 -> y: both of the pair's activation inputs and its output go NHWC,
// and both its weights follow (W2 with a 1x3 kernel, so the permutation
// shows).
TEST(CudaLayouts, APairsTwoInputsAndWeightsFollow) {
  G b;
  const Shape act{1, 4, 8, 8};
  const ir::ValueId x = b.v("x", act), w0 = b.v("W0", {4, 4, 3, 3}, true), w1 = b.v("W1", {4, 4, 1, 1}, true),
                    w = b.v("W", {4, 4, 1, 1}, true), w2 = b.v("W2", {4, 4, 1, 3}, true), h = b.v("h", act),
                    a = b.v("a", act), p = b.v("p", act), y = b.v("y", {1, 4, 1, 1});
  b.n("Conv", {x, w0}, {h});
  b.n("Conv", {h, w1}, {a});
  ir::Node& pair = b.n("FusedConvPair", {a, w, ir::k_no_value, h, w2}, {p});
  pair.domain = "com.kiln";
  pair.attrs["z_pads"] = attr_ints({0, 1, 0, 1});
  b.n("GlobalAveragePool", {p}, {y});
  b.g.inputs = {x};
  b.g.outputs = {y};
  EXPECT_EQ(passes::assign_cuda_layouts(b.g), 3);  // h a p
  EXPECT_EQ(b.in_layouts("FusedConvPair2"), (std::vector<int64_t>{1, 0, 0, 1, 0}));
  EXPECT_EQ(b.out_layout("FusedConvPair2"), 1);
  EXPECT_EQ(b.node("FusedConvPair2").attr_i("kiln_w_layout", -1), 1);
  // W2's element (k=1, c=2, r=0, s=1): K,C,R,S index 1*12+2*3+1 = 19, at
  // K,R,S,C position 1*12 + 1*4 + 2 = 18.
  EXPECT_EQ(b.g.value(w2).constant->data<float>()[18], 19.f);
}

TEST(CudaLayouts, GraphOutputsAndForeignReadersStayPlain) {
  G b = residual_block();
  b.g.outputs.push_back(*b.g.find_value("r"));  // r is also an output
  EXPECT_EQ(passes::assign_cuda_layouts(b.g), 0);

  G c = residual_block();
  // A reader of m that is not layout-aware (Transpose) vetoes m's component.
  const ir::ValueId mt = c.v("mt", {1, 4, 8, 8});
  c.n("Transpose", {*c.g.find_value("m")}, {mt});
  c.g.outputs.push_back(mt);
  EXPECT_EQ(passes::assign_cuda_layouts(c.g), 0);

  // Weights shared by two convolutions cannot be permuted for one: the
  // component Conv3 reads stays plain.
  G w = residual_block();
  for (ir::Node& n : w.g.nodes)
    if (n.name == "Conv3") n.inputs[1] = *w.g.find_value("W");
  EXPECT_EQ(passes::assign_cuda_layouts(w.g), 0);

  // Nodes of another backend (the filter says not mine) veto too.
  G d = residual_block();
  EXPECT_EQ(passes::assign_cuda_layouts(d.g, [](const ir::Node& n) { return n.op_type != "MaxPool"; }), 0);
}

}  // namespace
}  // namespace kiln::test
