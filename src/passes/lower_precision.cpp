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
// Both ends of a network stay float32, as PyTorch's autocast keeps them:
// what comes before the first convolution or GEMM (an image's normalization
// and resize, rounded once by that convolution rather than at every step),
// and a detector's post-processing: every node between the last convolution
// or GEMM and the boxes and scores that NonMaxSuppression or TopK read (box
// decoding adds offsets to coordinates of hundreds of pixels, where
// bfloat16's step is 2; which detections survive turns on the last bits of
// near-equal scores). NMS may
// sit in an If's branch: the outer values a branch reads are the If's inputs.
//
// Idempotent: a second run finds no float32 value a lowerable node reads
// (only boundary Casts and kept nodes remain float32), which lets
// builder::specialize re-optimize a lowered graph.
#include <algorithm>
#include <cmath>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "core/half.h"
#include "ir/graph.h"
#include "ir/op_schema.h"
#include "kiln/error.h"
#include "passes/fusion_util.h"
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
      "Pow", "Exp", "Log", "Softplus", "ReduceSum", "ReduceSumSquare", "ReduceL1", "ReduceL2", "ReduceLogSum",
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
    // Saturate: a finite float32 beyond fp16's range (a -3.4e38 mask fill,
    // say) becomes +-65504, not an infinity that turns 0 * fill into NaN.
    Half* out = dst.data<Half>();
    for (int64_t i = 0; i < n; ++i) out[i] = Half(std::isfinite(in[i]) ? std::clamp(in[i], -65504.f, 65504.f) : in[i]);
  } else {
    BFloat16* out = dst.data<BFloat16>();
    for (int64_t i = 0; i < n; ++i) out[i] = BFloat16(in[i]);
  }
  return dst;
}

std::string suffix(DataType t) { return t == DataType::Float16 ? "_fp16" : "_bf16"; }

// The ops whose 16-bit speed is worth lowering for; a walk back from the
// post-processing stops at them.
bool heavy(const ir::Node& n) {
  static const std::set<std::string> ops = {
      "Conv",          "ConvTranspose", "MatMul",    "Gemm",        "FusedConv", "FusedConvDw",
      "FusedConvPool", "FusedConvPair", "FusedGemm", "FusedMatMul", "Attention", "Einsum"};
  return ops.count(n.op_type) > 0;
}

bool ranks_detections(const ir::Node& n) { return n.op_type == "NonMaxSuppression" || n.op_type == "TopK"; }

// Whether a (sub)graph holds NMS or TopK, at any depth.
bool holds_ranking(const ir::Graph& g) {
  for (const ir::Node& n : g.nodes) {
    if (ranks_detections(n)) return true;
    for (const auto& [_, a] : n.attrs)
      if (a.g && holds_ranking(*a.g)) return true;
  }
  return false;
}

// Nodes of the post-processing that feeds NMS/TopK (see the file's header).
std::vector<bool> post_processing(const ir::Graph& g) {
  const std::vector<ir::NodeId> producer = g.producers();
  std::vector<bool> keep(g.nodes.size(), false);
  std::vector<ir::ValueId> stack;
  for (const ir::Node& n : g.nodes) {
    // An If's captured values are its inputs (ir/ops/control_flow.cpp).
    bool ranks = ranks_detections(n);
    for (const auto& [_, a] : n.attrs) ranks |= a.g && holds_ranking(*a.g);
    if (ranks) stack.insert(stack.end(), n.inputs.begin(), n.inputs.end());
  }
  while (!stack.empty()) {
    const ir::ValueId v = stack.back();
    stack.pop_back();
    if (v == ir::k_no_value) continue;
    const ir::NodeId p = producer[static_cast<size_t>(v)];
    if (p < 0 || keep[static_cast<size_t>(p)] || heavy(g.nodes[static_cast<size_t>(p)])) continue;
    keep[static_cast<size_t>(p)] = true;
    const ir::Node& n = g.nodes[static_cast<size_t>(p)];
    stack.insert(stack.end(), n.inputs.begin(), n.inputs.end());
  }
  return keep;
}

