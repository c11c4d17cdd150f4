// passes::fuse_attention on the attention PyTorch's ONNX exporter writes for
// scaled_dot_product_attention (q and k^T each scaled by sqrt(scale)) and on
// the hand-written form (scores divided after the product): one com.kiln
// Attention with the product of the scales, whose CPU run gives the unfused
// graph's outputs; what must stay unfused does. The CUDA attention kernel is
// compared with the CPU's in test_backend_ops.
#include <gtest/gtest.h>

#include <cmath>

#include "core/half.h"
#include "ir/attention_views.h"
#include "ir/graph.h"
#include "ir/op_schema.h"
#include "passes/passes.h"
#include "kernel_harness.h"
#include "pass_test_util.h"

namespace kiln::test {
namespace {

// Exporter: q * c1 and c2 * k^T (the scalar first: either operand order),
// c1 * c2 = 0.3, not the default 1/sqrt(head) = 0.5, so an ignored scale
// shows. DivideScores: (q k^T) / 2.5. DividedBy: 2.5 / (q k^T), not a scale.
enum class Form { Exporter, DivideScores, DividedBy, NoScale };

struct Opts {
  Form form = Form::Exporter;
  bool k_given_transposed = false;  // K^T a graph input: no Transpose to see through
  int64_t softmax_axis = -1;
  bool scores_read_twice = false;
  bool half_scale = false;  // float16 values and scalars (a lowered graph)
  bool v_computed_late = false;  // v made by a node between the Softmax and the last MatMul
};

Tensor scalar(float v, bool half) {
  if (!half) return filled({}, 0.f, v);
  Tensor t = Tensor::empty(DataType::Float16, {});
  t.data<Half>()[0] = Half(v);
  return t;
}

// q [2,3,5,4], k/v [2,3,6,4] -> y [2,3,5,4]
GraphBuilder attention(const Opts& o = {}) {
  GraphBuilder b;
  b.g.opsets[""] = 17;
  if (o.half_scale) b.dtype = DataType::Float16;
  const ir::ValueId q = b.v("q", {2, 3, 5, 4}), k = b.v("k", {2, 3, 6, 4}), v = b.v("v", {2, 3, 6, 4});
  b.g.inputs = {q, k, v};
  const float root = static_cast<float>(std::sqrt(0.3));
  ir::ValueId kt = b.v("kt", {2, 3, 4, 6});
  if (o.k_given_transposed) {
    b.g.inputs[1] = kt;
  } else {
    b.n("Transpose", {k}, {kt}).attrs["perm"] = attr_ints({0, 1, 3, 2});
  }
  ir::ValueId a = q, bt = kt;
  if (o.form == Form::Exporter) {
    a = b.v("qs", {2, 3, 5, 4});
    b.n("Mul", {q, b.v("c1", {}, scalar(root, o.half_scale))}, {a});
    bt = b.v("ks", {2, 3, 4, 6});
    b.n("Mul", {b.v("c2", {}, scalar(root, o.half_scale)), kt}, {bt});
  }
  ir::ValueId s = b.v("s", {2, 3, 5, 6});
  b.n("MatMul", {a, bt}, {s});
  if (o.form == Form::DivideScores || o.form == Form::DividedBy) {
    const ir::ValueId d = b.v("sd", {2, 3, 5, 6}), c3 = b.v("c3", {}, scalar(2.5f, o.half_scale));
    if (o.form == Form::DivideScores) b.n("Div", {s, c3}, {d});
    else b.n("Div", {c3, s}, {d});
    s = d;
  }
  const ir::ValueId p = b.v("p", {2, 3, 5, 6}), y = b.v("y", {2, 3, 5, 4});
  b.n("Softmax", {s}, {p}).attrs["axis"] = attr_i(o.softmax_axis);
  ir::ValueId vv = v;
  if (o.v_computed_late) {
    vv = b.v("vn", {2, 3, 6, 4});
    b.n("Neg", {v}, {vv});
  }
  b.n("MatMul", {p, vv}, {y});
  b.g.outputs = {y};
  if (o.scores_read_twice) {
    const ir::ValueId e = b.v("e", {2, 3, 5, 6});
    b.n("Neg", {s}, {e});
    b.g.outputs.push_back(e);
  }
  ir::infer_shapes(b.g);
  return b;
}

void expect_fused_matches(const Opts& o, double scale) {
  GraphBuilder plain = attention(o), fused = attention(o);
  ASSERT_EQ(passes::fuse_attention(fused.g), 1);
  ir::infer_shapes(fused.g);
  ASSERT_EQ(fused.g.nodes.size(), o.v_computed_late ? 2u : 1u);
  const ir::Node& f = fused.g.nodes.back();  // after every producer of q, k, v
  EXPECT_EQ(f.op_type, "Attention");
  EXPECT_EQ(f.domain, "com.kiln");
  EXPECT_NEAR(f.attr_f("scale", 0.f), scale, 1e-3 * scale);
  EXPECT_EQ(count_ops(fused.g, "Softmax"), 0);
  const std::vector<Tensor> in{filled({2, 3, 5, 4}, 0.4f, 0.1f), filled({2, 3, 6, 4}, -0.3f, 0.2f),
                               filled({2, 3, 6, 4}, 0.5f, -0.1f)};
  expect_near_all(run_on_cpu(fused.g, in)[0], run_on_cpu(plain.g, in)[0], 1e-5);
}

TEST(FuseAttention, TheExportersFormBecomesOneAttention) {
  expect_fused_matches({}, 0.3);
  Opts late;
  late.v_computed_late = true;
  expect_fused_matches(late, 0.3);
}

TEST(FuseAttention, ScoresDividedAfterTheProduct) {
  Opts o;
  o.form = Form::DivideScores;
  expect_fused_matches(o, 0.4);
}

TEST(FuseAttention, NoScaleAndSoftmaxAxisThree) {
  Opts o;
  o.form = Form::NoScale;
  o.softmax_axis = 3;
  expect_fused_matches(o, 1.0);
}

TEST(FuseAttention, SixteenBitScalarsAreRead) {
  Opts o;
  o.half_scale = true;
  GraphBuilder b = attention(o);
  ASSERT_EQ(passes::fuse_attention(b.g), 1);
  const float root = static_cast<float>(Half(static_cast<float>(std::sqrt(0.3))));
  EXPECT_NEAR(b.g.nodes[0].attr_f("scale", 0.f), root * root, 1e-6);
}

TEST(FuseAttention, WhatMustStayUnfusedDoes) {
  Opts given;
  given.k_given_transposed = true;
  GraphBuilder a = attention(given);
  EXPECT_EQ(passes::fuse_attention(a.g), 0);
  Opts axis;
  axis.softmax_axis = 2;
  GraphBuilder b = attention(axis);
  EXPECT_EQ(passes::fuse_attention(b.g), 0);
  Opts twice;
  twice.scores_read_twice = true;
  GraphBuilder c = attention(twice);
  EXPECT_EQ(passes::fuse_attention(c.g), 0);
  EXPECT_EQ(count_ops(c.g, "Softmax"), 1);
  GraphBuilder d = attention();
  EXPECT_EQ(passes::fuse_attention(d.g, [](const ir::Node&) { return false; }), 0);
  Opts divided_by;
  divided_by.form = Form::DividedBy;  // c / scores is not a scale
  GraphBuilder e = attention(divided_by);
  EXPECT_EQ(passes::fuse_attention(e.g), 0);
}

// nn.MultiheadAttention(batch_first) as PyTorch exports it, B=2, S=5, H=3,
// D=4: the packed projection split into q, k, v by Reshape, Unsqueeze,
// Transpose, Squeeze and Gather, each then Reshape-Transpose-Reshape'd into
// heads; Y permuted and reshaped back for the output projection, whose rows
// go back to batch first (with `batch_first_out`).
// With `per_row_c`, the output projection is a Gemm whose C has a value per
// row (which pins the rows' order).
GraphBuilder multi_head(bool batch_first_out = false, bool per_row_c = false) {
  GraphBuilder b;
  b.g.opsets[""] = 17;
  const auto ints = [&](const std::string& name, std::vector<int64_t> v) {
    Tensor t = Tensor::empty(DataType::Int64, {static_cast<int64_t>(v.size())});
    std::copy(v.begin(), v.end(), t.data<int64_t>());
    return b.v(name, t.shape(), t);
  };
  const ir::ValueId x = b.v("x", {2, 5, 12});
  b.g.inputs = {x};
  const ir::ValueId xt = b.v("xt", {5, 2, 12}), proj = b.v("proj", {5, 2, 36}), r1 = b.v("r1", {5, 2, 3, 12}),
                    u = b.v("u", {1, 5, 2, 3, 12}), t = b.v("t", {3, 5, 2, 1, 12}), sq = b.v("sq", {3, 5, 2, 12});
  b.n("Transpose", {x}, {xt}).attrs["perm"] = attr_ints({1, 0, 2});
  b.n("MatMul", {xt, b.v("w", {12, 36}, filled({12, 36}, 0.05f, 0.01f))}, {proj});
  b.n("Reshape", {proj, ints("s1", {5, 2, 3, 12})}, {r1});
  b.n("Unsqueeze", {r1, ints("a0", {0})}, {u});
  b.n("Transpose", {u}, {t}).attrs["perm"] = attr_ints({3, 1, 2, 0, 4});
  b.n("Squeeze", {t, ints("a3", {3})}, {sq});
  ir::ValueId heads[3];
  for (int64_t i = 0; i < 3; ++i) {
    const std::string n = std::to_string(i);
    Tensor idx = Tensor::empty(DataType::Int64, {});
    idx.data<int64_t>()[0] = i;
    const ir::ValueId gi = b.v("g" + n, {5, 2, 12}), ri = b.v("r" + n, {5, 6, 4}), ti = b.v("t" + n, {6, 5, 4});
    heads[i] = b.v("h" + n, {2, 3, 5, 4});
    b.n("Gather", {sq, b.v("i" + n, {}, idx)}, {gi});
    b.n("Reshape", {gi, ints("sr" + n, {5, 6, 4})}, {ri});
    b.n("Transpose", {ri}, {ti}).attrs["perm"] = attr_ints({1, 0, 2});
    b.n("Reshape", {ti, ints("sh" + n, {2, 3, 5, 4})}, {heads[i]});
  }
  const ir::ValueId kt = b.v("kt", {2, 3, 4, 5}), s = b.v("s", {2, 3, 5, 5}), p = b.v("p", {2, 3, 5, 5}),
                    y = b.v("y", {2, 3, 5, 4}), yt = b.v("yt", {5, 2, 3, 4}), yr = b.v("yr", {10, 12}),
                    out = b.v("out", {10, 12});
  b.n("Transpose", {heads[1]}, {kt}).attrs["perm"] = attr_ints({0, 1, 3, 2});
  b.n("MatMul", {heads[0], kt}, {s});
  b.n("Softmax", {s}, {p}).attrs["axis"] = attr_i(-1);
  b.n("MatMul", {p, heads[2]}, {y});
  b.n("Transpose", {y}, {yt}).attrs["perm"] = attr_ints({2, 0, 1, 3});
  b.n("Reshape", {yt, ints("so", {10, 12})}, {yr});
  if (per_row_c)
    b.n("Gemm", {yr, b.v("wo", {12, 12}, filled({12, 12}, 0.1f, -0.02f)), b.v("c", {10, 12}, filled({10, 12}, 0.2f, 0.f))},
        {out});
  else
    b.n("MatMul", {yr, b.v("wo", {12, 12}, filled({12, 12}, 0.1f, -0.02f))}, {out});
  b.g.outputs = {out};
  if (batch_first_out) {
    const ir::ValueId o3 = b.v("o3", {5, 2, 12}), ob = b.v("ob", {2, 5, 12});
    b.n("Reshape", {out, ints("s3", {5, 2, 12})}, {o3});
    b.n("Transpose", {o3}, {ob}).attrs["perm"] = attr_ints({1, 0, 2});
    b.g.outputs = {ob};
  }
  ir::infer_shapes(b.g);
  return b;
}

TEST(FuseAttention, MultiHeadAttentionReadsTheProjectionInPlace) {
  GraphBuilder plain = multi_head(), fused = multi_head();
  ASSERT_EQ(passes::fuse_attention(fused.g), 1);
  ir::infer_shapes(fused.g);
  // Left: the two projections and the attention; the batch-first Transpose
  // moved after the input projection and into the views.
  ASSERT_EQ(fused.g.nodes.size(), 3u);
  const ir::Node& f = fused.g.nodes[1];
  ASSERT_EQ(f.op_type, "Attention");
  const ir::ValueId proj = fused.g.nodes[0].outputs[0];
  EXPECT_EQ(fused.g.nodes[0].inputs[0], fused.g.inputs[0]);
  EXPECT_EQ(f.inputs, (std::vector<ir::ValueId>{proj, proj, proj}));
  EXPECT_EQ(fused.g.value(f.outputs[0]).name, "yr");
  // q[b, h, s, d] = proj[b, s, h * 4 + d]: strides 180, 4, 36, 1; k and v 12 and 24 further.
  const std::optional<ir::AttentionViews> views = ir::attention_views(f);
  ASSERT_TRUE(views);
  EXPECT_EQ(views->q.strides, (std::vector<int64_t>{180, 4, 36, 1}));
  EXPECT_EQ(views->k.offset, 12);
  EXPECT_EQ(views->v.offset, 24);
  EXPECT_EQ(views->y.strides, (std::vector<int64_t>{12, 4, 24, 1}));  // yr[s * 2 + b, h * 4 + d]
  EXPECT_EQ(views->y_shape, (Shape{10, 12}));
  const std::vector<Tensor> in{filled({2, 5, 12}, 0.3f, 0.05f)};
  expect_near_all(run_on_cpu(fused.g, in)[0], run_on_cpu(plain.g, in)[0], 1e-5);
}

TEST(FuseAttention, TheOutputProjectionsRowsComeBatchFirst) {
  GraphBuilder plain = multi_head(true), fused = multi_head(true);
  ASSERT_EQ(passes::fuse_attention(fused.g), 1);
  ir::infer_shapes(fused.g);
  // The projections, the attention and a Reshape: no Transpose is left.
  EXPECT_EQ(count_ops(fused.g, "Transpose"), 0);
  ASSERT_EQ(fused.g.nodes.size(), 4u);
  const std::optional<ir::AttentionViews> views = ir::attention_views(fused.g.nodes[1]);
  ASSERT_TRUE(views);
  EXPECT_EQ(views->y.strides, (std::vector<int64_t>{60, 4, 12, 1}));  // rows b * 5 + s
  const std::vector<Tensor> in{filled({2, 5, 12}, 0.3f, 0.05f)};
  expect_near_all(run_on_cpu(fused.g, in)[0], run_on_cpu(plain.g, in)[0], 1e-5);
}

// The CUDA backend's pass order on an encoder block's first half: the
// residual Add and the norm after the attention fuse first, then the
// attention, whose output fold hands the Add's operand to a Reshape.
TEST(FuseAttention, AfterTheSkipNormFusionOfTheResidual) {
  const auto block = [] {
    GraphBuilder b = multi_head(true);
    const ir::ValueId x = b.g.inputs[0], ob = b.g.outputs[0];
    const ir::ValueId s = b.v("s", {2, 5, 12}), y = b.v("y", {2, 5, 12});
    b.n("Add", {x, ob}, {s});
    b.n("LayerNormalization", {s, b.v("ln_scale", {12}, filled({12}, 0.05f, 1.f))}, {y}).attrs["axis"] = attr_i(-1);
    b.g.outputs = {y};
    ir::infer_shapes(b.g);
    return b;
  };
  GraphBuilder plain = block(), fused = block();
  ASSERT_EQ(passes::fuse_skip_layer_norm(fused.g), 1);
  ir::infer_shapes(fused.g);
  ASSERT_EQ(passes::fuse_attention(fused.g), 1);
  ir::infer_shapes(fused.g);
  EXPECT_EQ(count_ops(fused.g, "Transpose"), 0);
  EXPECT_EQ(count_ops(fused.g, "SkipLayerNormalization"), 1);
  const std::vector<Tensor> in{filled({2, 5, 12}, 0.3f, 0.05f)};
  expect_near_all(run_on_cpu(fused.g, in)[0], run_on_cpu(plain.g, in)[0], 1e-4);
}

TEST(FuseAttention, AGemmWithAValuePerRowKeepsItsRowOrder) {
  GraphBuilder plain = multi_head(true, true), fused = multi_head(true, true);
  ASSERT_EQ(passes::fuse_attention(fused.g), 1);
  ir::infer_shapes(fused.g);
  EXPECT_EQ(count_ops(fused.g, "Transpose"), 1);  // the batch-first one after the Gemm stays
  const std::vector<Tensor> in{filled({2, 5, 12}, 0.3f, 0.05f)};
  expect_near_all(run_on_cpu(fused.g, in)[0], run_on_cpu(plain.g, in)[0], 1e-5);
}

TEST(FuseAttention, ViewsThatLeaveTheirTensorsAreRefused) {
  GraphBuilder b = multi_head();
  ASSERT_EQ(passes::fuse_attention(b.g), 1);
  ir::Node& f = b.g.nodes[1];
  std::vector<int64_t> ints = f.attr_ints("kiln.views");
  ints[9 * 2] = 30;  // v's offset: its last element past proj's end
  f.attrs["kiln.views"] = attr_ints(ints);
  EXPECT_THROW(ir::infer_shapes(b.g), Error);
  ints[9 * 2] = 24;
  ints[9 * 3 + 5] = 4;  // Y's batch stride onto its head's: elements written twice
  f.attrs["kiln.views"] = attr_ints(ints);
  EXPECT_THROW(ir::infer_shapes(b.g), Error);
}

}  // namespace
}  // namespace kiln::test
