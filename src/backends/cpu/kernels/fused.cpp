// Reference kernels of FusedConv, FusedGemm and FusedMatMul (FusedConvDw,
// FusedConvPool, FusedConvPair and SkipLayerNormalization run as their
// stages): the captured reference kernel of the ONNX op writes Y, then
// Z/bias is added and the activation applied in place, in the compute type
// of the reference kernels.
// Y may share Z's buffer (the memory planner's in-place outputs).
#include "backends/cpu/kernels/fused_kernels.h"

#include <memory>
#include <tuple>

#include "backends/cpu/kernels/elementwise_util.h"
#include "backends/kernel.h"
#include "core/dispatch.h"
#include "core/half.h"
#include "ir/ops/fused_attrs.h"
#include "kiln/error.h"

namespace kiln::backend {

namespace {

// ONNX semantics of the newest opset for the inner op (the fused node's own
// opset is the com.kiln one).
constexpr int64_t k_inner_opset = 21;

class FusedReference final : public Kernel {
 public:
  FusedReference(const ir::Node& node, const ir::Graph& graph, const std::string& inner_op, size_t inner_inputs,
                 const KernelFactory& inner)
      : m_node(node), m_inner_inputs(inner_inputs), m_act(ir::read_activation(node)) {
    m_inner_node = node;
    m_inner_node.op_type = inner_op;
    m_inner_node.domain = "";
    if (m_inner_node.inputs.size() > inner_inputs) m_inner_node.inputs.resize(inner_inputs);
    m_inner = inner(m_inner_node, graph);
    m_addend_is_bias = inner_op == "MatMul";
  }

  void run(KernelContext& ctx) override {
    std::vector<const Tensor*> ins;
    for (size_t i = 0; i < m_inner_inputs && i < ctx.num_inputs(); ++i)
      ins.push_back(ctx.optional_input(i));
    const Tensor* addend = ctx.optional_input(m_inner_inputs);
    Tensor addend_copy;
    std::vector<Tensor> outs(1);
    // Y may be planned over Z (OpSchema::inplace_input): the inner op writes
    // Y before Z is read, so Z is copied first then.
    KernelContext inner(m_inner_node, k_inner_opset, ins, outs,
                        [&](size_t, DataType dt, const Shape& s) {
                          Tensor y = ctx.output(0, dt, s);
                          if (addend && y.defined() && addend->raw() == y.raw()) {
                            addend_copy = addend->clone();
                            addend = &addend_copy;
                          }
                          return y;
                        },
                        ctx.stream());
    m_inner->run(inner);
    Tensor& y = outs[0];
    if (addend && addend->dtype() != y.dtype()) ctx.fail("the added input must have the output's dtype");
    if (addend) {
      const bool ok = m_addend_is_bias ? addend->rank() == 1 && y.rank() >= 1 && addend->shape()[0] == y.shape().back()
                                       : addend->shape() == y.shape();
      if (!ok) ctx.fail("added input " + shape_str(addend->shape()) + " does not fit the output " + shape_str(y.shape()));
    }
    // 16-bit values are added and activated in float, then rounded once.
    const auto apply = [&](auto tag, auto compute) {
      using T = decltype(tag);
      using C = decltype(compute);
      T* p = y.data<T>();
      const T* a = addend ? addend->data<T>() : nullptr;
      const int64_t n = y.numel(), cols = m_addend_is_bias && a ? addend->shape()[0] : 1;
      for (int64_t i = 0; i < n; ++i) {
        C v = static_cast<C>(p[i]);
        if (a) v += static_cast<C>(m_addend_is_bias ? a[i % cols] : a[i]);
        p[i] = static_cast<T>(ir::apply_activation(m_act, v));
      }
    };
    switch (y.dtype()) {
      case DataType::Float32: apply(float{}, float{}); break;
      case DataType::Float64: apply(double{}, double{}); break;
      case DataType::Float16: apply(Half{}, float{}); break;
      case DataType::BFloat16: apply(BFloat16{}, float{}); break;
      default: unsupported_dtype(y.dtype(), m_node.label());
    }
  }

