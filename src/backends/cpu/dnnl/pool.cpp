// oneDNN pooling for MaxPool (without the Indices output), AveragePool,
// GlobalAveragePool and GlobalMaxPool; f32, 1-3 spatial axes, in the layouts
// the layout pass chose (plain or channels last).
// ceil_mode's extra window is extra right padding for oneDNN; with
// count_include_pad=1 that padding would enter the divisor, which ONNX does
// not count, so that case (like any oneDNN refuses) runs on the reference.
#include <optional>

#include "backends/cpu/dnnl/context.h"
#include "backends/cpu/dnnl/dnnl_kernel.h"
#include "backends/cpu/dnnl/kernels.h"
#include "ir/ops/nn_attrs.h"

namespace kiln::backend::onednn {

namespace {

using dnnl::memory;

enum class PoolKind { Max, Average, GlobalAverage, GlobalMax };

struct PoolProblem {
  dnnl::algorithm alg = dnnl::algorithm::pooling_max;
  memory::dims strides, kernel, dilations, pad_l, pad_r;
  Shape y_shape;
};

std::optional<PoolProblem> pool_problem(PoolKind kind, const ir::Node& node, const Shape& x) {
  const size_t nd = x.size() - 2;
  PoolProblem p;
  p.y_shape = {x[0], x[1]};
  if (kind == PoolKind::GlobalAverage || kind == PoolKind::GlobalMax) {
    p.alg = kind == PoolKind::GlobalMax ? dnnl::algorithm::pooling_max : dnnl::algorithm::pooling_avg_exclude_padding;
    for (size_t i = 0; i < nd; ++i) {
      p.y_shape.push_back(1);
      p.strides.push_back(1);
      p.kernel.push_back(x[i + 2]);
      p.dilations.push_back(0);
      p.pad_l.push_back(0);
      p.pad_r.push_back(0);
    }
    return p;
  }
  const bool include_pad = kind == PoolKind::Average && node.attr_i("count_include_pad", 0) == 1;
  p.alg = kind == PoolKind::Max   ? dnnl::algorithm::pooling_max
          : include_pad           ? dnnl::algorithm::pooling_avg_include_padding
                                  : dnnl::algorithm::pooling_avg_exclude_padding;
  ir::Window w = ir::read_window(node, nd, {}, true);
  for (size_t i = 0; i < nd; ++i) p.y_shape.push_back(ir::window_out_dim(node, w, i, x[i + 2]));
  for (size_t i = 0; i < nd; ++i) {
    const int64_t pl = w.pads[i], pr = w.pads[i + nd];
    // Right padding that makes oneDNN's floor arithmetic give this output size.
    const int64_t needed = (p.y_shape[i + 2] - 1) * w.strides[i] + w.extent(i) - x[i + 2] - pl;
    if (pl < 0 || pr < 0) return std::nullopt;
    // A window lying wholly in the padding reads nothing: the reference kernel
    // defines that (lowest value, or 0), oneDNN does not.
    if (pl >= w.extent(i) || (p.y_shape[i + 2] - 1) * w.strides[i] - pl >= x[i + 2]) return std::nullopt;
    if (needed > pr && include_pad) return std::nullopt;
    p.strides.push_back(w.strides[i]);
    p.kernel.push_back(w.kernel[i]);
    p.dilations.push_back(w.dilations[i] - 1);
    p.pad_l.push_back(pl);
    p.pad_r.push_back(std::max(pr, needed));
  }
  return p;
}

template <PoolKind Kind>
class PoolKernel final : public DnnlKernel {
 public:
  PoolKernel(const ir::Node& node, const ir::Graph& graph, const KernelFactory& reference)
      : DnnlKernel(node, graph, reference) {}

  void run(KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    if (x.dtype() != DataType::Float32 || x.rank() < 3 || x.rank() > 5 || x.numel() == 0 ||
        (Kind == PoolKind::Max && (ctx.has_output(1) || node().attr_i("storage_order", 0) != 0)))
      return run_reference(ctx);
    CpuThreadScope threads(threads_for_work(static_cast<double>(x.numel()), k_small_elements));
    if (!m_plan || m_plan->x_shape != x.shape()) m_plan = make_plan(x.shape());
    if (!m_plan->ok) return run_reference(ctx);
    Tensor& y = ctx.output(0, DataType::Float32, m_plan->y_shape);
    dnnl::stream& s = cpu_stream();
    m_plan->prim.execute(s, {{DNNL_ARG_SRC, wrap(m_plan->x_md, x)}, {DNNL_ARG_DST, wrap(m_plan->y_md, y)}});
    s.wait();
    count_primitive_run();
  }

 private:
  struct Plan {
    bool ok = false;
    Shape x_shape, y_shape;
    memory::desc x_md, y_md;
    dnnl::pooling_v2_forward prim;
  };

  std::unique_ptr<Plan> make_plan(const Shape& x) {
    auto p = std::make_unique<Plan>();
    p->x_shape = x;
    const auto prob = pool_problem(Kind, node(), x);
    if (!prob || shape_numel(prob->y_shape) == 0) return p;
    p->y_shape = prob->y_shape;
    p->x_md = layout_f32(x, in_layout(0));
    // An output of one pixel per channel is the same bytes in every layout:
    // describe it like the input, for which oneDNN has JIT kernels.
    bool one_pixel = true;
    for (size_t i = 2; i < p->y_shape.size(); ++i) one_pixel &= p->y_shape[i] == 1;
    p->y_md = layout_f32(p->y_shape, one_pixel ? in_layout(0) : out_layout());
    p->ok = primitive_created([&] {
      dnnl::pooling_v2_forward::desc d(dnnl::prop_kind::forward_inference, prob->alg, p->x_md, p->y_md, prob->strides,
                                       prob->kernel, prob->dilations, prob->pad_l, prob->pad_r);
      dnnl::pooling_v2_forward::primitive_desc pd(d, cpu_engine());
      if (!skip_reference_impls(pd)) return false;
      p->prim = dnnl::pooling_v2_forward(pd);
      return true;
    });
    return p;
  }

  std::unique_ptr<Plan> m_plan;
};

}  // namespace

void register_dnnl_pool(KernelRegistry& r) {
  override_kernel<PoolKernel<PoolKind::Max>>(r, "MaxPool");
  override_kernel<PoolKernel<PoolKind::Average>>(r, "AveragePool");
  override_kernel<PoolKernel<PoolKind::GlobalAverage>>(r, "GlobalAveragePool");
  override_kernel<PoolKernel<PoolKind::GlobalMax>>(r, "GlobalMaxPool");
}

}  // namespace kiln::backend::onednn
