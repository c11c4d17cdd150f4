#include "backends/cpu/dnnl/dnnl_kernel.h"

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

}  // namespace kiln::backend::onednn
