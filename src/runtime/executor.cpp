#include "runtime/executor.h"

#include <algorithm>
#include <chrono>

#include "core/log.h"
#include "kiln/error.h"

namespace kiln::runtime {

Executor::Executor(std::shared_ptr<const ir::Graph> graph, engine::MemoryPlan plan, backend::Backend& backend)
    : m_graph(std::move(graph)), m_plan(std::move(plan)), m_backend(backend), m_stream(backend.create_stream()) {
  const ir::Graph& g = *m_graph;
  m_last_use.assign(g.values.size(), -1);
  m_keep.assign(g.values.size(), false);
  for (ir::ValueId v : g.inputs) m_keep[static_cast<size_t>(v)] = true;
  for (ir::ValueId v : g.outputs) m_keep[static_cast<size_t>(v)] = true;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const ir::Node& n = g.nodes[i];
    for (ir::ValueId v : n.inputs)
      if (v != ir::k_no_value) m_last_use[static_cast<size_t>(v)] = static_cast<int32_t>(i);
    const backend::KernelFactory* factory = backend::kernel_for(backend.kernels(), n);
    if (!factory) throw Error(ErrorCode::Unsupported, n.label() + ": no " + backend.name() + " kernel");
    try {
      m_kernels.push_back((*factory)(n, g));
      m_kernel_names.push_back(backend::kernel_name_for(backend.kernels(), n));
    } catch (const Error& e) {
      // The builder's choice refuses the node (an engine from another kiln
      // build): the preferred candidate runs it instead.
      const backend::KernelFactory* preferred = backend.kernels().find(n.op_type);
      if (!preferred || preferred == factory) throw;
      log_warning(std::string(e.what()) + "; running the preferred kernel instead");
      m_kernels.push_back((*preferred)(n, g));
      const std::vector<std::string> names = backend.kernels().candidates(n.op_type);
      m_kernel_names.push_back(names.empty() ? std::string() : names.back());
    }
  }
  if (m_plan.arena_bytes) m_arena = m_backend.allocator().allocate(m_plan.arena_bytes);
}

Executor::~Executor() {
  if (m_arena) m_backend.allocator().deallocate(m_arena);
}

std::vector<Tensor> Executor::run(const std::vector<Tensor>& inputs) {
  const ir::Graph& g = *m_graph;
  std::vector<Tensor> slots(g.values.size());
  for (size_t i = 0; i < g.values.size(); ++i)
    if (g.values[i].constant) slots[i] = *g.values[i].constant;
  for (size_t i = 0; i < g.inputs.size(); ++i) slots[static_cast<size_t>(g.inputs[i])] = inputs.at(i);

  const int64_t opset = g.opset("");
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const ir::Node& n = g.nodes[i];
    std::vector<const Tensor*> ins;
    ins.reserve(n.inputs.size());
    for (ir::ValueId v : n.inputs) {
      if (v == ir::k_no_value) { ins.push_back(nullptr); continue; }
      const Tensor& t = slots[static_cast<size_t>(v)];
      if (!t.defined())
        throw Error(ErrorCode::Internal, n.label() + ": input '" + g.value(v).name + "' was never computed");
      ins.push_back(&t);
    }
    std::vector<Tensor> outs(n.outputs.size());
    auto alloc = [&](size_t idx, DataType dt, const Shape& shape) -> Tensor {
      const ir::ValueId v = idx < n.outputs.size() ? n.outputs[idx] : ir::k_no_value;
      if (v != ir::k_no_value && !m_keep[static_cast<size_t>(v)]) {
        auto it = m_plan.slots.find(v);
        if (it != m_plan.slots.end() &&
            static_cast<size_t>(shape_numel(shape)) * dtype_size(dt) <= it->second.bytes)
          return Tensor::wrap(static_cast<uint8_t*>(m_arena) + it->second.offset, dt, shape, m_backend.device());
      }
      return Tensor::empty(dt, shape);
    };
    backend::KernelContext ctx(n, n.domain.empty() ? opset : g.opset(n.domain), std::move(ins), outs, alloc,
                               m_stream.get());
    const auto t0 = m_node_ms.empty() ? std::chrono::steady_clock::time_point{} : std::chrono::steady_clock::now();
    try {
      m_kernels[i]->run(ctx);
      if (!m_node_ms.empty()) {
        m_node_ms[i] += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        ++m_node_runs[i];
      }
    } catch (const Error& e) {
      throw e.with_context("running " + n.label());
    } catch (const std::exception& e) {
      throw Error(ErrorCode::Internal, "running " + n.label() + ": " + e.what());
    }
    for (size_t k = 0; k < n.outputs.size(); ++k) {
      if (n.outputs[k] == ir::k_no_value) continue;
      if (!outs[k].defined())
        throw Error(ErrorCode::Internal, n.label() + ": kernel did not produce output " + std::to_string(k));
      slots[static_cast<size_t>(n.outputs[k])] = std::move(outs[k]);
    }
    // Free run-time allocations after their last reader; planned ones are views.
    for (ir::ValueId v : n.inputs) {
      if (v == ir::k_no_value) continue;
      const size_t vi = static_cast<size_t>(v);
      if (m_last_use[vi] == static_cast<int32_t>(i) && !m_keep[vi] && !g.values[vi].constant) slots[vi] = Tensor();
    }
  }
  m_stream->synchronize();

  std::vector<Tensor> outputs;
  for (ir::ValueId v : g.outputs) {
    Tensor& t = slots[static_cast<size_t>(v)];
    // Constants and pass-through inputs must not alias engine or user memory.
    const bool shared = g.value(v).constant || std::find(g.inputs.begin(), g.inputs.end(), v) != g.inputs.end();
    outputs.push_back(shared ? t.clone() : t);
  }
  return outputs;
}

void Executor::enable_profile() {
  if (!m_node_ms.empty()) return;
  m_node_ms.assign(m_graph->nodes.size(), 0.0);
  m_node_runs.assign(m_graph->nodes.size(), 0);
}

void Executor::reset_profile() {
  std::fill(m_node_ms.begin(), m_node_ms.end(), 0.0);
  std::fill(m_node_runs.begin(), m_node_runs.end(), 0);
}

std::vector<NodeProfile> Executor::profile() const {
  std::vector<NodeProfile> out;
  if (m_node_ms.empty()) return out;
  for (size_t i = 0; i < m_graph->nodes.size(); ++i) {
    const ir::Node& n = m_graph->nodes[i];
    out.push_back({n.name, n.domain.empty() ? n.op_type : n.domain + "." + n.op_type, m_kernel_names[i],
                   m_node_runs[i], m_node_ms[i]});
  }
  return out;
}

}  // namespace kiln::runtime
