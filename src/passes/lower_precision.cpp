// Reduced precision (BuildConfig::precision fp16/bf16): float32 compute is
// moved to the target type node by node, as TensorRT's fp16 mode and ONNX
// Runtime's float16 converter do, keeping the graph's inputs and outputs in
// the model's dtypes.
//
// A node is lowered when (1) its op is not on the keep list below (ops whose
// result overflows or loses range in 16 bits, or whose dtype is an attribute),
// and (2) the target backend supports it with its float32 values retyped
// (asked on a trial copy of the graph, so every backend's own dtype rules
// apply). A lowered node reads target-typed inputs — its producer's twin when
// that was lowered too, a converted constant, or a Cast — and writes
// target-typed twins of its outputs; a Cast back to float32 keeps the original
// value for readers that were not lowered and for graph outputs. Inputs the
// backend reads on the host (Resize scales, say) stay float32.
//
// Kernels accumulate 16-bit inputs in float32 (softmax, normalizations,
// reductions, GEMM), so only storage and bandwidth drop to 16 bits.
//
// Idempotent: a second run finds no float32 value a lowerable node reads
// (only boundary Casts and kept nodes remain float32), which lets
// builder::specialize re-optimize a lowered graph.
#include <set>
#include <unordered_map>

#include "core/half.h"
#include "ir/graph.h"
#include "kiln/error.h"
#include "passes/passes.h"

