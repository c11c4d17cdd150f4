// oneDNN matmul for Gemm, MatMul and com.kiln::FusedGemm / FusedMatMul (f32).
// Covered: Gemm with alpha 1 and C absent, a bias row ([N] or [1,N]) or a full
// [M,N] C with beta 1 (a "sum" post-op); MatMul whose B is 2-D (A's batch dims
// fold into M) or whose operands have equal batch dims. Transposes are strides,
// not copies. Constant B is reordered once into the layout the primitive picks.
// Everything else runs on the reference kernel.
#include <cstring>
#include <optional>

#include "backends/cpu/dnnl/context.h"
#include "backends/cpu/dnnl/dnnl_kernel.h"
#include "backends/cpu/dnnl/kernels.h"
#include "backends/cpu/dnnl/post_ops.h"

namespace kiln::backend::onednn {

namespace {

using dnnl::memory;
using tag = memory::format_tag;
constexpr auto k_f32 = memory::data_type::f32;

// A problem as oneDNN sees it: batch (0 for 2-D), M, K, N and the operands'
// strides. `addend` says how input 2 enters: none, bias row, or full sum.
struct Problem {
  enum class Addend { None, Bias, Sum } addend = Addend::None;
  int64_t batch = 0, m = 0, k = 0, n = 0;
  memory::desc a_md, b_md, y_md, bias_md;
  Shape y_shape;
};

int64_t prod(const Shape& s, size_t b, size_t e) {
  int64_t p = 1;
  for (size_t i = b; i < e; ++i) p *= s[i];
  return p;
}

std::optional<Problem> gemm_problem(const ir::Node& node, const KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  if (a.rank() != 2 || b.rank() != 2 || node.attr_f("alpha", 1.f) != 1.f) return std::nullopt;
  const bool ta = node.attr_i("transA", 0) != 0, tb = node.attr_i("transB", 0) != 0;
  Problem p;
  p.m = a.shape()[ta ? 1 : 0];
  p.k = a.shape()[ta ? 0 : 1];
  p.n = b.shape()[tb ? 0 : 1];
  if (b.shape()[tb ? 1 : 0] != p.k) return std::nullopt;
  p.a_md = memory::desc({p.m, p.k}, k_f32, ta ? memory::dims{1, p.m} : memory::dims{p.k, 1});
  p.b_md = memory::desc({p.k, p.n}, k_f32, tb ? memory::dims{1, p.k} : memory::dims{p.n, 1});
  p.y_shape = {p.m, p.n};
  p.y_md = plain_f32(p.y_shape);
  if (ctx.has_input(2)) {
    const Tensor& c = ctx.input(2);
    if (c.dtype() != DataType::Float32 || node.attr_f("beta", 1.f) != 1.f) return std::nullopt;
    const Shape& cs = c.shape();
    if ((cs.size() == 1 && cs[0] == p.n) || (cs.size() == 2 && cs[0] == 1 && cs[1] == p.n)) {
      p.addend = Problem::Addend::Bias;
      p.bias_md = memory::desc({1, p.n}, k_f32, tag::ab);
    } else if (cs == p.y_shape) {
      p.addend = Problem::Addend::Sum;
    } else {
      return std::nullopt;
    }
  }
  return p;
}

std::optional<Problem> matmul_problem(const KernelContext& ctx, bool with_bias) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  const size_t ra = a.shape().size(), rb = b.shape().size();
  if (ra < 2 || rb < 2) return std::nullopt;
  Problem p;
  p.k = a.shape()[ra - 1];
  p.n = b.shape()[rb - 1];
  if (b.shape()[rb - 2] != p.k) return std::nullopt;
  p.y_shape = Shape(a.shape().begin(), a.shape().end() - 1);
  p.y_shape.push_back(p.n);
  if (prod(b.shape(), 0, rb - 2) == 1 && ra >= rb) {
    // One B for every row of A: a single [rows, K] x [K, N].
    p.m = prod(a.shape(), 0, ra - 1);
    p.a_md = memory::desc({p.m, p.k}, k_f32, tag::ab);
    p.b_md = memory::desc({p.k, p.n}, k_f32, tag::ab);
    p.y_md = memory::desc({p.m, p.n}, k_f32, tag::ab);
  } else if (ra == rb && std::equal(a.shape().begin(), a.shape().end() - 2, b.shape().begin())) {
    p.batch = prod(a.shape(), 0, ra - 2);
    p.m = a.shape()[ra - 2];
    p.a_md = memory::desc({p.batch, p.m, p.k}, k_f32, tag::abc);
    p.b_md = memory::desc({p.batch, p.k, p.n}, k_f32, tag::abc);
    p.y_md = memory::desc({p.batch, p.m, p.n}, k_f32, tag::abc);
  } else {
    return std::nullopt;
  }
  if (with_bias && ctx.has_input(2)) {
    const Tensor& bias = ctx.input(2);
    if (bias.dtype() != DataType::Float32 || bias.rank() != 1 || bias.shape()[0] != p.n) return std::nullopt;
    p.addend = Problem::Addend::Bias;
    p.bias_md = p.batch ? memory::desc({1, 1, p.n}, k_f32, tag::abc) : memory::desc({1, p.n}, k_f32, tag::ab);
  }
  return p;
}

class MatMulKernel final : public DnnlKernel {
 public:
  MatMulKernel(const ir::Node& node, const ir::Graph& graph, const KernelFactory& reference)
      : DnnlKernel(node, graph, reference),
        m_gemm(node.op_type == "Gemm" || node.op_type == "FusedGemm"),
        m_const_b(input_is_constant(graph, node, 1)) {
    if (node.domain == "com.kiln") m_act = ir::read_activation(node);
  }

