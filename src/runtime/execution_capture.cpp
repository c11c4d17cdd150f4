// ExecutionContext's CUDA-graph capture: segments of capturable nodes, each
// recorded once and replayed by run(); the rest of the context is in
// execution_context.cpp.
#include <algorithm>

#include "backends/transfer.h"
#include "builder/partition.h"
#include "engine/memory_plan.h"
#include "kiln/error.h"
#include "runtime/execution_context.h"

namespace kiln::runtime {

bool ExecutionContext::node_capturable(size_t i) const {
  const ir::Graph& g = *m_graph;
  const ir::Node& n = g.nodes[i];
  const NodeRun& r = m_nodes[i];
  if (r.backend != &m_primary || !m_primary.can_capture() || !r.kernel->capturable()) return false;
  // Streamed weights come in through a second stream, per run.
  if (m_weights && m_weights->streaming() && !r.weights.empty()) return false;
  for (ir::ValueId v : n.outputs)
    if (v != ir::k_no_value && (!m_plan.slots.count(v) || !g.value(v).shape || !ir::shape_known(*g.value(v).shape)))
      return false;
  for (size_t k = 0; k < n.inputs.size(); ++k) {
    const ir::ValueId v = n.inputs[k];
    if (v == ir::k_no_value || r.const_inputs[k].defined()) continue;
    // A host input that is not a constant would be read once, at capture.
    if (r.backend->host_input(n, k) || !m_plan.slots.count(v)) return false;
  }
  return true;
}

void ExecutionContext::make_segments() {
  m_segments.clear();
  for (size_t i = 0; i < m_nodes.size(); ++i) {
    const bool c = node_capturable(i);
    if (m_segments.empty() || m_segments.back().capturable != c) m_segments.push_back({i, i, c, nullptr});
    m_segments.back().end = i + 1;
  }
}

bool ExecutionContext::capture(std::string* why) {
  const ir::Graph& g = *m_graph;
  unbind_inputs();
  bool any = false;
  for (const Segment& seg : m_segments) any |= seg.capturable;
  if (!any) return true;  // nothing to capture: the prepared plan is the executable
  // Every value a segment reads from outside it is in a fixed place.
  std::vector<Tensor> slots(g.values.size());
  for (size_t i = 0; i < g.inputs.size(); ++i) slots[static_cast<size_t>(g.inputs[i])] = input_buffer(i);
  for (size_t i = 0; i < m_nodes.size(); ++i)
    for (ir::ValueId v : g.nodes[i].outputs) {
      if (v == ir::k_no_value || !m_plan.slots.count(v) || !g.value(v).shape || !ir::shape_known(*g.value(v).shape))
        continue;
      slots[static_cast<size_t>(v)] = slot_view(v, g.value(v).dtype, ir::to_shape(*g.value(v).shape), m_nodes[i].host_outputs);
    }
  backend::RunScope scope(*m_streams[0]);
  const bool profile = m_profile;
  m_profile = false;  // markers are not part of a graph
  for (Segment& seg : m_segments) {
    if (!seg.capturable) continue;
    try {
      m_primary.begin_capture(*m_streams[0]);
      try {
        for (size_t i = seg.begin; i < seg.end; ++i) run_node(i, slots);
      } catch (...) {
        m_primary.abort_capture(*m_streams[0]);
        throw;
      }
      seg.graph = m_primary.end_capture(*m_streams[0]);
    } catch (const std::exception& e) {
      for (Segment& s : m_segments) s.graph.reset();
      m_profile = profile;
      if (why) *why = e.what();
      return false;
    }
  }
  m_profile = profile;
  return true;
}

CaptureMode ExecutionContext::capture_mode() const {
  const int n = captured_graphs();
  if (n == 0) return CaptureMode::None;
  return n == 1 && m_segments.size() == 1 ? CaptureMode::Whole : CaptureMode::Segments;
}

int ExecutionContext::captured_graphs() const {
  int n = 0;
  for (const Segment& seg : m_segments) n += seg.graph != nullptr;
  return n;
}

}  // namespace kiln::runtime