namespace kiln::passes {
namespace {

// Ops that stay float32: range-sensitive arithmetic (x^2, e^x and sums of
// squares overflow 65504 long before float32 does; a running product or sum
// over a whole axis loses the low bits), ops whose output type is an
// attribute or that compute on shapes, and quantization (scales are float32
// by contract).
const std::set<std::string>& kept_ops() {
  static const std::set<std::string> ops = {
      "Pow", "Exp", "Log", "Softplus", "ReduceSumSquare", "ReduceL1", "ReduceL2", "ReduceLogSum",
      "ReduceLogSumExp", "ReduceProd", "CumSum", "Range", "NonMaxSuppression", "Cast", "CastLike",
      "ConstantOfShape", "EyeLike", "RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike",
      "Multinomial", "Bernoulli", "Shape", "Size", "Constant", "If", "Loop", "Scan", "QuantizeLinear",
      "DequantizeLinear", "DynamicQuantizeLinear", "QLinearConv", "QLinearMatMul", "MatMulInteger",
      "ConvInteger", "ToDevice", "ToHost"};
  return ops;
}

Tensor convert(const Tensor& src, DataType target) {
  Tensor dst = Tensor::empty(target, src.shape());
  const float* in = src.data<float>();
  const int64_t n = src.numel();
  if (target == DataType::Float16) {
    Half* out = dst.data<Half>();
    for (int64_t i = 0; i < n; ++i) out[i] = Half(in[i]);
  } else {
    BFloat16* out = dst.data<BFloat16>();
    for (int64_t i = 0; i < n; ++i) out[i] = BFloat16(in[i]);
  }
  return dst;
}

std::string suffix(DataType t) { return t == DataType::Float16 ? "_fp16" : "_bf16"; }

}  // namespace

LoweringResult lower_precision(ir::Graph& g, DataType target, const LowerableFilter& supports,
                               const HostInputFilter& host_input) {
  if (target != DataType::Float16 && target != DataType::BFloat16)
    throw Error(ErrorCode::Internal, "lower_precision: target must be float16 or bfloat16");
  LoweringResult r;
  const size_t n_nodes = g.nodes.size();
  const auto is_f32 = [&](ir::ValueId v) { return v != ir::k_no_value && g.value(v).dtype == DataType::Float32; };

  // Values some node reads on the host keep float32 everywhere.
  std::vector<bool> keep_value(g.values.size(), false);
  for (const ir::Node& n : g.nodes)
    for (size_t i = 0; i < n.inputs.size(); ++i)
      if (n.inputs[i] != ir::k_no_value && host_input && host_input(n, i)) keep_value[n.inputs[i]] = true;

  // Which nodes can be lowered: asked on a copy where every float32 value
  // but the kept ones has the target type.
  ir::Graph trial = g;
  for (size_t v = 0; v < trial.values.size(); ++v)
    if (trial.values[v].dtype == DataType::Float32 && !keep_value[v]) trial.values[v].dtype = target;
  std::vector<bool> lower(n_nodes, false);
  for (size_t i = 0; i < n_nodes; ++i) {
    const ir::Node& n = g.nodes[i];
    bool touches_f32 = false;
    for (size_t k = 0; k < n.inputs.size(); ++k) touches_f32 |= is_f32(n.inputs[k]) && !keep_value[n.inputs[k]];
    for (ir::ValueId v : n.outputs) touches_f32 |= is_f32(v);
    if (!touches_f32) continue;
    if (kept_ops().count(n.op_type) || !supports(trial, trial.nodes[i])) {
      ++r.kept;
      continue;
    }
    lower[i] = true;
  }

  // Readers of each value that stay float32 (graph outputs count as one).
  std::vector<int32_t> f32_readers(g.values.size(), 0);
  for (size_t i = 0; i < n_nodes; ++i)
    for (ir::ValueId v : g.nodes[i].inputs)
      if (v != ir::k_no_value && !lower[i]) ++f32_readers[v];
  for (ir::ValueId v : g.outputs) ++f32_readers[v];

  std::unordered_map<ir::ValueId, ir::ValueId> twin;  // float32 value -> its target-typed twin
  std::vector<ir::Node> added;                        // Casts, placed by topo_sort below
  const auto add_cast = [&](ir::ValueId from, ir::ValueId to, DataType to_type, const std::string& name) {
    ir::Node c;
    c.name = name;
    c.op_type = "Cast";
    c.inputs = {from};
    c.outputs = {to};
    ir::Attribute a;
    a.kind = ir::Attribute::Kind::Int;
    a.i = static_cast<int64_t>(to_type);
    c.attrs["to"] = a;
    added.push_back(std::move(c));
    ++r.casts;
  };
  const auto new_value = [&](ir::ValueId of) {
    ir::Value t;
    t.name = g.value(of).name + suffix(target);
    while (g.find_value(t.name)) t.name += "_";
    t.dtype = target;
    t.shape = g.value(of).shape;
    return g.add_value(std::move(t));
  };

  // Outputs first, so readers later in topological order find the twins.
  for (size_t i = 0; i < n_nodes; ++i) {
    if (!lower[i]) continue;
    ++r.lowered;
    for (size_t k = 0; k < g.nodes[i].outputs.size(); ++k) {
      const ir::ValueId v = g.nodes[i].outputs[k];
      if (!is_f32(v)) continue;
      const ir::ValueId t = new_value(v);
      twin[v] = t;
      g.nodes[i].outputs[k] = t;
      if (f32_readers[v] > 0) add_cast(t, v, DataType::Float32, "kiln_to_fp32/" + g.value(v).name);
    }
  }
  for (size_t i = 0; i < n_nodes; ++i) {
    if (!lower[i]) continue;
    for (size_t k = 0; k < g.nodes[i].inputs.size(); ++k) {
      const ir::ValueId v = g.nodes[i].inputs[k];
      if (!is_f32(v) || keep_value[v]) continue;
      auto it = twin.find(v);
      if (it == twin.end()) {
        const ir::ValueId t = new_value(v);
        if (g.value(v).constant) {
          g.value(t).constant = convert(*g.value(v).constant, target);
          ++r.constants;
        } else {
          add_cast(v, t, target, "kiln_to" + suffix(target) + "/" + g.value(v).name);
        }
        it = twin.emplace(v, t).first;
      }
      g.nodes[i].inputs[k] = it->second;
    }
  }
  for (ir::Node& c : added) g.add_node(std::move(c));
  if (r.lowered > 0) {
    g.topo_sort();
    g.prune();
  }
  return r;
}

}  // namespace kiln::passes
