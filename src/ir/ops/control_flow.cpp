// If: runs one of two subgraphs. The importer makes every outer value a branch
// reads an explicit input of the node (after the condition) and an input of
// both branch graphs, in the same order, so passes and the memory plan see
// the dependencies like any other.
#include "ir/op_schema.h"
#include "ir/ops/families.h"
#include "kiln/error.h"

namespace kiln::ir {

namespace {

const Graph& branch(const InferContext& ctx, const char* name) {
  const Attribute* a = ctx.node().attr(name);
  if (!a || a->kind != Attribute::Kind::Graph || !a->g) ctx.fail(std::string("missing graph attribute '") + name + "'");
  if (a->g->inputs.size() + 1 != ctx.num_inputs())
    ctx.fail(std::string("branch '") + name + "' takes " + std::to_string(a->g->inputs.size()) +
             " captured values, the node passes " + std::to_string(ctx.num_inputs() - 1));
  return *a->g;
}

// The branch's output types for the node's current input types.
std::vector<Value> branch_outputs(InferContext& ctx, const Graph& b) {
  Graph g = b;
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    Value& v = g.value(g.inputs[i]);
    v.dtype = ctx.input_dtype(i + 1);
    v.shape = ctx.input_shape(i + 1);
    if (const Tensor* c = ctx.input_const(i + 1)) v.constant = *c;
  }
  infer_shapes(g);
  std::vector<Value> out;
  for (ValueId id : g.outputs) out.push_back(g.value(id));
  return out;
}

// A branch whose inference fails for these inputs can never run without
// failing, so the node's types come from the other one (models often guard
// rank-specific code, e.g. 2-D vs 3-D, behind an If).
std::optional<std::vector<Value>> try_branch(InferContext& ctx, const char* name, std::optional<Error>* error) {
  const Graph& b = branch(ctx, name);
  try {
    return branch_outputs(ctx, b);
  } catch (const Error& e) {
    if (!*error) *error = e.with_context(std::string(name) + " of " + ctx.node().label());
    return std::nullopt;
  }
}

void infer_if(InferContext& ctx) {
  if (ctx.input_dtype(0) != DataType::Bool) ctx.fail("condition must be bool");
  std::optional<Error> error;
  std::optional<bool> known;  // the condition, when it is a constant already
  if (const Tensor* c = ctx.input_const(0); c && c->numel() == 1) known = c->data<bool>()[0];
  auto then_out = known == false ? std::nullopt : try_branch(ctx, "then_branch", &error);
  auto else_out = known == true ? std::nullopt : try_branch(ctx, "else_branch", &error);
  if (!then_out && !else_out) throw *error;
  if (!then_out) then_out = else_out;
  if (!else_out) else_out = then_out;
  if (then_out->size() != else_out->size() || then_out->size() != ctx.num_outputs())
    ctx.fail("branches and node disagree on the number of outputs");
  for (size_t i = 0; i < then_out->size(); ++i) {
    const Value &t = (*then_out)[i], &e = (*else_out)[i];
    if (t.dtype != e.dtype) ctx.fail("output " + std::to_string(i) + " has different dtypes in the two branches");
    std::optional<SymShape> shape;
    if (t.shape && e.shape && t.shape->size() == e.shape->size()) {
      shape = SymShape();
      for (size_t d = 0; d < t.shape->size(); ++d)
        shape->push_back((*t.shape)[d] == (*e.shape)[d] ? (*t.shape)[d] : ctx.new_symbol("if" + std::to_string(d)));
    }
    ctx.set_output(i, t.dtype, shape);
  }
}

}  // namespace

void register_control_flow_schemas(SchemaRegistry& r) {
  r.add(OpSchema{"", "If", 1, 1 << 16, 1, 1 << 16, 1, infer_if});
}

}  // namespace kiln::ir
