// oneDNN batch normalization (inference: global statistics, scale and shift)
// for the BatchNormalization nodes BN folding could not merge into a Conv; f32.
#include "backends/cpu/dnnl/context.h"
#include "backends/cpu/dnnl/dnnl_kernel.h"
#include "backends/cpu/dnnl/kernels.h"

namespace kiln::backend::onednn {

namespace {

using dnnl::memory;

class BatchNormKernel final : public DnnlKernel {
 public:
  BatchNormKernel(const ir::Node& node, const ir::Graph& graph, const KernelFactory& reference)
      : DnnlKernel(node, graph, reference) {}

  void run(KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    if (!usable(ctx)) return run_reference(ctx);
    CpuThreadScope threads(threads_for_work(static_cast<double>(x.numel()), k_small_elements));
    if (!m_plan || m_plan->x_shape != x.shape()) m_plan = make_plan(x.shape());
    if (!m_plan->ok) return run_reference(ctx);
    Tensor& y = ctx.output(0, DataType::Float32, x.shape());
    const memory::desc c_md({x.shape()[1]}, memory::data_type::f32, memory::format_tag::a);
    dnnl::stream& s = cpu_stream();
    m_plan->prim.execute(s, {{DNNL_ARG_SRC, wrap(m_plan->md, x)},
                             {DNNL_ARG_DST, wrap(m_plan->md, y)},
                             {DNNL_ARG_SCALE, wrap(c_md, ctx.input(1))},
                             {DNNL_ARG_SHIFT, wrap(c_md, ctx.input(2))},
                             {DNNL_ARG_MEAN, wrap(c_md, ctx.input(3))},
                             {DNNL_ARG_VARIANCE, wrap(c_md, ctx.input(4))}});
    s.wait();
    count_primitive_run();
  }

 private:
  struct Plan {
    bool ok = false;
    Shape x_shape;
    memory::desc md;
    dnnl::batch_normalization_forward prim;
  };

  bool usable(const KernelContext& ctx) const {
    const Tensor& x = ctx.input(0);
    if (node().attr_i("training_mode", 0) != 0 || ctx.num_outputs() > 1) return false;
    if (x.dtype() != DataType::Float32 || x.rank() < 2 || x.rank() > 5 || x.numel() == 0) return false;
    for (size_t i = 1; i < 5; ++i) {
      if (!ctx.has_input(i)) return false;
      const Tensor& t = ctx.input(i);
      if (t.dtype() != DataType::Float32 || t.rank() != 1 || t.shape()[0] != x.shape()[1]) return false;
    }
    return true;
  }

  std::unique_ptr<Plan> make_plan(const Shape& x) {
    auto p = std::make_unique<Plan>();
    p->x_shape = x;
    p->md = plain_f32(x);
    const auto flags = dnnl::normalization_flags::use_global_stats | dnnl::normalization_flags::use_scale |
                       dnnl::normalization_flags::use_shift;
    p->ok = primitive_created([&] {
      dnnl::batch_normalization_forward::desc d(dnnl::prop_kind::forward_inference, p->md,
                                                node().attr_f("epsilon", 1e-5f), flags);
      p->prim = dnnl::batch_normalization_forward(dnnl::batch_normalization_forward::primitive_desc(d, cpu_engine()));
      return true;
    });
    return p;
  }

  std::unique_ptr<Plan> m_plan;
};

}  // namespace

void register_dnnl_batch_norm(KernelRegistry& r) { override_kernel<BatchNormKernel>(r, "BatchNormalization"); }

}  // namespace kiln::backend::onednn
