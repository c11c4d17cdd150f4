// The builder's fusion passes (BN folding, Conv/Gemm/MatMul + residual +
// activation → com.kiln ops) against the unfused graph: the same ONNX model
// built at optimization level 1 (no fusion) and 3, run on the same input,
// must agree; the level-3 graph must actually hold the fused ops. Plus BN
// folding numerics against a naive loop, and SessionOptions::threads.
#include <cmath>

#include "dnnl_test_util.h"
#include "engine/engine_data.h"
#include "kiln/builder.h"
#include "kiln/model.h"
#include "kiln/session.h"
#include "onnx_test_util.h"

namespace kiln::test {
namespace {

using dnnl_util::random;
constexpr int32_t k_f32 = ::onnx::TensorProto::FLOAT;

void add_float_attr(::onnx::NodeProto& n, const std::string& name, float v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(::onnx::AttributeProto::FLOAT);
  a->set_f(v);
}

std::vector<float> values(const Tensor& t) { return {t.data<float>(), t.data<float>() + t.numel()}; }

void init_random(ModelBuilder& mb, const std::string& name, const Shape& s, uint32_t seed, float lo = -1, float hi = 1) {
  mb.init_floats(name, s, values(random(s, seed, lo, hi)));
}

// Conv [M, C, k, k] named `name` reading `in`, with bias, writing `out`.
void conv(ModelBuilder& mb, const std::string& name, const std::string& in, const std::string& out, int64_t c,
          int64_t m, int64_t k, int64_t group, uint32_t seed) {
  init_random(mb, name + ".w", {m, c / group, k, k}, seed, -0.5f, 0.5f);
  init_random(mb, name + ".b", {m}, seed + 1);
  auto& n = mb.node("Conv", {in, name + ".w", name + ".b"}, {out}, name);
  add_ints_attr(n, "pads", {k / 2, k / 2, k / 2, k / 2});
  add_int_attr(n, "group", group);
}

void batch_norm(ModelBuilder& mb, const std::string& name, const std::string& in, const std::string& out, int64_t c,
                uint32_t seed) {
  init_random(mb, name + ".scale", {c}, seed, 0.5f, 1.5f);
  init_random(mb, name + ".bias", {c}, seed + 1);
  init_random(mb, name + ".mean", {c}, seed + 2, -0.2f, 0.2f);
  init_random(mb, name + ".var", {c}, seed + 3, 0.5f, 1.5f);
  mb.node("BatchNormalization", {in, name + ".scale", name + ".bias", name + ".mean", name + ".var"}, {out}, name);
}

struct Built {
  Engine engine;
  std::vector<Tensor> outputs;
};

Built build_and_run(const std::string& path, int level, const Tensor& x, int threads = 0) {
  BuildConfig cfg;
  cfg.optimization_level = level;
  Built b{build_engine(Model::load(path), cfg), {}};
  SessionOptions opts;
  opts.threads = threads;
  Session s(b.engine, opts);
  for (const NamedTensor& t : s.run({{"x", x}})) b.outputs.push_back(t.tensor);
  return b;
}

int count_ops(const Engine& e, const std::string& op) {
  int n = 0;
  for (const ir::Node& node : e.data()->graph.nodes) n += node.op_type == op;
  return n;
}

// Builds at levels 1 and 3 and compares; returns the level-3 engine.
Engine expect_fused_matches(const std::string& path, const Tensor& x, double tol = 1e-4) {
  const Built plain = build_and_run(path, 1, x);
  const Built fused = build_and_run(path, 3, x);
  EXPECT_EQ(count_ops(plain.engine, "FusedConv") + count_ops(plain.engine, "FusedGemm") +
                count_ops(plain.engine, "FusedMatMul"),
            0);
  EXPECT_EQ(plain.outputs.size(), fused.outputs.size());
  for (size_t i = 0; i < plain.outputs.size(); ++i)
    dnnl_util::expect_close(fused.outputs[i], plain.outputs[i], tol, path + " output " + std::to_string(i));
  return fused.engine;
}

TEST(DnnlFusion, ResidualBlockFoldsBatchNormAndFusesAddRelu) {
  // x → conv1 → bn1 → relu → conv2 → bn2 → add(x) → relu
  TempDir dir;
  ModelBuilder mb(17);
  mb.input("x", k_f32, {int64_t{2}, int64_t{8}, int64_t{9}, int64_t{9}});
  mb.output("y", k_f32, {int64_t{2}, int64_t{8}, int64_t{9}, int64_t{9}});
  conv(mb, "conv1", "x", "c1", 8, 8, 3, 1, 10);
  batch_norm(mb, "bn1", "c1", "b1", 8, 20);
  mb.node("Relu", {"b1"}, {"r1"}, "relu1");
  conv(mb, "conv2", "r1", "c2", 8, 8, 3, 1, 30);
  batch_norm(mb, "bn2", "c2", "b2", 8, 40);
  mb.node("Add", {"b2", "x"}, {"s"}, "add");
  mb.node("Relu", {"s"}, {"y"}, "relu2");
  const std::string path = dir.write("res.onnx", mb.bytes());
  const Engine e = expect_fused_matches(path, random({2, 8, 9, 9}, 1));
  EXPECT_EQ(count_ops(e, "BatchNormalization"), 0);
  EXPECT_EQ(count_ops(e, "FusedConv"), 2);
  EXPECT_EQ(e.data()->graph.nodes.size(), 2u);
  const ir::Node& last = e.data()->graph.nodes.back();
  EXPECT_EQ(last.inputs.size(), 4u);  // Z = x
  EXPECT_EQ(last.attr_s("activation", ""), "Relu");
}

// Z an intermediate that nothing reads after the conv: the memory plan puts
// the conv's output over it (in place) and the result must not change.
TEST(DnnlFusion, ResidualOverAnIntermediateRunsInPlace) {
  TempDir dir;
  ModelBuilder mb(17);
  mb.input("x", k_f32, {int64_t{2}, int64_t{8}, int64_t{9}, int64_t{9}});
  mb.output("y", k_f32, {int64_t{2}, int64_t{8}, int64_t{9}, int64_t{9}});
  conv(mb, "conv0", "x", "c0", 8, 8, 3, 1, 10);
  mb.node("Relu", {"c0"}, {"r0"}, "relu0");
  conv(mb, "conv1", "r0", "c1", 8, 8, 3, 1, 20);
  mb.node("Relu", {"c1"}, {"r1"}, "relu1");
  conv(mb, "conv2", "r1", "c2", 8, 8, 1, 1, 30);
  mb.node("Add", {"c2", "r0"}, {"s"}, "add");
  mb.node("Relu", {"s"}, {"r2"}, "relu2");
  mb.node("Neg", {"r2"}, {"y"}, "neg");  // so that the residual conv's output is not a graph output
  const Engine e = expect_fused_matches(dir.write("inplace.onnx", mb.bytes()), random({2, 8, 9, 9}, 2));
  const auto& data = *e.data();
  ASSERT_TRUE(data.plan_valid);
  int in_place = 0;
  for (const ir::Node& n : data.graph.nodes) {
    if (n.op_type != "FusedConv" || !n.has_input(3)) continue;
    const auto z = data.plan.slots.find(n.inputs[3]), y = data.plan.slots.find(n.outputs[0]);
    in_place += z != data.plan.slots.end() && y != data.plan.slots.end() && z->second.offset == y->second.offset;
  }
  EXPECT_EQ(in_place, 1);
}

// Both FusedConv candidates with Y written over Z, against Y in its own buffer.
TEST(DnnlFusion, FusedConvCandidatesAreCorrectInPlace) {
  for (int64_t k : {1, 3}) {
    dnnl_util::OpCase c{"FusedConv", {random({2, 16, 7, 7}, 3), random({16, 16, k, k}, 4, -0.3f, 0.3f),
                                      random({16}, 5), random({2, 16, 7, 7}, 6)}};
    c.domain = "com.kiln";
    c.attrs["pads"] = dnnl_util::ais({k / 2, k / 2, k / 2, k / 2});
    c.attrs["activation"] = dnnl_util::as("Relu");
    for (const char* candidate : {"reference", "onednn"}) {
      SCOPED_TRACE(std::string(candidate) + " k=" + std::to_string(k));
      const auto* factory = backend::cpu_backend().kernels().find("FusedConv", candidate);
      ASSERT_NE(factory, nullptr);
      const Tensor want = dnnl_util::run_with(*factory, c)[0];
      ir::Graph g;
      g.opsets[""] = 17;
      g.opsets["com.kiln"] = 1;
      ir::Node node;
      node.name = "n0";
      node.op_type = "FusedConv";
      node.domain = "com.kiln";
      node.attrs = c.attrs;
      for (size_t i = 0; i < c.inputs.size(); ++i) {
        ir::Value v;
        v.name = "in" + std::to_string(i);
        v.dtype = DataType::Float32;
        v.shape = ir::to_sym(c.inputs[i].shape());
        if (i == 1 || i == 2) v.constant = c.inputs[i];
        node.inputs.push_back(g.add_value(v));
      }
      ir::Value out;
      out.name = "y";
      node.outputs.push_back(g.add_value(out));
      g.add_node(node);
      ir::infer_node(g, g.nodes[0]);
      auto kernel = (*factory)(g.nodes[0], g);
      for (int run = 0; run < 2; ++run) {  // the second run reuses the kernel's plan
        Tensor z = c.inputs[3].clone();  // Y goes over this buffer
        std::vector<const Tensor*> ins{&c.inputs[0], &c.inputs[1], &c.inputs[2], &z};
        std::vector<Tensor> outs(1);
        backend::KernelContext ctx(g.nodes[0], 1, ins, outs,
                                   [&z](size_t, DataType dt, const Shape& s) {
                                     return Tensor::wrap(z.raw(), dt, s, z.device());
                                   },
                                   nullptr);
        kernel->run(ctx);
        ASSERT_EQ(outs[0].raw(), z.raw());
        dnnl_util::expect_close(outs[0], want, 1e-5, "in place, run " + std::to_string(run));
      }
    }
  }
}

// MobileNet's expansion 1x1 conv → depthwise 3x3 conv becomes one
// FusedConvDw when the expanded tensor is big (8 MiB or more), else stays two
// FusedConvs; results unchanged either way.
TEST(DnnlFusion, ExpansionAndDepthwiseFuseWhenTheExpandedTensorIsBig) {
  for (int64_t side : {int64_t{128}, int64_t{32}}) {  // 128 ch x 128 x 128 x 4 B = 8 MiB; 32: 0.5 MiB
    SCOPED_TRACE(side);
    TempDir dir;
    ModelBuilder mb(17);
    mb.input("x", k_f32, {int64_t{1}, int64_t{16}, side, side});
    mb.output("y", k_f32, {int64_t{1}, int64_t{128}, side / 2, side / 2});
    conv(mb, "expand", "x", "e", 16, 128, 1, 1, 10);
    batch_norm(mb, "bn1", "e", "eb", 128, 20);
    mb.node("Relu", {"eb"}, {"er"}, "relu1");
    init_random(mb, "dw.w", {128, 1, 3, 3}, 30, -0.5f, 0.5f);
    init_random(mb, "dw.b", {128}, 31);
    auto& dw = mb.node("Conv", {"er", "dw.w", "dw.b"}, {"d"}, "dw");
    add_ints_attr(dw, "pads", {1, 1, 1, 1});
    add_ints_attr(dw, "strides", {2, 2});
    add_int_attr(dw, "group", 128);
    mb.node("Relu", {"d"}, {"y"}, "relu2");
    const Engine e = expect_fused_matches(dir.write("mbv2.onnx", mb.bytes()), random({1, 16, side, side}, 3));
    EXPECT_EQ(count_ops(e, "FusedConvDw"), side == 128 ? 1 : 0);
    EXPECT_EQ(count_ops(e, "FusedConv"), side == 128 ? 0 : 2);
  }
}

TEST(DnnlFusion, EachActivationFusesIntoConv) {
  struct A { std::string op; std::vector<std::pair<std::string, float>> attrs; };
  const std::vector<A> acts = {{"Relu", {}}, {"LeakyRelu", {{"alpha", 0.2f}}}, {"Clip", {}},
                               {"HardSwish", {}}, {"HardSigmoid", {{"alpha", 0.3f}, {"beta", 0.4f}}},
                               {"Sigmoid", {}}, {"Tanh", {}}, {"Elu", {{"alpha", 0.6f}}}};
  for (const A& a : acts) {
    SCOPED_TRACE(a.op);
    TempDir dir;
    ModelBuilder mb(17);
    mb.input("x", k_f32, {int64_t{1}, int64_t{6}, int64_t{8}, int64_t{8}});
    mb.output("y", k_f32, {int64_t{1}, int64_t{6}, int64_t{8}, int64_t{8}});
    conv(mb, "dw", "x", "c", 6, 6, 3, 6, 50);  // depthwise
    batch_norm(mb, "bn", "c", "b", 6, 60);
    std::vector<std::string> ins{"b"};
    if (a.op == "Clip") {  // opset-11+ form: bounds are inputs (ReLU6)
      mb.init_floats("lo", {}, {0.f});
      mb.init_floats("hi", {}, {0.5f});
      ins = {"b", "lo", "hi"};
    }
    auto& n = mb.node(a.op, ins, {"y"}, "act");
    for (const auto& [k, v] : a.attrs) add_float_attr(n, k, v);
    const Engine e = expect_fused_matches(dir.write("m.onnx", mb.bytes()), random({1, 6, 8, 8}, 2, -3.f, 3.f));
    ASSERT_EQ(e.data()->graph.nodes.size(), 1u);
    EXPECT_EQ(e.data()->graph.nodes[0].attr_s("activation", ""), a.op);
  }
}

TEST(DnnlFusion, SharedIntermediatesAreNotFused) {
  // The conv output is read twice (BN and a second branch): no folding, no fusion.
  TempDir dir;
  ModelBuilder mb(17);
  mb.input("x", k_f32, {int64_t{1}, int64_t{4}, int64_t{6}, int64_t{6}});
  mb.output("y", k_f32, {int64_t{1}, int64_t{4}, int64_t{6}, int64_t{6}});
  conv(mb, "conv", "x", "c", 4, 4, 3, 1, 70);
  batch_norm(mb, "bn", "c", "b", 4, 80);
  mb.node("Add", {"b", "c"}, {"y"}, "add");
  const Engine e = expect_fused_matches(dir.write("m.onnx", mb.bytes()), random({1, 4, 6, 6}, 3));
  EXPECT_EQ(count_ops(e, "BatchNormalization"), 1);
  EXPECT_EQ(count_ops(e, "Conv"), 1);
}

TEST(DnnlFusion, GemmAndMatMulChains) {
  TempDir dir;
  ModelBuilder mb(17);
  mb.input("x", k_f32, {int64_t{4}, int64_t{16}});
  mb.output("y", k_f32, {int64_t{4}, int64_t{5}});
  init_random(mb, "w1", {12, 16}, 90);
  init_random(mb, "b1", {12}, 91);
  auto& g = mb.node("Gemm", {"x", "w1", "b1"}, {"h"}, "fc1");
  add_int_attr(g, "transB", 1);
  mb.node("HardSwish", {"h"}, {"a"}, "act1");
  init_random(mb, "w2", {12, 5}, 92);
  init_random(mb, "b2", {5}, 93);
  mb.node("MatMul", {"a", "w2"}, {"m"}, "fc2");
  mb.node("Add", {"m", "b2"}, {"s"}, "bias2");
  mb.node("Sigmoid", {"s"}, {"y"}, "act2");
  const Engine e = expect_fused_matches(dir.write("m.onnx", mb.bytes()), random({4, 16}, 4));
  EXPECT_EQ(count_ops(e, "FusedGemm"), 1);
  EXPECT_EQ(count_ops(e, "FusedMatMul"), 1);
  EXPECT_EQ(e.data()->graph.nodes.size(), 2u);
}

TEST(DnnlFusion, BatchNormFoldingNumerics) {
  // 1x1 conv, 2 → 2 channels, then BN: checked against a naive loop in double.
  TempDir dir;
  ModelBuilder mb(17);
  mb.input("x", k_f32, {int64_t{1}, int64_t{2}, int64_t{2}, int64_t{2}});
  mb.output("y", k_f32, {int64_t{1}, int64_t{2}, int64_t{2}, int64_t{2}});
  const std::vector<float> w{0.5f, -1.f, 2.f, 0.25f}, b{0.1f, -0.2f};
  const std::vector<float> scale{1.5f, 0.5f}, shift{0.3f, -0.7f}, mean{0.2f, -0.1f}, var{0.8f, 1.9f};
  const float eps = 1e-3f;
  mb.init_floats("w", {2, 2, 1, 1}, w);
  mb.init_floats("b", {2}, b);
  mb.init_floats("scale", {2}, scale);
  mb.init_floats("shift", {2}, shift);
  mb.init_floats("mean", {2}, mean);
  mb.init_floats("var", {2}, var);
  mb.node("Conv", {"x", "w", "b"}, {"c"}, "conv");
  auto& bn = mb.node("BatchNormalization", {"c", "scale", "shift", "mean", "var"}, {"y"}, "bn");
  add_float_attr(bn, "epsilon", eps);
  const std::string path = dir.write("m.onnx", mb.bytes());
  const Tensor x = random({1, 2, 2, 2}, 5, -2.f, 2.f);
  const Built fused = build_and_run(path, 3, x);
  EXPECT_EQ(count_ops(fused.engine, "BatchNormalization"), 0);
  for (int64_t o = 0; o < 2; ++o)
    for (int64_t p = 0; p < 4; ++p) {
      double c = b[o];
      for (int64_t i = 0; i < 2; ++i) c += static_cast<double>(w[o * 2 + i]) * x.data<float>()[i * 4 + p];
      const double want = (c - mean[o]) / std::sqrt(static_cast<double>(var[o]) + eps) * scale[o] + shift[o];
      EXPECT_NEAR(fused.outputs[0].data<float>()[o * 4 + p], want, 1e-5) << o << "," << p;
    }
}

TEST(DnnlFusion, ChannelsLastChainMatchesPlain) {
  // conv → relu → maxpool → conv + residual → relu → depthwise → GAP → flatten
  // → gemm: at level 3 the activations between oneDNN kernels go channels last.
  TempDir dir;
  ModelBuilder mb(17);
  mb.input("x", k_f32, {int64_t{2}, int64_t{3}, int64_t{16}, int64_t{16}});
  mb.output("y", k_f32, {int64_t{2}, int64_t{10}});
  conv(mb, "c1", "x", "a1", 3, 16, 3, 1, 110);
  mb.node("Relu", {"a1"}, {"r1"}, "relu1");
  auto& mp = mb.node("MaxPool", {"r1"}, {"p1"}, "pool");
  add_ints_attr(mp, "kernel_shape", {3, 3});
  add_ints_attr(mp, "strides", {2, 2});
  add_ints_attr(mp, "pads", {1, 1, 1, 1});
  conv(mb, "c2", "p1", "a2", 16, 16, 1, 1, 120);
  mb.node("Add", {"a2", "p1"}, {"s2"}, "add");
  mb.node("Relu", {"s2"}, {"r2"}, "relu2");
  conv(mb, "dw", "r2", "a3", 16, 16, 3, 16, 130);
  mb.node("GlobalAveragePool", {"a3"}, {"g"}, "gap");
  mb.node("Flatten", {"g"}, {"f"}, "flatten");
  init_random(mb, "fw", {10, 16}, 140);
  init_random(mb, "fb", {10}, 141);
  auto& fc = mb.node("Gemm", {"f", "fw", "fb"}, {"y"}, "fc");
  add_int_attr(fc, "transB", 1);
  const std::string path = dir.write("chain.onnx", mb.bytes());
  const Tensor x = random({2, 3, 16, 16}, 7);
  const Engine e = expect_fused_matches(path, x);
  int marked = 0;
  for (const ir::Node& n : e.data()->graph.nodes) marked += n.attr_i("kiln_out_layout", 0) != 0;
  EXPECT_EQ(marked, 4);  // c1, pool, c2 and dw write channels last (dw for the GAP)
  const Built level2 = build_and_run(path, 2, x);
  dnnl_util::expect_close(build_and_run(path, 3, x).outputs[0], level2.outputs[0], 1e-4, "level 3 vs 2");
  // The fused ops and layout attributes survive serialization.
  const std::vector<uint8_t> bytes = e.serialize();
  Session loaded(Engine::deserialize(bytes.data(), bytes.size()));
  const auto out = loaded.run({{"x", x}});
  dnnl_util::expect_close(out[0].tensor, level2.outputs[0], 1e-4, "deserialized level 3 vs level 2");
}

TEST(DnnlFusion, ThreadCountDoesNotChangeResults) {
  TempDir dir;
  ModelBuilder mb(17);
  mb.input("x", k_f32, {int64_t{2}, int64_t{8}, int64_t{12}, int64_t{12}});
  mb.output("y", k_f32, {int64_t{2}, int64_t{16}, int64_t{12}, int64_t{12}});
  conv(mb, "conv", "x", "c", 8, 16, 3, 1, 95);
  mb.node("Relu", {"c"}, {"y"}, "relu");
  const std::string path = dir.write("m.onnx", mb.bytes());
  const Tensor x = random({2, 8, 12, 12}, 6);
  const Built one = build_and_run(path, 3, x, 1);
  const Built all = build_and_run(path, 3, x, 0);
  dnnl_util::expect_close(one.outputs[0], all.outputs[0], 1e-5, "threads 1 vs all");
}

}  // namespace
}  // namespace kiln::test