 private:
  const ir::Node& m_node;
  ir::Node m_inner_node;
  size_t m_inner_inputs;
  ir::FusedActivation m_act;
  std::unique_ptr<Kernel> m_inner;
  bool m_addend_is_bias = false;
};

void add_fused(KernelRegistry& r, const std::string& op, const std::string& inner_op, size_t inner_inputs) {
  const KernelFactory* found = r.find(inner_op);
  if (!found) throw Error(ErrorCode::Internal, "register_cpu_fused: no reference kernel for " + inner_op);
  KernelFactory inner = *found;  // a copy: later registrations must not change it
  r.add(op, [inner, inner_op, inner_inputs](const ir::Node& node, const ir::Graph& graph) {
    return std::make_unique<FusedReference>(node, graph, inner_op, inner_inputs, inner);
  });
}

// A fused node as two stage kernels: `first` (at `first_opset`) writes a
// buffer of its own, which `second` reads as its input `mid_at` (a null in
// `second_in`) and which writes the node's output 0.
void run_stages(KernelContext& ctx, Kernel& first, const ir::Node& first_node, int64_t first_opset,
                std::vector<const Tensor*> first_in, Kernel& second, const ir::Node& second_node,
                int64_t second_opset, std::vector<const Tensor*> second_in, size_t mid_at) {
  std::vector<Tensor> mid(1), out(1);
  KernelContext a(first_node, first_opset, std::move(first_in), mid,
                  [](size_t, DataType dt, const Shape& s) { return Tensor::empty(dt, s); }, ctx.stream());
  first.run(a);
  second_in[mid_at] = &mid[0];
  KernelContext b(second_node, second_opset, std::move(second_in), out,
                  [&ctx](size_t, DataType dt, const Shape& s) { return ctx.output(0, dt, s); }, ctx.stream());
  second.run(b);
}

// FusedConvDw as its two FusedConv stages, with the expanded tensor between
// them in a buffer of its own.
class FusedConvDwReference final : public Kernel {
 public:
  FusedConvDwReference(const ir::Node& node, const ir::Graph& graph, const KernelFactory& fused_conv) {
    std::tie(m_stage1, m_stage2) = ir::conv_dw_stages(node, graph);
    m_first = fused_conv(m_stage1, graph);
    m_second = fused_conv(m_stage2, graph);
  }

  void run(KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    if (x.rank() != 4) ctx.fail("input " + shape_str(x.shape()) + " is not 4-D");
    run_stages(ctx, *m_first, m_stage1, 1, {&x, &ctx.input(1), ctx.optional_input(2)}, *m_second, m_stage2, 1,
               {nullptr, &ctx.input(3), ctx.optional_input(4)}, 0);
  }

 private:
  ir::Node m_stage1, m_stage2;
  std::unique_ptr<Kernel> m_first, m_second;
};

// FusedConvPool as its FusedConv stage into a buffer of its own (a float32 X
// rounded to W's dtype first), then the reference MaxPool.
class FusedConvPoolReference final : public Kernel {
 public:
  FusedConvPoolReference(const ir::Node& node, const ir::Graph& graph, const KernelFactory& fused_conv,
                         const KernelFactory& max_pool) {
    std::tie(m_conv_node, m_pool_node) = ir::conv_pool_stages(node);
    m_conv = fused_conv(m_conv_node, graph);
    m_pool = max_pool(m_pool_node, graph);
  }

  void run(KernelContext& ctx) override {
    const Tensor* x = &ctx.input(0);
    if (x->rank() != 4) ctx.fail("input " + shape_str(x->shape()) + " is not 4-D");
    // A float32 X with 16-bit W: X rounded to W's dtype first (the schema).
    Tensor rounded;
    if (x->dtype() != ctx.input(1).dtype()) {
      rounded = ew::cast_tensor(*x, ctx.input(1).dtype(), m_conv_node.label());
      x = &rounded;
    }
    run_stages(ctx, *m_conv, m_conv_node, 1, {x, &ctx.input(1), ctx.optional_input(2)}, *m_pool, m_pool_node,
               k_inner_opset, {nullptr}, 0);
  }

 private:
  ir::Node m_conv_node, m_pool_node;
  std::unique_ptr<Kernel> m_conv, m_pool;
};

// FusedConvPair as its Z stage into a buffer of its own, then the main
// FusedConv stage adding it.
class FusedConvPairReference final : public Kernel {
 public:
  FusedConvPairReference(const ir::Node& node, const ir::Graph& graph, const KernelFactory& fused_conv) {
    std::tie(m_z_node, m_main_node) = ir::conv_pair_stages(node);
    m_z = fused_conv(m_z_node, graph);
    m_main = fused_conv(m_main_node, graph);
  }