  void run(KernelContext& ctx) override {
    if (ctx.input(0).dtype() != DataType::Float32 || ctx.input(1).dtype() != DataType::Float32)
      return run_reference(ctx);
    Shape key = ctx.input(0).shape();
    key.push_back(-1);
    key.insert(key.end(), ctx.input(1).shape().begin(), ctx.input(1).shape().end());
    if (ctx.has_input(2)) {
      key.push_back(-1);
      key.insert(key.end(), ctx.input(2).shape().begin(), ctx.input(2).shape().end());
    }
    const Tensor& a = ctx.input(0);
    const int64_t k = a.rank() == 0 ? 1 : m_gemm && node().attr_i("transA", 0) != 0 ? a.shape()[0] : a.shape().back();
    CpuThreadScope threads(threads_for_work(static_cast<double>(a.numel()) * static_cast<double>(ctx.input(1).numel()) /
                                           static_cast<double>(std::max<int64_t>(k, 1)),
                                       k_small_macs));
    if (!m_plan || m_plan->key != key) m_plan = make_plan(ctx, key);
    if (!m_plan->ok) return run_reference(ctx);
    execute(ctx);
  }

 private:
  struct Plan {
    bool ok = false;
    Shape key;
    Problem prob;
    dnnl::matmul prim;
    memory weights;
    std::optional<dnnl::reorder> w_reorder;
    bool weights_ready = false;
  };

  std::unique_ptr<Plan> make_plan(const KernelContext& ctx, const Shape& key) {
    auto p = std::make_unique<Plan>();
    p->key = key;
    const auto prob = m_gemm ? gemm_problem(node(), ctx) : matmul_problem(ctx, true);
    if (!prob) return p;
    p->prob = *prob;
    if (shape_numel(prob->y_shape) == 0 || prob->k == 0) return p;
    dnnl::post_ops po;
    if (prob->addend == Problem::Addend::Sum) po.append_sum(1.f);
    if (!append_activation(po, m_act)) return p;
    dnnl::primitive_attr attr;
    attr.set_post_ops(po);
    const memory::dims bd = prob->b_md.dims();
    const memory::desc b_any(bd, k_f32, tag::any);
    p->ok = primitive_created([&] {
      dnnl::matmul::desc d = prob->addend == Problem::Addend::Bias
                                 ? dnnl::matmul::desc(prob->a_md, m_const_b ? b_any : prob->b_md, prob->bias_md, prob->y_md)
                                 : dnnl::matmul::desc(prob->a_md, m_const_b ? b_any : prob->b_md, prob->y_md);
      dnnl::matmul::primitive_desc pd(d, attr, cpu_engine());
      if (!skip_reference_impls(pd)) return false;
      p->prim = dnnl::matmul(pd);
      if (pd.weights_desc() != prob->b_md) {
        p->weights = memory(pd.weights_desc(), cpu_engine());
        p->w_reorder = make_reorder(prob->b_md, pd.weights_desc());
      }
      return true;
    });
    return p;
  }

  void execute(KernelContext& ctx) {
    Plan& p = *m_plan;
    dnnl::stream& s = cpu_stream();
    Tensor& y = ctx.output(0, DataType::Float32, p.prob.y_shape);
    memory b = wrap(p.prob.b_md, ctx.input(1));
    if (p.w_reorder) {
      if (!p.weights_ready) p.w_reorder->execute(s, b, p.weights);
      p.weights_ready = m_const_b;
      b = p.weights;
    }
    if (p.prob.addend == Problem::Addend::Sum) {
      const Tensor& c = ctx.input(2);
      if (c.raw() != y.raw()) std::memcpy(y.raw(), c.raw(), c.nbytes());
    }
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC, wrap(p.prob.a_md, ctx.input(0))}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, wrap(p.prob.y_md, y)}};
    if (p.prob.addend == Problem::Addend::Bias) args[DNNL_ARG_BIAS] = wrap(p.prob.bias_md, ctx.input(2));
    p.prim.execute(s, args);
    s.wait();
    count_primitive_run();
  }

  bool m_gemm, m_const_b;
  ir::FusedActivation m_act;
  std::unique_ptr<Plan> m_plan;
};

}  // namespace

void register_dnnl_matmul(KernelRegistry& r) {
  override_kernel<MatMulKernel>(r, "Gemm");
  override_kernel<MatMulKernel>(r, "MatMul");
  override_kernel<MatMulKernel>(r, "FusedGemm");
  override_kernel<MatMulKernel>(r, "FusedMatMul");
}

}  // namespace kiln::backend::onednn
