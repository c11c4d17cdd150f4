// oneDNN kernel of com.kiln::FusedConvDw: a 1x1 convolution with a depthwise
// 3x3 convolution as a "dw" post-op, one primitive. oneDNN's fused 1x1
// implementation computes the expanded tensor in cache-sized pieces and never
// writes it to memory, which is what makes MobileNet blocks memory-bound
// otherwise. Activations in the layouts the layout pass chose; both weights
// reordered once (they are constants: the fusion pass requires it).
// oneDNN's "ref_fused_convolution" (its two JIT kernels run one after the
// other) is accepted; a plain reference implementation is not, and then
// kiln's reference kernel (the two FusedConv stages) runs instead.
#include <algorithm>
#include <optional>
#include <string>
#include <tuple>
#include <unordered_map>

#include "backends/cpu/dnnl/context.h"
#include "backends/cpu/dnnl/dnnl_kernel.h"
#include "backends/cpu/dnnl/kernels.h"
#include "backends/cpu/dnnl/post_ops.h"
#include "kiln/error.h"

namespace kiln::backend::onednn {

namespace {

using dnnl::memory;

// Whether oneDNN's implementation is JIT code throughout.
bool jit_only(const std::string& impl) {
  const std::string fused = "ref_fused_convolution:";
  if (impl.rfind(fused, 0) == 0) return impl.find("ref", fused.size()) == std::string::npos;
  return impl.rfind("ref", 0) != 0;
}

class ConvDwKernel final : public DnnlKernel {
 public:
  ConvDwKernel(const ir::Node& node, const ir::Graph& graph, const KernelFactory& reference)
      : DnnlKernel(node, graph, reference),
        m_act(ir::read_activation(node)),
        m_dw_act(ir::read_activation(node, "dw_")),
        m_strides(node.attr_ints("dw_strides")) {}

  void run(KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    for (size_t i = 0; i < ctx.num_inputs(); ++i)
      if (ctx.has_input(i) && ctx.input(i).dtype() != DataType::Float32) return run_reference(ctx);
    if (x.rank() != 4 || ctx.input(1).rank() != 4 || ctx.input(3).rank() != 4) return run_reference(ctx);
    const Shape& w = ctx.input(1).shape();
    // The 1x1 stage's multiply-adds dominate (the depthwise stage does 9 per output).
    CpuThreadScope threads(threads_for_work(
        static_cast<double>(x.shape()[0] * x.shape()[2] * x.shape()[3]) * static_cast<double>(w[0] * w[1]),
        k_small_macs));
    if (!m_plan || m_plan->x_shape != x.shape()) m_plan = make_plan(ctx);
    if (!m_plan->ok) return run_reference(ctx);
    execute(ctx);
  }

 private:
  struct Plan {
    bool ok = false;
    Shape x_shape, y_shape;
    dnnl::primitive prim;
    memory::desc x_md, y_md, w_md, b_md, dw_w_md, dw_b_md;
    memory weights, dw_weights, dw_bias;  // in the primitive's layouts
    bool weights_ready = false;
    // The primitive's own activation layouts (blocked), when they are not
    // kiln's: reorders around it.
    std::optional<dnnl::reorder> src_reorder, dst_reorder;
    memory src_buf, dst_buf;
  };

