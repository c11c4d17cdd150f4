#include "runtime/execution_context.h"

#include <algorithm>
#include <map>

#include "backends/transfer.h"
#include "builder/partition.h"
#include "core/log.h"
#include "kiln/error.h"

namespace kiln::runtime {

namespace {

using Arena = engine::MemoryPlan::Arena;

// The kernel a node runs with: the builder's choice, or the preferred
// candidate when that choice refuses the node (an engine from another build).
std::unique_ptr<backend::Kernel> make_kernel(const backend::Backend& be, const ir::Graph& g, const ir::Node& n,
                                             std::string* name) {
  const backend::KernelFactory* factory = backend::kernel_for(be.kernels(), n);
  if (!factory) throw Error(ErrorCode::Unsupported, n.label() + ": no " + be.name() + " kernel");
  try {
    *name = backend::kernel_name_for(be.kernels(), n);
    return (*factory)(n, g);
  } catch (const Error& e) {
    const backend::KernelFactory* preferred = be.kernels().find(n.op_type);
    if (!preferred || preferred == factory) throw;
    log_warning(std::string(e.what()) + "; running the preferred kernel instead");
    const std::vector<std::string> names = be.kernels().candidates(n.op_type);
    *name = names.empty() ? std::string() : names.back();
    return (*preferred)(n, g);
  }
}

}  // namespace

ExecutionContext::ExecutionContext(std::shared_ptr<const ir::Graph> graph, engine::MemoryPlan plan,
                                   backend::Backend& primary, std::shared_ptr<WeightStore> weights,
                                   const backend::StreamConfig& config)
    : m_graph(std::move(graph)), m_plan(std::move(plan)), m_primary(primary), m_weights(std::move(weights)) {
  const ir::Graph& g = *m_graph;
  backend::Backend& host = backend::host_backend();
  const bool mixed = !primary.device().is_host();
  m_streams.push_back(primary.create_stream(config));
  if (mixed) m_streams.push_back(host.create_stream(config));

  m_last_use.assign(g.values.size(), -1);
  m_keep.assign(g.values.size(), false);
  for (ir::ValueId v : g.inputs) m_keep[static_cast<size_t>(v)] = true;
  for (ir::ValueId v : g.outputs) m_keep[static_cast<size_t>(v)] = true;
  m_nodes.resize(g.nodes.size());
  std::map<const void*, Tensor> private_constants;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const ir::Node& n = g.nodes[i];
    NodeRun& r = m_nodes[i];
    r.backend = &builder::backend_of(n, primary);
    r.stream = r.backend == &primary ? m_streams[0].get() : m_streams.back().get();
    r.host_outputs = backend::writes_host(n, *r.backend);
    r.kernel = make_kernel(*r.backend, g, n, &r.kernel_name);
    r.const_inputs.resize(n.inputs.size());
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      const ir::ValueId v = n.inputs[k];
      if (v == ir::k_no_value) continue;
      m_last_use[static_cast<size_t>(v)] = static_cast<int32_t>(i);
      const ir::Value& val = g.value(v);
      if (!val.constant) continue;
      const bool wants_host = r.backend->device().is_host() || r.backend->host_input(n, k);
      if (wants_host) {
        r.const_inputs[k] = *val.constant;
      } else if (m_weights && m_weights->holds(*val.constant)) {
        r.weights.emplace_back(k, &*val.constant);  // resolved by refresh_weights()
      } else {
        // Folded for this shape only: this context's own copy.
        Tensor& d = private_constants[val.constant->raw()];
        if (!d.defined()) {
          d = upload(*val.constant, *r.backend, *m_streams[0]);
          m_private_constants.push_back(d);
          m_private_bytes += val.constant->nbytes();
        }
        r.const_inputs[k] = d;
      }
    }
  }
  if (m_plan.arena_bytes) m_arena = primary.allocator().allocate(m_plan.arena_bytes);
  if (m_plan.host_arena_bytes) {
    try {
      m_host_arena = host.allocator().allocate(m_plan.host_arena_bytes);
    } catch (...) {
      if (m_arena) primary.allocator().deallocate(m_arena);
      throw;
    }
  }
  m_bound.resize(g.inputs.size());
  refresh_weights();
  make_segments();
}

