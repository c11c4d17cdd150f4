// oneDNN binary for Add, Sub, Mul and Div (f32, opset >= 7 numpy broadcasting)
// when one operand already has the output's shape (oneDNN broadcasts only its
// second source; Add and Mul swap operands for that). Reads and writes the
// layouts the layout pass chose, so a squeeze-excite Mul keeps a channels-last
// chain unbroken. Anything else runs on the reference kernel.
#include <algorithm>
#include <optional>

#include "backends/cpu/dnnl/context.h"
#include "backends/cpu/dnnl/dnnl_kernel.h"
#include "backends/cpu/dnnl/kernels.h"

namespace kiln::backend::onednn {

namespace {

using dnnl::memory;

std::optional<Shape> broadcast(const Shape& a, const Shape& b) {
  const size_t rank = std::max(a.size(), b.size());
  Shape out(rank, 1);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1) return std::nullopt;
    out[i] = da == 1 ? db : da;
  }
  return out;
}

constexpr int64_t k_tiny = 4096;

template <dnnl::algorithm Alg, bool Commutative>
class BinaryKernel final : public DnnlKernel {
 public:
  BinaryKernel(const ir::Node& node, const ir::Graph& graph, const KernelFactory& reference)
      : DnnlKernel(node, graph, reference) {}

  void run(KernelContext& ctx) override {
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    if (a.dtype() != DataType::Float32 || b.dtype() != DataType::Float32 || ctx.opset() < 7 || a.rank() > 6 ||
        b.rank() > 6 || a.numel() == 0 || b.numel() == 0)
      return run_reference(ctx);
    // A few thousand plain elements are done by the reference loop before a
    // primitive would even be created (constant folding makes many such).
    if (std::max(a.numel(), b.numel()) < k_tiny && in_layout(0) == 0 && in_layout(1) == 0 && out_layout() == 0)
      return run_reference(ctx);
    CpuThreadScope threads(threads_for_work(static_cast<double>(std::max(a.numel(), b.numel())), k_small_elements));
    if (!m_plan || m_plan->a_shape != a.shape() || m_plan->b_shape != b.shape()) m_plan = make_plan(a.shape(), b.shape());
    if (!m_plan->ok) return run_reference(ctx);
    const Plan& p = *m_plan;
    Tensor& y = ctx.output(0, DataType::Float32, p.y_shape);
    const Tensor& s0 = p.swapped ? b : a;
    const Tensor& s1 = p.swapped ? a : b;
    dnnl::stream& s = cpu_stream();
    p.prim.execute(s, {{DNNL_ARG_SRC_0, wrap(p.s0_md, s0)}, {DNNL_ARG_SRC_1, wrap(p.s1_md, s1)},
                       {DNNL_ARG_DST, wrap(p.y_md, y)}});
    s.wait();
    count_primitive_run();
  }

 private:
  struct Plan {
    bool ok = false, swapped = false;
    Shape a_shape, b_shape, y_shape;
    memory::desc s0_md, s1_md, y_md;
    dnnl::binary prim;
  };

  std::unique_ptr<Plan> make_plan(const Shape& a, const Shape& b) {
    auto p = std::make_unique<Plan>();
    p->a_shape = a;
    p->b_shape = b;
    const auto y = broadcast(a, b);
    if (!y || y->empty()) return p;
    p->y_shape = *y;
    if (b == *y && a != *y) {
      if (!Commutative) return p;
      p->swapped = true;
    } else if (a != *y) {
      return p;  // both operands broadcast
    }
    const size_t i0 = p->swapped ? 1 : 0, i1 = 1 - i0;
    Shape s1 = p->swapped ? a : b;
    s1.insert(s1.begin(), y->size() - s1.size(), 1);  // oneDNN wants equal ranks
    p->s0_md = layout_f32(*y, in_layout(i0));
    p->s1_md = in_layout(i1) != 0 && s1.size() == (p->swapped ? a : b).size() ? layout_f32(s1, in_layout(i1))
                                                                            : plain_f32(s1);
    p->y_md = layout_f32(*y, out_layout());
    p->ok = primitive_created([&] {
      dnnl::binary::primitive_desc pd(dnnl::binary::desc(Alg, p->s0_md, p->s1_md, p->y_md), cpu_engine());
      if (!skip_reference_impls(pd)) return false;
      p->prim = dnnl::binary(pd);
      return true;
    });
    return p;
  }

  std::unique_ptr<Plan> m_plan;
};

}  // namespace

void register_dnnl_binary(KernelRegistry& r) {
  override_kernel<BinaryKernel<dnnl::algorithm::binary_add, true>>(r, "Add");
  override_kernel<BinaryKernel<dnnl::algorithm::binary_mul, true>>(r, "Mul");
  override_kernel<BinaryKernel<dnnl::algorithm::binary_sub, false>>(r, "Sub");
  override_kernel<BinaryKernel<dnnl::algorithm::binary_div, false>>(r, "Div");
}

}  // namespace kiln::backend::onednn
