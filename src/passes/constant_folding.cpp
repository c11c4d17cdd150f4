#include <algorithm>
#include <unordered_set>

#include "backends/backend.h"
#include "ir/op_schema.h"
#include "kiln/error.h"
#include "passes/passes.h"

namespace kiln::passes {

namespace {

// Ops whose result must not be computed once at build time.
bool is_nondeterministic(const std::string& op) {
  static const std::unordered_set<std::string> k_ops = {
      "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli"};
  return k_ops.count(op) > 0;
}

// A folded value larger than this stays computed at run time: folding e.g. an
// Expand of a scalar to a huge tensor would bloat the engine file.
constexpr size_t k_max_folded_bytes = 64u << 20;

bool fold_shape_op(ir::Graph& g, const ir::Node& n) {
  if (n.op_type != "Shape" && n.op_type != "Size") return false;
  const ir::Value& in = g.value(n.inputs.at(0));
  if (!in.shape || !ir::shape_known(*in.shape)) return false;
  const Shape s = ir::to_shape(*in.shape);
  Tensor out;
  if (n.op_type == "Size") {
    out = Tensor::from_vector<int64_t>(DataType::Int64, {}, {shape_numel(s)});
  } else {
    const int64_t r = static_cast<int64_t>(s.size());
    // start/end exist from opset 15; older models have neither attribute.
    int64_t start = n.attr_i("start", 0), end = n.attr_i("end", r);
    if (start < 0) start += r;
    if (end < 0) end += r;
    start = std::clamp<int64_t>(start, 0, r);
    end = std::clamp<int64_t>(end, start, r);
    out = Tensor::from_vector(DataType::Int64, {end - start},
                              std::vector<int64_t>(s.begin() + start, s.begin() + end));
  }
  ir::Value& o = g.value(n.outputs.at(0));
  o.dtype = DataType::Int64;
  o.shape = ir::to_sym(out.shape());
  o.constant = out;
  return true;
}

bool fold_with_kernel(ir::Graph& g, const ir::Node& n) {
  for (ir::ValueId v : n.inputs)
    if (v != ir::k_no_value && !g.value(v).constant) return false;
  for (ir::ValueId v : n.outputs)
    if (v != ir::k_no_value && g.value(v).shape && ir::shape_known(*g.value(v).shape) &&
        shape_numel(ir::to_shape(*g.value(v).shape)) * std::max<size_t>(dtype_size(g.value(v).dtype), 1) > k_max_folded_bytes)
      return false;
  backend::Backend& host = backend::host_backend();
  const backend::KernelFactory* factory = host.kernels().find(n.op_type);
  if (!factory || !(n.domain.empty() || n.domain == "com.kiln")) return false;
  // A dtype the reference kernels lack (a lowered fp16 node, say) stays for run time.
  if (!host.supports(g, n, nullptr)) return false;
  std::vector<const Tensor*> ins;
  for (ir::ValueId v : n.inputs) ins.push_back(v == ir::k_no_value ? nullptr : &*g.value(v).constant);
  const std::vector<Tensor> outs = backend::run_node(host, *(*factory)(n, g), g, n, ins, nullptr);
  for (size_t i = 0; i < n.outputs.size(); ++i) {
    if (n.outputs[i] == ir::k_no_value) continue;
    if (!outs[i].defined()) return false;  // kernel left an optional output unwritten
  }
  for (size_t i = 0; i < n.outputs.size(); ++i) {
    if (n.outputs[i] == ir::k_no_value) continue;
    ir::Value& o = g.value(n.outputs[i]);
    o.dtype = outs[i].dtype();
    o.shape = ir::to_sym(outs[i].shape());
    o.constant = outs[i];
  }
  return true;
}

}  // namespace

int fold_constants(ir::Graph& g) {
  int folded = 0;
  // Graph outputs that are constants still need a producer at run time, so a
  // node writing a graph output is folded but kept (see Graph::prune).
  for (const ir::Node& n : g.nodes) {
    if (is_nondeterministic(n.op_type)) continue;
    bool done = false;
    try {
      done = fold_shape_op(g, n) || fold_with_kernel(g, n);
    } catch (const Error& e) {
      // The same node would fail at run time too; say which one now.
      throw e.with_context("constant folding " + n.label());
    }
    if (done) {
      ++folded;
    } else {
      // Refresh inference: upstream folding may have made shapes concrete.
      ir::infer_node(g, n);
    }
  }
  return folded;
}

}  // namespace kiln::passes
