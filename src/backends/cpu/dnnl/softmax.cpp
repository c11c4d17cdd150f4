// oneDNN softmax / logsoftmax (f32). Opset < 13 flattens the input to 2-D at
// `axis` and normalizes each row; opset >= 13 normalizes along `axis` alone.
#include "backends/cpu/dnnl/context.h"
#include "backends/cpu/dnnl/dnnl_kernel.h"
#include "backends/cpu/dnnl/kernels.h"
#include "ir/ops/nn_attrs.h"

namespace kiln::backend::onednn {

namespace {

using dnnl::memory;

template <bool Log>
class SoftmaxKernel final : public DnnlKernel {
 public:
  SoftmaxKernel(const ir::Node& node, const ir::Graph& graph, const KernelFactory& reference)
      : DnnlKernel(node, graph, reference) {}

  void run(KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    if (x.dtype() != DataType::Float32 || x.rank() < 1 || x.rank() > 6 || x.numel() == 0) return run_reference(ctx);
    CpuThreadScope threads(threads_for_work(static_cast<double>(x.numel()), k_small_elements));
    if (!m_plan || m_plan->x_shape != x.shape() || m_plan->opset != ctx.opset()) m_plan = make_plan(ctx);
    if (!m_plan->ok) return run_reference(ctx);
    Tensor& y = ctx.output(0, DataType::Float32, x.shape());
    dnnl::stream& s = cpu_stream();
    m_plan->prim.execute(s, {{DNNL_ARG_SRC, wrap(m_plan->md, x)}, {DNNL_ARG_DST, wrap(m_plan->md, y)}});
    s.wait();
    count_primitive_run();
  }

 private:
  struct Plan {
    bool ok = false;
    Shape x_shape;
    int64_t opset = 0;
    memory::desc md;
    dnnl::primitive prim;
  };

  std::unique_ptr<Plan> make_plan(const KernelContext& ctx) {
    auto p = std::make_unique<Plan>();
    const Shape& x = ctx.input(0).shape();
    p->x_shape = x;
    p->opset = ctx.opset();
    const bool old = ir::opset_before(ctx.opset(), 13);
    const auto rank = static_cast<int64_t>(x.size());
    int64_t axis = node().attr_i("axis", old ? 1 : -1);
    if (axis < -rank || axis >= rank) return p;  // the reference kernel reports it
    if (axis < 0) axis += rank;
    Shape shape = x;
    if (old) {
      int64_t outer = 1, inner = 1;
      for (int64_t i = 0; i < rank; ++i) (i < axis ? outer : inner) *= x[static_cast<size_t>(i)];
      shape = {outer, inner};
      axis = 1;
    }
    p->md = plain_f32(shape);
    p->ok = primitive_created([&] {
      if (Log) {
        dnnl::logsoftmax_forward::desc d(dnnl::prop_kind::forward_inference, p->md, static_cast<int>(axis));
        p->prim = dnnl::logsoftmax_forward(dnnl::logsoftmax_forward::primitive_desc(d, cpu_engine()));
      } else {
        dnnl::softmax_forward::desc d(dnnl::prop_kind::forward_inference, p->md, static_cast<int>(axis));
        p->prim = dnnl::softmax_forward(dnnl::softmax_forward::primitive_desc(d, cpu_engine()));
      }
      return true;
    });
    return p;
  }

  std::unique_ptr<Plan> m_plan;
};

}  // namespace

void register_dnnl_softmax(KernelRegistry& r) {
  override_kernel<SoftmaxKernel<false>>(r, "Softmax");
  override_kernel<SoftmaxKernel<true>>(r, "LogSoftmax");
}

}  // namespace kiln::backend::onednn
