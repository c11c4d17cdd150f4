#include "backends/cpu/dnnl/dnnl_kernel.h"

#include <algorithm>
#include <optional>

#include "backends/cpu/dnnl/context.h"
#include "kiln/error.h"

namespace kiln::backend::onednn {

DnnlKernel::DnnlKernel(const ir::Node& node, const ir::Graph& graph, const KernelFactory& reference)
    : m_node(node), m_reference(reference(node, graph)) {
  m_in_layouts = node.attr_ints("kiln_in_layouts");
  m_out_layout = static_cast<int>(node.attr_i("kiln_out_layout", 0));
}

namespace {

// Copies `from` (described by from_md) into `to` (described by to_md).
void convert(const Tensor& from, int from_layout, Tensor& to, int to_layout) {
  if (from.dtype() != DataType::Float32)
    throw Error(ErrorCode::Internal, "a non-float32 tensor was given a oneDNN layout");
  const dnnl::memory::desc fmd = layout_f32(from.shape(), from_layout), tmd = layout_f32(to.shape(), to_layout);
  dnnl::memory f = wrap(fmd, from), t = wrap(tmd, to);
  dnnl::stream& s = cpu_stream();
  make_reorder(fmd, tmd).execute(s, f, t);
  s.wait();
}

}  // namespace

void DnnlKernel::run_reference(KernelContext& ctx) {
  bool relayout = m_out_layout != 0;
  for (int64_t l : m_in_layouts) relayout |= l != 0;
  if (!relayout) return m_reference->run(ctx);
  std::vector<Tensor> plain(ctx.num_inputs());
  std::vector<const Tensor*> ins;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) { ins.push_back(nullptr); continue; }
    const Tensor& t = ctx.input(i);
    if (in_layout(i) == 0) { ins.push_back(&t); continue; }
    plain[i] = Tensor::empty(t.dtype(), t.shape());
    convert(t, in_layout(i), plain[i], 0);
    ins.push_back(&plain[i]);
  }
  std::vector<Tensor> outs(ctx.num_outputs());
  KernelContext inner(m_node, ctx.opset(), ins, outs,
                      [&](size_t i, DataType dt, const Shape& s) {
                        return i == 0 && m_out_layout != 0 ? Tensor::empty(dt, s) : ctx.output(i, dt, s);
                      },
                      ctx.stream());
  m_reference->run(inner);
  if (m_out_layout != 0) {
    Tensor& y = ctx.output(0, outs[0].dtype(), outs[0].shape());
    convert(outs[0], 0, y, m_out_layout);
  }
}

namespace {
std::optional<Shape> known_shape(const ir::Graph& g, ir::ValueId v) {
  if (v == ir::k_no_value) return std::nullopt;
  const ir::Value& val = g.value(v);
  if (!val.shape || !ir::shape_known(*val.shape)) return std::nullopt;
  return ir::to_shape(*val.shape);
}
}  // namespace

// The work estimates the kernels' run() use (multiply-adds or elements), from
// the graph's shapes.
bool runs_on_all_threads(const ir::Node& node, const ir::Graph& graph) {
  const std::string& op = node.op_type;
  const auto in = [&](size_t i) { return i < node.inputs.size() ? known_shape(graph, node.inputs[i]) : std::nullopt; };
  const auto d = [](int64_t v) { return static_cast<double>(v); };
  if (op == "Conv" || op == "FusedConv") {
    const auto x = in(0), w = in(1);
    if (!x || !w || x->size() < 3) return false;
    return conv_macs(*x, *w, node.attr_ints("strides")) >= k_small_macs;
  }
  if (op == "FusedConvDw") {  // its 1x1 stage, at X's resolution
    const auto x = in(0), w = in(1);
    if (!x || !w || x->size() != 4 || w->size() != 4) return false;
    return d((*x)[0] * (*x)[2] * (*x)[3]) * d((*w)[0] * (*w)[1]) >= k_small_macs;
  }
  if (op == "ConvTranspose") {
    const auto x = in(0), w = in(1);
    if (!x || !w || x->size() < 2 || (*x)[1] == 0) return false;
    return d(shape_numel(*x)) * d(shape_numel(*w)) / d((*x)[1]) >= k_small_macs;
  }
  if (op == "Gemm" || op == "FusedGemm" || op == "MatMul" || op == "FusedMatMul") {
    const auto a = in(0), b = in(1);
    if (!a || !b || a->empty()) return false;
    const bool gemm = op == "Gemm" || op == "FusedGemm";
    const int64_t k = gemm && node.attr_i("transA", 0) != 0 ? (*a)[0] : a->back();
    return d(shape_numel(*a)) * d(shape_numel(*b)) / d(std::max<int64_t>(k, 1)) >= k_small_macs;
  }
  double most = 0;  // pooling, normalization, softmax, binary: elements
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    const auto s = in(i);
    if (!s) return false;
    most = std::max(most, d(shape_numel(*s)));
  }
  return most >= k_small_elements;
}

void throw_same_as_onednn(const ir::Node& node) {
  throw Error(ErrorCode::Unsupported, node.label() + ": big enough that \"onednn\" runs it on every thread already");
}

}  // namespace kiln::backend::onednn
