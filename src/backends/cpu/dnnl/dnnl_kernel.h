// The base of every oneDNN kernel: it owns an instance of the reference kernel
// of the same op and hands the node to it whenever oneDNN cannot compute the
// case exactly (dtype, rank, attribute combination, or a primitive oneDNN
// refuses to create). Kernels cache primitives and reordered weights per
// input shape; the executor makes one instance per node and plan.
#pragma once

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backends/cpu/cpu_threads.h"
#include "backends/kernel.h"
#include "ir/graph.h"

namespace kiln::backend::onednn {

// Threads for a primitive doing `work` multiply-adds (or element visits):
// work below `threshold` runs on the calling thread alone (1), since waking a
// second thread costs microseconds on an idle machine and scheduler ticks on
// a busy one; else 0 (the session's count). A primitive must run with the
// thread count it was created with, so kernels hold a CpuThreadScope with this
// across both creation and execution (the decision depends on shapes only).
inline int threads_for(double work, double threshold) { return work < threshold ? 1 : 0; }
constexpr double k_small_macs = 1 << 20;      // convolution, matmul
constexpr double k_small_elements = 1 << 16;  // pooling, normalization, softmax

// A convolution's multiply-adds, near enough (output positions x C/group x
// kernel taps, from X's size over the strides): the estimate the kernel and
// the "onednn_parallel" refusal both use.
inline double conv_macs(const Shape& x, const Shape& w, const std::vector<int64_t>& strides) {
  double m = static_cast<double>(x[0]) * static_cast<double>(shape_numel(w));
  for (size_t i = 2; i < x.size(); ++i) {
    const int64_t stride = i - 2 < strides.size() ? std::max<int64_t>(strides[i - 2], 1) : 1;
    m *= static_cast<double>(x[i]) / static_cast<double>(stride);
  }
  return m;
}

// Whether threads_for() gives a node's primitive every thread already, by the
// shapes shape inference found (false when they are unknown): then the
// "onednn_parallel" candidate would time the very same thing, so it refuses.
bool runs_on_all_threads(const ir::Node& node, const ir::Graph& graph);
[[noreturn]] void throw_same_as_onednn(const ir::Node& node);

class DnnlKernel : public Kernel {
 public:
  // The "onednn_parallel" candidate: primitives on the session's threads even
  // below the thresholds above, where one thread usually wins; the builder
  // times both per node (a 1000-class GEMV, for one, is bandwidth-bound and
  // gains from a second thread).
  void use_all_threads() { m_all_threads = true; }

 protected:
  DnnlKernel(const ir::Node& node, const ir::Graph& graph, const KernelFactory& reference);

  // Runs the reference kernel; inputs and output 0 in a channels-last layout
  // (passes/assign_layouts.cpp) are converted to and from plain around it.
  void run_reference(KernelContext& ctx);
  const ir::Node& node() const { return m_node; }
  // threads_for(), or 0 (all) for the "onednn_parallel" candidate.
  int threads_for_work(double work, double threshold) const { return m_all_threads ? 0 : threads_for(work, threshold); }

  // The layout of input i / output 0 that the layout pass chose: 0 plain,
  // 1 channels last.
  int in_layout(size_t i) const { return i < m_in_layouts.size() ? static_cast<int>(m_in_layouts[i]) : 0; }
  int out_layout() const { return m_out_layout; }

  // Whether input i is a constant of the graph (weights): then its data never
  // changes between runs and a reordered copy can be kept.
  static bool input_is_constant(const ir::Graph& g, const ir::Node& n, size_t i) {
    return n.has_input(i) && g.value(n.inputs[i]).constant.has_value();
  }

 private:
  const ir::Node& m_node;
  std::unique_ptr<Kernel> m_reference;
  std::vector<int64_t> m_in_layouts;
  int m_out_layout = 0;
  bool m_all_threads = false;
};

// The reference kernel behind DnnlKernel's layout conversion: what the
// "reference" candidate of an op with a oneDNN kernel runs, so that whichever
// candidate the builder's kernel selection picks reads the layouts the
// layout pass chose.
class LayoutAwareReference final : public DnnlKernel {
 public:
  LayoutAwareReference(const ir::Node& node, const ir::Graph& graph, const KernelFactory& reference)
      : DnnlKernel(node, graph, reference) {}
  void run(KernelContext& ctx) override { run_reference(ctx); }
};

// K(node, graph, reference) on all threads, for "onednn_parallel".
template <typename K>
std::unique_ptr<Kernel> make_all_threads(const ir::Node& node, const ir::Graph& graph, const KernelFactory& reference) {
  if (runs_on_all_threads(node, graph)) throw_same_as_onednn(node);
  auto k = std::make_unique<K>(node, graph, reference);
  k->use_all_threads();
  return k;
}

// Registers K(node, graph, reference) as the "onednn" candidate of `op` (the
// preferred one) and, on all threads, as "onednn_parallel", with reference =
// the factory registered for `op` so far (copied now), which also stays the
// "reference" candidate, layout-aware. `more` may register further
// candidates of the op, given the reference factory.
using MoreCandidates = std::function<void(KernelRegistry&, const std::string& op, const KernelFactory& reference)>;
template <typename K>
void override_kernel(KernelRegistry& r, const std::string& op, const MoreCandidates& more = nullptr) {
  const KernelFactory* found = r.find(op);
  if (!found) return;  // no reference kernel: nothing to fall back on, so no override
  KernelFactory reference = *found;
  r.add(
      op,
      [reference](const ir::Node& node, const ir::Graph& graph) -> std::unique_ptr<Kernel> {
        return std::make_unique<LayoutAwareReference>(node, graph, reference);
      },
      "reference");
  if (more) more(r, op, reference);
  r.add(
      op,
      [reference](const ir::Node& node, const ir::Graph& graph) -> std::unique_ptr<Kernel> {
        return make_all_threads<K>(node, graph, reference);
      },
      "onednn_parallel");
  r.add(
      op,
      [reference](const ir::Node& node, const ir::Graph& graph) -> std::unique_ptr<Kernel> {
        return std::make_unique<K>(node, graph, reference);
      },
      "onednn");  // registered last: the preferred candidate
}

}  // namespace kiln::backend::onednn