ExecutionContext::~ExecutionContext() {
  // Work in flight may still use the arenas.
  for (auto& s : m_streams) {
    try {
      s->synchronize();
    } catch (const std::exception& e) {
      log_warning(std::string("synchronizing before freeing a context: ") + e.what());
    }
  }
  if (m_copy_stream) {
    try {
      m_copy_stream->synchronize();
    } catch (const std::exception&) {
    }
  }
  for (void* p : m_stage)
    if (p) m_primary.allocator().deallocate(p);
  if (m_arena) m_primary.allocator().deallocate(m_arena);
  if (m_host_arena) backend::host_backend().allocator().deallocate(m_host_arena);
}

Tensor ExecutionContext::slot_view(ir::ValueId v, DataType dt, const Shape& shape, bool host) const {
  auto it = m_plan.slots.find(v);
  if (it == m_plan.slots.end()) return {};
  const engine::MemoryPlan::Slot& s = it->second;
  const bool slot_host = s.arena == Arena::Host || m_primary.device().is_host();
  if (slot_host != host || static_cast<size_t>(shape_numel(shape)) * dtype_size(dt) > s.bytes) return {};
  uint8_t* base = static_cast<uint8_t*>(s.arena == Arena::Host ? m_host_arena : m_arena);
  return Tensor::wrap(base + s.offset, dt, shape, host ? Device{} : m_primary.device());
}

Tensor ExecutionContext::input_buffer(size_t i) const {
  const ir::ValueId v = m_graph->inputs.at(i);
  const ir::Value& val = m_graph->value(v);
  if (!val.shape || !ir::shape_known(*val.shape))
    throw Error(ErrorCode::Internal, "input '" + val.name + "' has no planned buffer (unknown shape)");
  Tensor t = slot_view(v, val.dtype, ir::to_shape(*val.shape), m_primary.device().is_host());
  if (!t.defined()) throw Error(ErrorCode::Internal, "input '" + val.name + "' has no planned buffer");
  return t;
}

void ExecutionContext::bind_input(size_t i, const Tensor& t) {
  if (!(t.device() == m_primary.device()))
    throw Error(ErrorCode::Internal, "binding input " + std::to_string(i) + " from " + t.device().str());
  m_bound.at(i) = t;
}

void ExecutionContext::unbind_inputs() {
  for (Tensor& t : m_bound) t = Tensor();
}

void ExecutionContext::run_node(size_t i, std::vector<Tensor>& slots) {
  const ir::Graph& g = *m_graph;
  const ir::Node& n = g.nodes[i];
  NodeRun& r = m_nodes[i];
  std::vector<const Tensor*> ins;
  ins.reserve(n.inputs.size());
  for (size_t k = 0; k < n.inputs.size(); ++k) {
    const ir::ValueId v = n.inputs[k];
    if (v == ir::k_no_value) { ins.push_back(nullptr); continue; }
    if (r.const_inputs[k].defined()) { ins.push_back(&r.const_inputs[k]); continue; }
    const Tensor& t = slots[static_cast<size_t>(v)];
    if (!t.defined())
      throw Error(ErrorCode::Internal, n.label() + ": input '" + g.value(v).name + "' was never computed");
    ins.push_back(&t);
  }
  std::vector<Tensor> outs(n.outputs.size());
  auto alloc = [&](size_t idx, DataType dt, const Shape& shape) -> Tensor {
    const ir::ValueId v = idx < n.outputs.size() ? n.outputs[idx] : ir::k_no_value;
    if (v != ir::k_no_value) {
      Tensor t = slot_view(v, dt, shape, r.host_outputs);
      if (t.defined()) return t;
    }
    return r.host_outputs ? Tensor::empty(dt, shape) : r.backend->empty(dt, shape, r.stream);
  };
  const int64_t opset = g.opset(n.domain);
  backend::KernelContext ctx(n, opset, std::move(ins), outs, alloc, r.stream);
  if (m_profile) m_marks[i].first = r.stream->mark();
  try {
    r.kernel->run(ctx);
  } catch (const Error& e) {
    throw e.with_context("running " + n.label() + " on " + r.backend->device().str());
  } catch (const std::exception& e) {
    throw Error(ErrorCode::Internal, "running " + n.label() + " on " + r.backend->device().str() + ": " + e.what());
  }
  if (m_profile) m_marks[i].second = r.stream->mark();
  for (size_t k = 0; k < n.outputs.size(); ++k) {
    if (n.outputs[k] == ir::k_no_value) continue;
    if (!outs[k].defined())
      throw Error(ErrorCode::Internal, n.label() + ": kernel did not produce output " + std::to_string(k));
    slots[static_cast<size_t>(n.outputs[k])] = std::move(outs[k]);
  }
  // Free run-time allocations after their last reader (in stream order on a
  // device); planned ones are views.
  for (ir::ValueId v : n.inputs) {
    if (v == ir::k_no_value) continue;
    const size_t vi = static_cast<size_t>(v);
    if (m_last_use[vi] == static_cast<int32_t>(i) && !m_keep[vi] && !g.values[vi].constant) slots[vi] = Tensor();
  }
}

