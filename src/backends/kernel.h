// What a kernel sees when it runs: the node (attributes), its input tensors and
// a way to get output tensors of the shape it computes. Output memory comes from
// the executor (the static memory plan when the shape matches, else a fresh
// allocation), so data-dependent shapes (NonZero) need nothing special.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "kiln/tensor.h"

namespace kiln::backend {

class Stream;

class KernelContext {
 public:
  using AllocFn = std::function<Tensor(size_t index, DataType dtype, const Shape& shape)>;

  KernelContext(const ir::Node& node, int64_t opset, std::vector<const Tensor*> inputs,
                std::vector<Tensor>& outputs, AllocFn alloc, Stream* stream)
      : m_node(node), m_opset(opset), m_inputs(std::move(inputs)), m_outputs(outputs),
        m_alloc(std::move(alloc)), m_stream(stream) {}

  const ir::Node& node() const { return m_node; }
  int64_t opset() const { return m_opset; }
  size_t num_inputs() const { return m_inputs.size(); }
  size_t num_outputs() const { return m_outputs.size(); }
  bool has_input(size_t i) const { return i < m_inputs.size() && m_inputs[i] != nullptr; }
  bool has_output(size_t i) const { return i < m_node.outputs.size() && m_node.outputs[i] != ir::k_no_value; }
  // Throws kiln::Error naming the node when the input is omitted.
  const Tensor& input(size_t i) const;
  // Input i, or null when it is omitted.
  const Tensor* optional_input(size_t i) const { return has_input(i) ? &input(i) : nullptr; }
  // Allocates (or hands out planned memory for) output i and returns it. Memory
  // is not zeroed when it comes from the plan. Call once per output.
  Tensor& output(size_t i, DataType dtype, const Shape& shape);
  Stream* stream() const { return m_stream; }
  // The outputs made so far (undefined until output(i) is called).
  const std::vector<Tensor>& outputs() const { return m_outputs; }

  [[noreturn]] void fail(const std::string& what) const;  // kiln::Error(InvalidArgument)

 private:
  const ir::Node& m_node;
  int64_t m_opset;
  std::vector<const Tensor*> m_inputs;
  std::vector<Tensor>& m_outputs;
  AllocFn m_alloc;
  Stream* m_stream;
};

// A kernel instance is made once per node when a plan is prepared, so it may
// cache per-shape state (oneDNN primitives, cuDNN plans) between runs. run() is
// called from one thread at a time per instance.
class Kernel {
 public:
  virtual ~Kernel() = default;
  virtual void run(KernelContext& ctx) = 0;
  // Whether a run can be recorded into a CUDA graph and replayed: false for
  // kernels that read results on the host (NonZero's count) or allocate by
  // data. Only asked of kernels on a backend that can capture.
  virtual bool capturable() const { return true; }
};

using KernelFn = void (*)(KernelContext&);

// A kernel that is a plain function of the context (its factory validated the
// node). Not capturable when the function reads results back on the host
// (NonZero's count, NMS's) or uploads a per-run table from pageable memory.
class FnKernel final : public Kernel {
 public:
  explicit FnKernel(KernelFn fn, bool capturable = true) : m_fn(fn), m_capturable(capturable) {}
  void run(KernelContext& ctx) override { m_fn(ctx); }
  bool capturable() const override { return m_capturable; }

 private:
  KernelFn m_fn;
  bool m_capturable;
};
using KernelFactory = std::function<std::unique_ptr<Kernel>(const ir::Node& node, const ir::Graph& graph)>;

// Op type → kernel candidates, for one backend. Families register into it (see
// backends/cpu/kernels/families.h). An op may have several named candidates
// (e.g. "reference" and "onednn"); the builder picks one per node, timing them
// when it has to (builder/kernel_selection.h), and records the choice in the
// node's "kiln.kernel" attribute.
class KernelRegistry {
 public:
  void add(const std::string& op_type, KernelFactory factory, const std::string& candidate = "reference");
  void add_fn(const std::string& op_type, KernelFn fn, const std::string& candidate = "reference");
  // The most recently registered candidate: the preferred one.
  const KernelFactory* find(const std::string& op_type) const;
  // A named candidate; a later registration under the same name replaces it.
  const KernelFactory* find(const std::string& op_type, const std::string& candidate) const;
  std::vector<std::string> candidates(const std::string& op_type) const;  // registration order
  std::vector<std::string> op_types() const;

 private:
  struct Entry {
    std::string op_type, candidate;
    KernelFactory factory;
  };
  std::vector<Entry> m_entries;
};

// The kernel a node runs with: its "kiln.kernel" choice if it has one, else
// the preferred candidate; nullptr when the op has none.
const KernelFactory* kernel_for(const KernelRegistry& registry, const ir::Node& node);
// The candidate name kernel_for() picks ("" when the op has none).
std::string kernel_name_for(const KernelRegistry& registry, const ir::Node& node);

}  // namespace kiln::backend