  std::unique_ptr<Plan> make_plan(const KernelContext& ctx) {
    auto p = std::make_unique<Plan>();
    const Shape& x = ctx.input(0).shape();
    const Shape& w = ctx.input(1).shape();
    p->x_shape = x;
    const int64_t m = w[0];
    if (w[1] != x[1] || w[2] != 1 || w[3] != 1 || ctx.input(3).shape() != Shape{m, 1, 3, 3}) return p;
    if ((ctx.has_input(2) && ctx.input(2).shape() != Shape{m}) || (ctx.has_input(4) && ctx.input(4).shape() != Shape{m}))
      return p;  // the reference kernel says what is wrong
    if (m_strides.size() != 2 || m_strides[0] != m_strides[1] || m_strides[0] < 1) return p;
    const int64_t s = m_strides[0];
    p->y_shape = {x[0], m, (x[2] - 1) / s + 1, (x[3] - 1) / s + 1};
    dnnl::post_ops po;
    if (!append_activation(po, m_act)) return p;
    po.append_dw(memory::data_type::f32, memory::data_type::f32, memory::data_type::f32, 3, s, 1, 0, {1.f});
    if (!append_activation(po, m_dw_act)) return p;
    dnnl::primitive_attr attr;
    attr.set_post_ops(po);
    p->x_md = layout_f32(x, in_layout(0));
    p->y_md = layout_f32(p->y_shape, out_layout());
    p->w_md = plain_f32(w);
    p->b_md = memory::desc({m}, memory::data_type::f32, memory::format_tag::a);
    // Activations blocked by 16 channels: measured with oneDNN 2.6, its fused
    // 1x1 + depthwise kernel (jit_1x1) computes wrong values on channels-last
    // (NHWC) tensors and exact ones on nChw16c, so the primitive runs blocked
    // with reorders around it. The expanded tensor's descriptor is the 1x1
    // stage's output, never stored.
    const memory::desc src_md(to_dims(x), memory::data_type::f32, memory::format_tag::aBcd16b);
    const memory::desc mid_md(memory::dims{x[0], m, x[2], x[3]}, memory::data_type::f32, memory::format_tag::aBcd16b);
    p->ok = primitive_created([&] {
      dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                        src_md, memory::desc({m, x[1], 1, 1}, memory::data_type::f32,
                                                             memory::format_tag::any),
                                        p->b_md, mid_md, {1, 1}, {0, 0}, {0, 0});
      dnnl::convolution_forward::primitive_desc pd(d, attr, cpu_engine());
      while (!jit_only(pd.impl_info_str()))
        if (!pd.next_impl()) return false;
      p->prim = dnnl::convolution_forward(pd);
      if (pd.src_desc() != p->x_md) {
        p->src_buf = memory(pd.src_desc(), cpu_engine());
        p->src_reorder = make_reorder(p->x_md, pd.src_desc());
      }
      if (pd.dst_desc() != p->y_md) {
        p->dst_buf = memory(pd.dst_desc(), cpu_engine());
        p->dst_reorder = make_reorder(pd.dst_desc(), p->y_md);
      }
      p->weights = memory(pd.weights_desc(), cpu_engine());
      p->dw_w_md = pd.query_md(dnnl::query::exec_arg_md, DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_WEIGHTS);
      p->dw_b_md = pd.query_md(dnnl::query::exec_arg_md, DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_BIAS);
      p->dw_weights = memory(p->dw_w_md, cpu_engine());
      p->dw_bias = memory(p->dw_b_md, cpu_engine());
      return true;
    });
    return p;
  }

  // Both weights and both biases into the primitive's layouts (once: they are
  // graph constants); a missing bias is zeros.
  void prepare_weights(const KernelContext& ctx, Plan& p) {
    dnnl::stream& s = cpu_stream();
    memory w = wrap(p.w_md, ctx.input(1));
    make_reorder(p.w_md, p.weights.get_desc()).execute(s, w, p.weights);
    const Tensor& wdw = ctx.input(3);
    const int64_t m = wdw.shape()[0];
    const memory::desc dw_plain({m, 1, 1, 3, 3}, memory::data_type::f32, memory::format_tag::goihw);
    memory wd = wrap(dw_plain, wdw);
    make_reorder(dw_plain, p.dw_w_md).execute(s, wd, p.dw_weights);
    float* db = static_cast<float*>(p.dw_bias.get_data_handle());
    for (int64_t i = 0; i < m; ++i) db[i] = ctx.has_input(4) ? ctx.input(4).data<float>()[i] : 0.f;
    s.wait();
    p.weights_ready = true;
  }