// Nodes of the pre-processing: those no convolution or GEMM precedes (an
// image's normalization and resize ahead of a detector's backbone), which
// autocast leaves in float32 too: in 16 bits the image would be rounded at
// every step before the first convolution rounds it once.
std::vector<bool> pre_processing(const ir::Graph& g) {
  std::vector<ir::NodeId> stack;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (heavy(g.nodes[i])) stack.push_back(static_cast<ir::NodeId>(i));
  // A graph without a convolution or GEMM has no backbone to come before:
  // nothing of it is pre-processing.
  if (stack.empty()) return std::vector<bool>(g.nodes.size(), false);
  const Readers readers(g);
  std::vector<bool> pre(g.nodes.size(), true);  // cleared for heavy nodes and all they reach
  while (!stack.empty()) {
    const auto n = static_cast<size_t>(stack.back());
    stack.pop_back();
    if (!pre[n]) continue;
    pre[n] = false;
    for (ir::ValueId v : g.nodes[n].outputs)
      if (v != ir::k_no_value)
        for (ir::NodeId r : readers.nodes[static_cast<size_t>(v)])
          if (pre[static_cast<size_t>(r)]) stack.push_back(r);
  }
  return pre;
}

}  // namespace

LoweringResult lower_precision(ir::Graph& g, DataType target, const LowerableFilter& supports,
                               const HostInputFilter& host_input) {
  if (target != DataType::Float16 && target != DataType::BFloat16)
    throw Error(ErrorCode::Internal, "lower_precision: target must be float16 or bfloat16");
  LoweringResult r;
  const size_t n_nodes = g.nodes.size();
  const auto is_f32 = [&](ir::ValueId v) { return v != ir::k_no_value && g.value(v).dtype == DataType::Float32; };
  // Input slots read on the host stay float32, except where ONNX types them
  // as X (Clip bounds, Pad's constant): those follow X.
  const auto stays_f32 = [&](const ir::Node& n, size_t k) {
    if (!host_input || !host_input(n, k)) return false;
    return !((n.op_type == "Clip" && (k == 1 || k == 2)) || (n.op_type == "Pad" && k == 2));
  };

  // Values some slot reads as float32 on the host keep float32 in the trial.
  std::vector<bool> keep_value(g.values.size(), false);
  for (const ir::Node& n : g.nodes)
    for (size_t i = 0; i < n.inputs.size(); ++i)
      if (n.inputs[i] != ir::k_no_value && stays_f32(n, i)) keep_value[n.inputs[i]] = true;

  // Which nodes can be lowered: asked on a copy where every float32 value
  // but the kept ones has the target type, and where the node's own type
  // rules (schema inference) still hold.
  ir::Graph trial = g;
  for (size_t v = 0; v < trial.values.size(); ++v)
    if (trial.values[v].dtype == DataType::Float32 && !keep_value[v]) trial.values[v].dtype = target;
  std::vector<bool> lower(n_nodes, false);
  const std::vector<bool> post = post_processing(g), pre = pre_processing(g);
  for (size_t i = 0; i < n_nodes; ++i) {
    const ir::Node& n = g.nodes[i];
    bool touches_f32 = false;
    for (size_t k = 0; k < n.inputs.size(); ++k) touches_f32 |= is_f32(n.inputs[k]) && !stays_f32(n, k);
    for (ir::ValueId v : n.outputs) touches_f32 |= is_f32(v) && !keep_value[v];
    if (!touches_f32) continue;
    bool ok = !kept_ops().count(n.op_type) && !post[i] && !pre[i] && supports(trial, trial.nodes[i]);
    if (ok) {
      // Inference writes the outputs: saved and put back after.
      std::vector<ir::Value> saved;
      for (ir::ValueId v : n.outputs)
        if (v != ir::k_no_value) saved.push_back(trial.value(v));
      try {
        ir::infer_node(trial, trial.nodes[i]);
        size_t j = 0;
        for (ir::ValueId v : n.outputs)
          if (v != ir::k_no_value) ok &= trial.value(v).dtype == saved[j++].dtype;
      } catch (const Error&) {
        ok = false;
      }
      size_t j = 0;
      for (ir::ValueId v : n.outputs)
        if (v != ir::k_no_value) trial.value(v) = saved[j++];
    }
    if (!ok) {
      ++r.kept;
      continue;
    }
    lower[i] = true;
  }

  // Readers of each value that stay float32 (graph outputs count as one).
  std::vector<int32_t> f32_readers(g.values.size(), 0);
  for (size_t i = 0; i < n_nodes; ++i)
    for (size_t k = 0; k < g.nodes[i].inputs.size(); ++k) {
      const ir::ValueId v = g.nodes[i].inputs[k];
      if (v != ir::k_no_value && (!lower[i] || stays_f32(g.nodes[i], k))) ++f32_readers[v];
    }
  for (ir::ValueId v : g.outputs) ++f32_readers[v];

  // Casts go next to what they convert (no re-sort: a weightless build's
  // weights have no producer yet, which Graph::topo_sort refuses).
  std::vector<std::vector<ir::Node>> before(n_nodes), after(n_nodes);
  const auto make_cast = [&](ir::ValueId from, ir::ValueId to, DataType to_type, const std::string& name) {
    ir::Node c;
    c.name = name;
    c.op_type = "Cast";
    c.inputs = {from};
    c.outputs = {to};
    ir::Attribute a;
    a.kind = ir::Attribute::Kind::Int;
    a.i = static_cast<int64_t>(to_type);
    c.attrs["to"] = a;
    ++r.casts;
    return c;
  };
  std::unordered_set<std::string> names;  // taken, for unique twin names without a scan each
  for (const ir::Value& v : g.values) names.insert(v.name);
  const auto new_value = [&](ir::ValueId of) {
    ir::Value t;
    t.name = g.value(of).name + suffix(target);
    while (!names.insert(t.name).second) t.name += "_";
    t.dtype = target;
    t.shape = g.value(of).shape;
    return g.add_value(std::move(t));
  };

  std::unordered_map<ir::ValueId, ir::ValueId> twin;  // float32 value -> its target-typed twin
  for (size_t i = 0; i < n_nodes; ++i) {
    if (!lower[i]) continue;
    ++r.lowered;
    // Inputs: the producer's twin, a converted constant, or a Cast just before.
    for (size_t k = 0; k < g.nodes[i].inputs.size(); ++k) {
      const ir::ValueId v = g.nodes[i].inputs[k];
      if (!is_f32(v) || stays_f32(g.nodes[i], k)) continue;
      auto it = twin.find(v);
      if (it == twin.end()) {
        const ir::ValueId t = new_value(v);
        if (g.value(v).constant) {
          g.value(t).constant = convert(*g.value(v).constant, target);
          ++r.constants;
        } else {
          before[i].push_back(make_cast(v, t, target, "kiln_to" + suffix(target) + "/" + g.value(v).name));
        }
        it = twin.emplace(v, t).first;
      }
      g.nodes[i].inputs[k] = it->second;
    }
    // Outputs: twins (in topological order, before any reader asks), with a
    // Cast back just after for float32 readers. Host-read outputs stay float32.
    for (size_t k = 0; k < g.nodes[i].outputs.size(); ++k) {
      const ir::ValueId v = g.nodes[i].outputs[k];
      if (!is_f32(v) || keep_value[v]) continue;
      const ir::ValueId t = new_value(v);
      twin[v] = t;
      g.nodes[i].outputs[k] = t;
      if (f32_readers[v] > 0) after[i].push_back(make_cast(t, v, DataType::Float32, "kiln_to_fp32/" + g.value(v).name));
    }
  }
  if (r.lowered == 0) return r;
  std::vector<ir::Node> nodes;
  nodes.reserve(n_nodes + static_cast<size_t>(r.casts));
  for (size_t i = 0; i < n_nodes; ++i) {
    for (ir::Node& c : before[i]) nodes.push_back(std::move(c));
    nodes.push_back(std::move(g.nodes[i]));
    for (ir::Node& c : after[i]) nodes.push_back(std::move(c));
  }
  g.nodes = std::move(nodes);
  g.prune();
  return r;
}

}  // namespace kiln::passes