  void run(KernelContext& ctx) override {
    run_stages(ctx, *m_z, m_z_node, 1, {&ctx.input(3), &ctx.input(4), ctx.optional_input(5)}, *m_main, m_main_node, 1,
               {&ctx.input(0), &ctx.input(1), ctx.optional_input(2), nullptr}, 3);
  }

 private:
  ir::Node m_z_node, m_main_node;
  std::unique_ptr<Kernel> m_z, m_main;
};

// SkipLayerNormalization as the reference Add (Sum, in A's dtype), then the
// reference LayerNormalization of Sum.
class SkipLayerNormReference final : public Kernel {
 public:
  SkipLayerNormReference(const ir::Node& node, const ir::Graph& graph, const KernelFactory& add,
                         const KernelFactory& layer_norm)
      : m_add_node(node), m_ln_node(node) {
    m_add_node.op_type = "Add";
    m_add_node.domain = "";
    m_add_node.attrs.clear();
    m_add_node.inputs = {node.inputs[0], node.inputs[1]};
    m_add_node.outputs = {node.outputs.size() > 1 && node.outputs[1] != ir::k_no_value ? node.outputs[1]
                                                                                          : node.outputs[0]};
    m_ln_node.op_type = "LayerNormalization";
    m_ln_node.domain = "";
    m_ln_node.inputs = {m_add_node.outputs[0], node.inputs[2]};
    if (node.inputs.size() > 3) m_ln_node.inputs.push_back(node.inputs[3]);
    m_ln_node.outputs = {node.outputs[0]};
    m_add = add(m_add_node, graph);
    m_ln = layer_norm(m_ln_node, graph);
  }

  void run(KernelContext& ctx) override {
    if (ctx.input(0).shape() != ctx.input(1).shape())
      ctx.fail("B " + shape_str(ctx.input(1).shape()) + " must have the shape of A " + shape_str(ctx.input(0).shape()));
    std::vector<Tensor> sum(1), y(1);
    KernelContext add(m_add_node, k_inner_opset, {&ctx.input(0), &ctx.input(1)}, sum,
                      [&](size_t, DataType dt, const Shape& s) {
                        return ctx.has_output(1) ? ctx.output(1, dt, s) : Tensor::empty(dt, s);
                      },
                      ctx.stream());
    m_add->run(add);
    KernelContext ln(m_ln_node, k_inner_opset, {&sum[0], &ctx.input(2), ctx.optional_input(3)}, y,
                     [&](size_t, DataType dt, const Shape& s) { return ctx.output(0, dt, s); }, ctx.stream());
    m_ln->run(ln);
  }

 private:
  ir::Node m_add_node, m_ln_node;
  std::unique_ptr<Kernel> m_add, m_ln;
};

}  // namespace

void register_cpu_fused(KernelRegistry& r) {
  add_fused(r, "FusedConv", "Conv", 3);
  const KernelFactory fused_conv = *r.find("FusedConv");  // a copy: later registrations must not change it
  r.add("FusedConvDw", [fused_conv](const ir::Node& node, const ir::Graph& graph) {
    return std::make_unique<FusedConvDwReference>(node, graph, fused_conv);
  });
  const KernelFactory* max_pool = r.find("MaxPool");
  if (!max_pool) throw Error(ErrorCode::Internal, "register_cpu_fused: no reference MaxPool");
  r.add("FusedConvPool", [fused_conv, max_pool = *max_pool](const ir::Node& node, const ir::Graph& graph) {
    return std::make_unique<FusedConvPoolReference>(node, graph, fused_conv, max_pool);
  });
  r.add("FusedConvPair", [fused_conv](const ir::Node& node, const ir::Graph& graph) {
    return std::make_unique<FusedConvPairReference>(node, graph, fused_conv);
  });
  add_fused(r, "FusedGemm", "Gemm", 3);
  add_fused(r, "FusedMatMul", "MatMul", 2);
  const KernelFactory* add = r.find("Add");
  const KernelFactory* layer_norm = r.find("LayerNormalization");
  if (!add || !layer_norm) throw Error(ErrorCode::Internal, "register_cpu_fused: no reference Add or LayerNormalization");
  r.add("SkipLayerNormalization", [add = *add, layer_norm = *layer_norm](const ir::Node& node, const ir::Graph& graph) {
    return std::make_unique<SkipLayerNormReference>(node, graph, add, layer_norm);
  });
}

}  // namespace kiln::backend
