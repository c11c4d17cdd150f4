// If on the CPU: picks the branch and interprets it node by node with the CPU
// kernels (shapes inferred for the actual inputs first). Branches are small in
// practice (empty-result shortcuts around NMS, say), so no plan is kept.
#include <cstring>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/kernels/families.h"
#include "backends/kernel.h"
#include "core/dispatch.h"
#include "ir/op_schema.h"

namespace kiln::backend {

namespace {

void run_if(KernelContext& ctx) {
  const Tensor& cond = ctx.input(0);
  if (cond.numel() != 1) ctx.fail("condition must hold one element, got shape " + shape_str(cond.shape()));
  const char* which = read_int(cond, 0) != 0 ? "then_branch" : "else_branch";
  const ir::Attribute* a = ctx.node().attr(which);
  if (!a || !a->g) ctx.fail(std::string("missing ") + which);
  ir::Graph g = *a->g;
  if (g.inputs.size() + 1 != ctx.num_inputs()) ctx.fail(std::string(which) + " takes a different number of inputs");
  std::vector<Tensor> slots(g.values.size());
  for (size_t i = 0; i < g.values.size(); ++i)
    if (g.values[i].constant) slots[i] = *g.values[i].constant;
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    const Tensor& t = ctx.input(i + 1);
    ir::Value& v = g.value(g.inputs[i]);
    v.dtype = t.dtype();
    v.shape = ir::to_sym(t.shape());
    slots[static_cast<size_t>(g.inputs[i])] = t;
  }
  ir::infer_shapes(g);
  Backend& cpu = cpu_backend();
  for (const ir::Node& n : g.nodes) {
    const KernelFactory* f = kernel_for(cpu.kernels(), n);
    if (!f) ctx.fail(std::string(which) + ": no cpu kernel for " + n.label());
    std::vector<const Tensor*> ins;
    for (ir::ValueId v : n.inputs) ins.push_back(v == ir::k_no_value ? nullptr : &slots[static_cast<size_t>(v)]);
    const std::vector<Tensor> outs = run_node(cpu, *(*f)(n, g), g, n, ins, ctx.stream());
    for (size_t k = 0; k < n.outputs.size(); ++k)
      if (n.outputs[k] != ir::k_no_value) slots[static_cast<size_t>(n.outputs[k])] = outs[k];
  }
  for (size_t k = 0; k < g.outputs.size() && k < ctx.num_outputs(); ++k) {
    const Tensor& t = slots[static_cast<size_t>(g.outputs[k])];
    if (!t.defined()) ctx.fail(std::string(which) + " did not compute output " + std::to_string(k));
    Tensor& out = ctx.output(k, t.dtype(), t.shape());
    if (t.nbytes()) std::memcpy(out.raw(), t.raw(), t.nbytes());
  }
}

}  // namespace

void register_cpu_control_flow(KernelRegistry& r) { r.add_fn("If", run_if); }

}  // namespace kiln::backend
