// oneDNN deconvolution for ConvTranspose (f32, 1-3 spatial axes, plain
// layout). ONNX's W is [C, M/group, k...]; oneDNN reads it in place through
// strides as [group, M/group, C/group, k...]. Output sizes come from the
// reference geometry (nn_attrs.h); a case whose end padding oneDNN cannot
// express (output_padding or output_shape past the natural size) runs on the
// reference kernel.
#include <optional>

#include "backends/cpu/dnnl/context.h"
#include "backends/cpu/dnnl/dnnl_kernel.h"
#include "backends/cpu/dnnl/kernels.h"
#include "ir/ops/nn_attrs.h"

namespace kiln::backend::onednn {

namespace {

using dnnl::memory;

class ConvTransposeKernel final : public DnnlKernel {
 public:
  ConvTransposeKernel(const ir::Node& node, const ir::Graph& graph, const KernelFactory& reference)
      : DnnlKernel(node, graph, reference), m_const_w(input_is_constant(graph, node, 1)) {}

  void run(KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    const Tensor& w = ctx.input(1);
    if (x.dtype() != DataType::Float32 || w.dtype() != DataType::Float32 || x.rank() < 3 || x.rank() > 5 ||
        w.rank() != x.rank() || x.numel() == 0 || w.numel() == 0 ||
        (ctx.has_input(2) && ctx.input(2).dtype() != DataType::Float32))
      return run_reference(ctx);
    CpuThreadScope threads(threads_for_work(static_cast<double>(x.numel()) * static_cast<double>(w.numel()) /
                                           static_cast<double>(x.shape()[1]),
                                       k_small_macs));
    if (!m_plan || m_plan->x_shape != x.shape() || m_plan->w_shape != w.shape()) m_plan = make_plan(ctx);
    if (!m_plan->ok) return run_reference(ctx);
    Plan& p = *m_plan;
    dnnl::stream& s = cpu_stream();
    Tensor& y = ctx.output(0, DataType::Float32, p.y_shape);
    memory w_mem = wrap(p.w_md, w);
    if (p.w_reorder) {
      if (!p.weights_ready) p.w_reorder->execute(s, w_mem, p.weights);
      p.weights_ready = m_const_w;
      w_mem = p.weights;
    }
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC, wrap(p.x_md, x)}, {DNNL_ARG_WEIGHTS, w_mem}, {DNNL_ARG_DST, wrap(p.y_md, y)}};
    if (ctx.has_input(2)) args[DNNL_ARG_BIAS] = wrap(p.b_md, ctx.input(2));
    p.prim.execute(s, args);
    s.wait();
    count_primitive_run();
  }

 private:
  struct Plan {
    bool ok = false, weights_ready = false;
    Shape x_shape, w_shape, y_shape;
    memory::desc x_md, y_md, w_md, b_md;
    dnnl::deconvolution_forward prim;
    memory weights;
    std::optional<dnnl::reorder> w_reorder;
  };

  std::unique_ptr<Plan> make_plan(const KernelContext& ctx) {
    auto p = std::make_unique<Plan>();
    const Shape& x = ctx.input(0).shape();
    const Shape& w = ctx.input(1).shape();
    p->x_shape = x;
    p->w_shape = w;
    const ir::Node& n = node();
    const size_t nd = x.size() - 2;
    const int64_t group = n.attr_i("group", 1), c = x[1];
    if (group < 1 || w[0] != c || c % group != 0) return p;
    const int64_t cg = c / group, mg = w[1], m = mg * group;
    if (ctx.has_input(2) && (ctx.input(2).rank() != 1 || ctx.input(2).shape()[0] != m)) return p;
    std::vector<int64_t> kernel(w.begin() + 2, w.end());
    ir::Window win = ir::read_window(n, nd, kernel, false);
    std::vector<int64_t> out_pad = n.attr_ints("output_padding");
    if (out_pad.empty()) out_pad.assign(nd, 0);
    std::vector<int64_t> out_shape = n.attr_ints("output_shape");
    if (out_shape.size() == nd + 2) out_shape.erase(out_shape.begin(), out_shape.begin() + 2);
    if (out_pad.size() != nd || (!out_shape.empty() && out_shape.size() != nd)) return p;
    p->y_shape = {x[0], m};
    memory::dims strides, dilations, pad_l, pad_r;
    for (size_t i = 0; i < nd; ++i) {
      const int64_t out =
          ir::transpose_out_dim(n, win, i, x[i + 2], out_pad[i], out_shape.empty() ? 0 : out_shape[i]);
      p->y_shape.push_back(out);
      const int64_t pl = win.pads[i], pr = (x[i + 2] - 1) * win.strides[i] + win.extent(i) - pl - out;
      if (pl < 0 || pr < 0) return p;
      strides.push_back(win.strides[i]);
      dilations.push_back(win.dilations[i] - 1);
      pad_l.push_back(pl);
      pad_r.push_back(pr);
    }
    // oneDNN dims [group, M/group, C/group, k...] over ONNX's [C, M/group, k...].
    int64_t taps = 1;
    for (int64_t k : kernel) taps *= k;
    memory::dims wd{group, mg, cg}, ws{cg * mg * taps, taps, mg * taps};
    for (size_t i = 0; i < nd; ++i) {
      wd.push_back(kernel[i]);
      int64_t inner = 1;
      for (size_t j = i + 1; j < nd; ++j) inner *= kernel[j];
      ws.push_back(inner);
    }
    p->w_md = memory::desc(wd, memory::data_type::f32, ws);
    p->x_md = plain_f32(x);
    p->y_md = plain_f32(p->y_shape);
    p->b_md = memory::desc({m}, memory::data_type::f32, memory::format_tag::a);
    p->ok = primitive_created([&] {
      dnnl::deconvolution_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::deconvolution_direct,
                                          p->x_md, memory::desc(wd, memory::data_type::f32, memory::format_tag::any),
                                          ctx.has_input(2) ? p->b_md : memory::desc(), p->y_md, strides, dilations,
                                          pad_l, pad_r);
      dnnl::deconvolution_forward::primitive_desc pd(d, cpu_engine());
      if (!skip_reference_impls(pd)) return false;
      p->prim = dnnl::deconvolution_forward(pd);
      if (pd.weights_desc() != p->w_md) {
        p->weights = memory(pd.weights_desc(), cpu_engine());
        p->w_reorder = make_reorder(p->w_md, pd.weights_desc());
      }
      return true;
    });
    return p;
  }

  bool m_const_w;
  std::unique_ptr<Plan> m_plan;
};

}  // namespace

void register_dnnl_conv_transpose(KernelRegistry& r) { override_kernel<ConvTransposeKernel>(r, "ConvTranspose"); }

}  // namespace kiln::backend::onednn
