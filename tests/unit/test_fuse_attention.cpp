// passes::fuse_attention on the attention PyTorch's ONNX exporter writes for
// scaled_dot_product_attention (q and k^T each scaled by sqrt(scale)) and on
// the hand-written form (scores divided after the product): one com.kiln
// Attention with the product of the scales, whose CPU run gives the unfused
// graph's outputs; what must stay unfused does. The CUDA attention kernel is
// compared with the CPU's in test_backend_ops.
#include <gtest/gtest.h>

#include <cmath>

#include "core/half.h"
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

}  // namespace
}  // namespace kiln::test
