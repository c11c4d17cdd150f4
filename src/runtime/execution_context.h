// The state of one engine specialized for one set of input shapes, as
// TensorRT's IExecutionContext: kernel instances made once, arenas laid out by
// the memory plan (the graph inputs and outputs have fixed buffers there), one
// stream per backend the graph uses, and the constants it reads in each
// device's memory (the engine's shared through a WeightStore). A run
// allocates only what the plan cannot hold: values whose shape depends on data.
// This is what a CUDA-graph cache entry owns. Not thread-safe: one run at a
// time (the Session serializes them).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "engine/memory_plan.h"
#include "ir/graph.h"
#include "kiln/graph_cache.h"
#include "kiln/session.h"
#include "runtime/weight_store.h"

namespace kiln::runtime {

class ExecutionContext {
 public:
  // `primary` runs every node not placed on the host (builder/partition.h);
  // `weights` holds the engine's constants on `primary` (null for the host).
  ExecutionContext(std::shared_ptr<const ir::Graph> graph, engine::MemoryPlan plan, backend::Backend& primary,
                   std::shared_ptr<WeightStore> weights, const backend::StreamConfig& config);
  ~ExecutionContext();
  ExecutionContext(const ExecutionContext&) = delete;
  ExecutionContext& operator=(const ExecutionContext&) = delete;

  backend::Backend& backend() const { return m_primary; }
  backend::Stream& stream() const { return *m_streams[0]; }  // the primary's
  size_t num_inputs() const { return m_graph->inputs.size(); }

  // Input i's fixed buffer in the plan (graph-input order): copy into it, in
  // the primary's stream order, before run().
  Tensor input_buffer(size_t i) const;
  // Reads input i from `t` (in the primary's memory, the buffer's dtype and
  // shape) for the next runs instead of its buffer: no copy. unbind_inputs()
  // goes back to the buffers.
  void bind_input(size_t i, const Tensor& t);
  void unbind_inputs();

  // Submits every node in order; host nodes run in between (their input
  // copies wait for the device). Returns before the primary's stream is done:
  // synchronize it before reading outputs on the host.
  void run(backend::DeviceSwitch how = backend::DeviceSwitch::Always);
  // The outputs of the last run, in graph-output order: views of the fixed
  // output buffers (overwritten by the next run), data-dependent ones freshly
  // allocated, constants as the engine holds them (in host memory).
  const std::vector<Tensor>& outputs() const { return m_outputs; }

  // A buffer kept for output i in host or device memory, made on first use
  // and whenever the output's dtype or shape changes (pre-allocated outputs).
  Tensor kept_output(size_t i, const Tensor& like, bool on_device);

  // Memory of the primary device this context owns (host memory for a CPU
  // engine): its arena and the constants only it holds.
  size_t device_bytes() const;

  // CUDA-graph capture, after at least one run (kernels set themselves up
  // lazily). Each maximal run of nodes on the primary device whose kernels
  // can be captured, whose values are all planned and whose host inputs are
  // constants is recorded once and replayed by later runs; other nodes still
  // run one by one. Inputs must then be in the fixed buffers (no binding).
  // Returns false, keeping no graph, when a capture failed, with the reason;
  // true otherwise, also when nothing could be captured (capture_mode() None:
  // the prepared plan itself is what replays, as on the CPU).
  bool capture(std::string* why);
  CaptureMode capture_mode() const;
  int captured_graphs() const;

  // Profiling: enable_profile() marks every node's work in its stream;
  // collect_profile(), once the streams are synchronized after a run, adds the
  // run's times (device time where the device has events).
  void enable_profile();
  void collect_profile();
  std::vector<NodeProfile> profile() const;
  void reset_profile();

 private:
  struct NodeRun {
    backend::Backend* backend = nullptr;
    backend::Stream* stream = nullptr;
    bool host_outputs = false;                 // its outputs live in host memory
    std::unique_ptr<backend::Kernel> kernel;
    std::string kernel_name;
    std::vector<Tensor> const_inputs;          // per input: the constant in the memory the kernel reads
    // The engine's weights it reads on the device (input index, host copy),
    // and those of them streaming now (weight streaming).
    std::vector<std::pair<size_t, const Tensor*>> weights, streamed;
  };
  struct Segment {
    size_t begin = 0, end = 0;  // node range
    bool capturable = false;
    std::unique_ptr<backend::Capture> graph;
  };
  Tensor slot_view(ir::ValueId v, DataType dt, const Shape& shape, bool host) const;
  void run_node(size_t i, std::vector<Tensor>& slots);
  void make_segments();
  bool node_capturable(size_t i) const;
  // Weight streaming: takes the store's resident set again when it changed,
  // and copies a node's streamed weights into a staging buffer on a copy
  // stream (two buffers in turn, so the next node's copy overlaps this one's
  // kernel), making the node's stream wait for them.
  void refresh_weights();
  void stage_weights(size_t i);

  std::shared_ptr<const ir::Graph> m_graph;
  engine::MemoryPlan m_plan;
  backend::Backend& m_primary;
  std::shared_ptr<WeightStore> m_weights;
  std::vector<std::unique_ptr<backend::Stream>> m_streams;  // [0] primary, [1] host when mixed
  std::vector<NodeRun> m_nodes;
  std::vector<int32_t> m_last_use;  // per value: index of the last node reading it
  std::vector<bool> m_keep;         // per value: graph input or output (never freed early)
  void* m_arena = nullptr;          // the primary's arena
  void* m_host_arena = nullptr;     // host-fallback values of a mixed engine
  std::vector<Tensor> m_bound;      // per input: bound external tensor or undefined
  std::vector<Tensor> m_outputs;
  std::vector<Tensor> m_kept_host, m_kept_device;  // pre-allocated outputs
  std::vector<Tensor> m_private_constants;  // uploaded for this context only
  std::vector<Segment> m_segments;
  uint64_t m_weight_generation = ~uint64_t{0};
  size_t m_stage_bytes = 0;  // the most one node streams
  void* m_stage[2] = {nullptr, nullptr};
  std::unique_ptr<backend::Marker> m_stage_free[2];
  int m_stage_next = 0;
  std::unique_ptr<backend::Stream> m_copy_stream;
  size_t m_private_bytes = 0;
  // Profiling: per node, summed ms and runs; markers of the last run.
  bool m_profile = false;
  std::vector<double> m_node_ms;
  std::vector<int64_t> m_node_runs;
  std::vector<std::pair<std::unique_ptr<backend::Marker>, std::unique_ptr<backend::Marker>>> m_marks;
};

}  // namespace kiln::runtime