  void execute(KernelContext& ctx) {
    Plan& p = *m_plan;
    if (!p.weights_ready) prepare_weights(ctx, p);
    Tensor& y = ctx.output(0, DataType::Float32, p.y_shape);
    Tensor zero_bias;
    if (!ctx.has_input(2)) {
      zero_bias = Tensor::empty(DataType::Float32, {ctx.input(1).shape()[0]});
      std::fill_n(zero_bias.data<float>(), zero_bias.numel(), 0.f);
    }
    const Tensor& b = ctx.has_input(2) ? ctx.input(2) : zero_bias;
    dnnl::stream& s = cpu_stream();
    memory src = wrap(p.x_md, ctx.input(0));
    if (p.src_reorder) {
      p.src_reorder->execute(s, src, p.src_buf);
      src = p.src_buf;
    }
    memory y_mem = wrap(p.y_md, y);
    memory dst = p.dst_reorder ? p.dst_buf : y_mem;
    p.prim.execute(s, {{DNNL_ARG_SRC, src},
                       {DNNL_ARG_WEIGHTS, p.weights},
                       {DNNL_ARG_BIAS, wrap(p.b_md, b)},
                       {DNNL_ARG_DST, dst},
                       {DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_WEIGHTS, p.dw_weights},
                       {DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_BIAS, p.dw_bias}});
    if (p.dst_reorder) p.dst_reorder->execute(s, p.dst_buf, y_mem);
    s.wait();
    count_primitive_run();
  }

  ir::FusedActivation m_act, m_dw_act;
  std::vector<int64_t> m_strides;  // equal (the schema says so): oneDNN's dw post-op takes one
  std::unique_ptr<Plan> m_plan;
};

// The "onednn_split" candidate: the two stages as oneDNN FusedConv kernels
// with the expanded tensor, channels last, in a buffer of the kernel's own.
// Faster than the fused primitive on small images, where the expanded tensor
// stays in cache anyway and the reorders around the blocked primitive cost
// more than they save; the builder times both per node.
class SplitConvDwKernel final : public Kernel {
 public:
  SplitConvDwKernel(const ir::Node& node, const ir::Graph& graph, const KernelFactory& fused_conv) {
    std::tie(m_stage1, m_stage2) = ir::conv_dw_stages(node, graph);
    // The expanded tensor between them channels last; X and Y as the layout
    // pass chose for the fused node.
    const std::vector<int64_t> in_layouts = node.attr_ints("kiln_in_layouts");
    ir::Attribute layouts;
    layouts.kind = ir::Attribute::Kind::Ints;
    layouts.ints = {in_layouts.empty() ? 0 : in_layouts[0], 0, 0};
    m_stage1.attrs["kiln_in_layouts"] = layouts;
    layouts.ints = {1, 0, 0};
    m_stage2.attrs["kiln_in_layouts"] = layouts;
    ir::Attribute out;
    out.kind = ir::Attribute::Kind::Int;
    out.i = 1;
    m_stage1.attrs["kiln_out_layout"] = out;
    out.i = node.attr_i("kiln_out_layout", 0);
    m_stage2.attrs["kiln_out_layout"] = out;
    m_first = fused_conv(m_stage1, graph);
    m_second = fused_conv(m_stage2, graph);
  }

  void run(KernelContext& ctx) override {
    std::vector<Tensor> mid(1), out(1);
    KernelContext first(m_stage1, 1, {&ctx.input(0), &ctx.input(1), ctx.optional_input(2)}, mid,
                        [this](size_t, DataType dt, const Shape& s) {
                          if (!m_mid.defined() || m_mid.shape() != s || m_mid.dtype() != dt) m_mid = Tensor::empty(dt, s);
                          return m_mid;
                        },
                        ctx.stream());
    m_first->run(first);
    KernelContext second(m_stage2, 1, {&mid[0], &ctx.input(3), ctx.optional_input(4)}, out,
                         [&ctx](size_t, DataType dt, const Shape& s) { return ctx.output(0, dt, s); }, ctx.stream());
    m_second->run(second);
  }

 private:
  ir::Node m_stage1, m_stage2;  // the kernels below keep references to these
  std::unique_ptr<Kernel> m_first, m_second;
  Tensor m_mid;
};

}  // namespace

void register_dnnl_conv_dw(KernelRegistry& r) {
  const KernelFactory* fused_conv = r.find("FusedConv", "onednn");
  if (!fused_conv) return;
  const KernelFactory split_stages = *fused_conv;  // a copy: later registrations must not change it
  override_kernel<ConvDwKernel>(r, "FusedConvDw", [split_stages](KernelRegistry& reg, const std::string& op,
                                                                 const KernelFactory&) {
    reg.add(
        op,
        [split_stages](const ir::Node& node, const ir::Graph& graph) -> std::unique_ptr<Kernel> {
          return std::make_unique<SplitConvDwKernel>(node, graph, split_stages);
        },
        "onednn_split");
  });
}

}  // namespace kiln::backend::onednn
