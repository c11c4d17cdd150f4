// ExecutionContext's weight streaming: the weights a budget leaves on the
// host are staged into device buffers on a copy stream before the node that
// reads them (runtime/weight_store.h has the budget).
#include <algorithm>

#include "engine/memory_plan.h"
#include "runtime/execution_context.h"

namespace kiln::runtime {

void ExecutionContext::refresh_weights() {
  if (!m_weights) return;
  const uint64_t gen = m_weights->generation();
  if (gen == m_weight_generation) return;
  m_weight_generation = gen;
  size_t most = 0;
  for (NodeRun& r : m_nodes) {
    r.streamed.clear();
    size_t bytes = 0;
    for (const auto& [k, host] : r.weights) {
      r.const_inputs[k] = m_weights->get(*host);
      if (r.const_inputs[k].defined()) continue;
      r.streamed.emplace_back(k, host);
      bytes += engine::align_up(host->nbytes());
    }
    most = std::max(most, bytes);
  }
  if (most > m_stage_bytes) {
    // Grow the staging buffers; work in flight may still read the old ones.
    for (auto& s : m_streams) s->synchronize();
    if (m_copy_stream) m_copy_stream->synchronize();
    for (void*& p : m_stage) {
      if (p) m_primary.allocator().deallocate(p);
      p = nullptr;
    }
    m_stage_bytes = most;
  }
}

void ExecutionContext::stage_weights(size_t i) {
  NodeRun& r = m_nodes[i];
  if (!m_copy_stream) m_copy_stream = m_primary.create_stream();
  const int slot = m_stage_next;
  m_stage_next ^= 1;
  if (!m_stage[slot]) m_stage[slot] = m_primary.allocator().allocate(m_stage_bytes);
  // The kernel that last read this buffer must be done before it is overwritten.
  if (m_stage_free[slot]) m_copy_stream->wait_for(*m_stage_free[slot]);
  size_t offset = 0;
  for (const auto& [k, host] : r.streamed) {
    const Tensor pinned = m_weights->pinned(*host);
    Tensor view = Tensor::wrap(static_cast<uint8_t*>(m_stage[slot]) + offset, host->dtype(), host->shape(),
                               m_primary.device());
    m_primary.copy(view.raw(), view.device(), pinned.raw(), pinned.device(), pinned.nbytes(), *m_copy_stream);
    r.const_inputs[k] = view;
    offset += engine::align_up(host->nbytes());
  }
  const auto loaded = m_copy_stream->mark();
  r.stream->wait_for(*loaded);
}

}  // namespace kiln::runtime