void ExecutionContext::run(backend::DeviceSwitch how) {
  const ir::Graph& g = *m_graph;
  std::vector<Tensor> slots(g.values.size());
  for (size_t i = 0; i < g.inputs.size(); ++i)
    slots[static_cast<size_t>(g.inputs[i])] = m_bound[i].defined() ? m_bound[i] : input_buffer(i);
  std::vector<std::unique_ptr<backend::RunScope>> scopes;
  for (auto& s : m_streams) scopes.push_back(std::make_unique<backend::RunScope>(*s, how));
  if (m_profile) {
    m_marks.clear();
    m_marks.resize(g.nodes.size());
  }
  refresh_weights();
  for (const Segment& seg : m_segments) {
    if (!seg.graph) {
      for (size_t i = seg.begin; i < seg.end; ++i) {
        if (m_nodes[i].streamed.empty()) {
          run_node(i, slots);
          continue;
        }
        stage_weights(i);
        run_node(i, slots);
        m_stage_free[(m_stage_next + 1) & 1] = m_nodes[i].stream->mark();
      }
      continue;
    }
    seg.graph->replay(*m_streams[0]);
    // The segment's values are in their planned places: later nodes read them there.
    for (size_t i = seg.begin; i < seg.end; ++i)
      for (ir::ValueId v : g.nodes[i].outputs) {
        if (v == ir::k_no_value) continue;
        const ir::Value& val = g.value(v);
        slots[static_cast<size_t>(v)] = slot_view(v, val.dtype, ir::to_shape(*val.shape), m_nodes[i].host_outputs);
      }
  }
  m_outputs.clear();
  for (ir::ValueId v : g.outputs) {
    const ir::Value& val = g.value(v);
    m_outputs.push_back(val.constant ? *val.constant : slots[static_cast<size_t>(v)]);
  }
}

Tensor ExecutionContext::kept_output(size_t i, const Tensor& like, bool on_device) {
  std::vector<Tensor>& kept = on_device ? m_kept_device : m_kept_host;
  if (kept.size() <= i) kept.resize(i + 1);
  Tensor& t = kept[i];
  if (!t.defined() || t.dtype() != like.dtype() || t.shape() != like.shape())
    t = on_device ? m_primary.empty(like.dtype(), like.shape()) : Tensor::empty(like.dtype(), like.shape());
  return t;
}

size_t ExecutionContext::device_bytes() const {
  return m_plan.arena_bytes + m_private_bytes + (m_stage[0] ? m_stage_bytes : 0) + (m_stage[1] ? m_stage_bytes : 0);
}

void ExecutionContext::enable_profile() {
  if (m_profile) return;
  m_profile = true;
  m_node_ms.assign(m_graph->nodes.size(), 0.0);
  m_node_runs.assign(m_graph->nodes.size(), 0);
}

void ExecutionContext::collect_profile() {
  if (!m_profile) return;
  for (size_t i = 0; i < m_marks.size(); ++i) {
    if (!m_marks[i].first || !m_marks[i].second) continue;
    m_node_ms[i] += m_nodes[i].stream->elapsed_ms(*m_marks[i].first, *m_marks[i].second);
    ++m_node_runs[i];
  }
  m_marks.clear();
}

void ExecutionContext::reset_profile() {
  std::fill(m_node_ms.begin(), m_node_ms.end(), 0.0);
  std::fill(m_node_runs.begin(), m_node_runs.end(), 0);
}

std::vector<NodeProfile> ExecutionContext::profile() const {
  std::vector<NodeProfile> out;
  if (!m_profile) return out;
  for (size_t i = 0; i < m_graph->nodes.size(); ++i) {
    const ir::Node& n = m_graph->nodes[i];
    out.push_back({n.name, n.domain.empty() ? n.op_type : n.domain + "." + n.op_type, m_nodes[i].kernel_name,
                   m_node_runs[i], m_node_ms[i], m_nodes[i].backend->device().str()});
  }
  return out;
}

}  // namespace kiln::runtime
