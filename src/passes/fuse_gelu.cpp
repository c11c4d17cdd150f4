// The erf GELU that exporters write out for opsets before 20 (PyTorch's
// nn.GELU, BERT and ViT blocks):
//   y = (x * (Erf(x / sqrt2) + 1)) * 0.5      or   (x * 0.5) * (Erf(x / sqrt2) + 1)
// with x / sqrt2 also written x * (1 / sqrt2), and either operand order of
// the commutative ops, becomes one com.kiln Gelu (the ONNX-20 op's semantics,
// approximate = "none"): five kernel launches and four intermediates become
// one. Every intermediate must have no other reader; the constants must be
// float32 scalars within 1e-4 (relative) of sqrt2, 1 and 0.5.
#include <cmath>

#include "passes/fusion_util.h"
#include "passes/passes.h"

namespace kiln::passes {

namespace {

// The constant float32 scalar operand of binary node `n`, and the other operand.
bool scalar_operand(const ir::Graph& g, const ir::Node& n, float* value, ir::ValueId* other) {
  if (n.inputs.size() != 2 || n.outputs.size() != 1) return false;
  for (size_t i = 0; i < 2; ++i) {
    const auto& c = g.value(n.inputs[i]).constant;
    if (c && c->dtype() == DataType::Float32 && c->numel() == 1) {
      *value = c->data<float>()[0];
      *other = n.inputs[1 - i];
      return true;
    }
  }
  return false;
}

bool near(float v, double want) { return std::fabs(v - want) <= 1e-4 * std::fabs(want); }

// The sole non-dead reader of v when it is the ONNX op `op`, else -1.
ir::NodeId sole_reader(const ir::Graph& g, const Readers& readers, const std::vector<bool>& dead, ir::ValueId v,
                       const char* op) {
  const ir::NodeId r = readers.sole(v);
  if (r < 0 || dead[static_cast<size_t>(r)] || !is_onnx(g.nodes[static_cast<size_t>(r)], op)) return -1;
  return r;
}

}  // namespace

int fuse_gelu(ir::Graph& g, const NodeFilter& can_run) {
  const Readers readers(g);
  const std::vector<ir::NodeId> producer = g.producers();
  std::vector<bool> dead(g.nodes.size(), false);
  int fused = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const ir::Node& first = g.nodes[i];
    if (dead[i] || first.outputs.size() != 1) continue;
    // x / sqrt2 or x * (1/sqrt2)
    float c = 0.f;
    ir::ValueId x = ir::k_no_value;
    if (is_onnx(first, "Div")) {
      // The scalar must be the divisor: x is then input 0.
      if (!scalar_operand(g, first, &c, &x) || x != first.inputs[0] || !near(c, std::sqrt(2.0)))
        continue;
    } else if (is_onnx(first, "Mul")) {
      if (!scalar_operand(g, first, &c, &x) || !near(c, std::sqrt(0.5))) continue;
    } else {
      continue;
    }
    if (g.value(x).dtype != DataType::Float32) continue;
    const ir::NodeId erf = sole_reader(g, readers, dead, first.outputs[0], "Erf");
    if (erf < 0) continue;
    const ir::NodeId add = sole_reader(g, readers, dead, g.nodes[erf].outputs[0], "Add");
    ir::ValueId t = ir::k_no_value;
    if (add < 0 || !scalar_operand(g, g.nodes[add], &c, &t) || !near(c, 1.0)) continue;
    // Two Muls: by x and by 0.5, in either order.
    const ir::NodeId m1 = sole_reader(g, readers, dead, g.nodes[add].outputs[0], "Mul");
    if (m1 < 0) continue;
    const ir::Node& mul1 = g.nodes[m1];
    if (mul1.inputs.size() != 2) continue;
    const ir::ValueId a1 = g.nodes[add].outputs[0];
    const ir::ValueId o1 = mul1.inputs[0] == a1 ? mul1.inputs[1] : mul1.inputs[0];
    std::vector<ir::NodeId> chain = {erf, add, m1};
    ir::NodeId half = -1;  // the x * 0.5 node of the second form
    if (o1 == x) {  // (x * (erf + 1)) * 0.5
      const ir::NodeId m2 = sole_reader(g, readers, dead, mul1.outputs[0], "Mul");
      ir::ValueId rest = ir::k_no_value;
      if (m2 < 0 || !scalar_operand(g, g.nodes[m2], &c, &rest) || !near(c, 0.5)) continue;
      chain.push_back(m2);
    } else {  // (x * 0.5) * (erf + 1): o1 = x * 0.5, read by this Mul only
      half = producer[static_cast<size_t>(o1)];
      ir::ValueId hx = ir::k_no_value;
      if (half < 0 || dead[static_cast<size_t>(half)] || !is_onnx(g.nodes[half], "Mul") || readers.sole(o1) != m1 ||
          !scalar_operand(g, g.nodes[half], &c, &hx) || hx != x || !near(c, 0.5))
        continue;
    }
    ir::Node f;
    f.name = g.nodes[chain.back()].name + "/gelu";
    f.domain = "com.kiln";
    f.op_type = "Gelu";
    f.inputs = {x};
    f.outputs = {g.nodes[chain.back()].outputs[0]};
    keep_placement(first, f);
    if (can_run && !can_run(f)) continue;
    if (half >= 0) dead[static_cast<size_t>(half)] = true;  // its work moves into the Gelu
    replace_chain(g, dead, i, chain, std::move(f));
    ++fused;
  }
  finish_fusions(g, dead, fused);
  return fused;
}

}  // namespace kiln::passes
