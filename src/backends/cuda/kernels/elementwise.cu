// The CUDA elementwise family: registration, and the host side of the engine
// (elementwise_engine.cuh) — shape checks as the CPU kernels make them
// (backends/cpu/kernels/elementwise.cpp) and the factory every op shares.
#include <algorithm>
#include <memory>

#include "backends/cuda/kernels/elementwise_engine.cuh"
#include "backends/cuda/kernels/families.h"

namespace kiln::backend::cuda {

namespace ew {

void require_same_dtype(const KernelContext& ctx, std::initializer_list<size_t> inputs) {
  DataType first = DataType::Undefined;
  for (size_t i : inputs) {
    if (!ctx.has_input(i)) continue;
    const DataType dt = ctx.input(i).dtype();
    if (first == DataType::Undefined) first = dt;
    else if (dt != first)
      ctx.fail("input " + std::to_string(i) + " has dtype " + std::string(dtype_name(dt)) + ", expected " +
               std::string(dtype_name(first)) + " like the other inputs");
  }
}

Shape broadcast_shape(const KernelContext& ctx, const std::vector<const Shape*>& shapes) {
  size_t rank = 0;
  for (const Shape* s : shapes) rank = std::max(rank, s->size());
  Shape out(rank, 1);
  for (const Shape* s : shapes) {
    const size_t off = rank - s->size();
    for (size_t i = 0; i < s->size(); ++i) {
      const int64_t d = (*s)[i];
      int64_t& o = out[off + i];
      if (d == o || d == 1) continue;
      if (o == 1) {
        o = d;
        continue;
      }
      std::string msg = "cannot broadcast shapes";
      for (const Shape* t : shapes) msg += " " + shape_str(*t);
      ctx.fail(msg);
    }
  }
  return out;
}

Shape legacy_rhs_shape(const KernelContext& ctx, const Shape& a, const Shape& b) {
  const ir::Node& node = ctx.node();
  if (node.attr_i("broadcast", 0) == 0) {
    if (a != b)
      ctx.fail("shapes " + shape_str(a) + " and " + shape_str(b) +
               " differ and the (opset < 7) broadcast attribute is not set");
    return b;
  }
  if (!node.attr("axis")) return b;  // suffix matching: what numpy does too
  const int64_t ra = static_cast<int64_t>(a.size()), rb = static_cast<int64_t>(b.size());
  int64_t axis = node.attr_i("axis", 0);
  if (axis < 0) axis += ra;
  if (axis < 0 || axis + rb > ra)
    ctx.fail("broadcast axis " + std::to_string(node.attr_i("axis", 0)) + " does not fit shape " + shape_str(b) +
             " into " + shape_str(a));
  Shape out = b;
  out.resize(static_cast<size_t>(ra - axis), 1);
  return out;
}

void binary_shapes(const KernelContext& ctx, Shape* sb, Shape* so) {
  const Shape& a = ctx.input(0).shape();
  const Shape& b = ctx.input(1).shape();
  *sb = ctx.opset() < 7 ? legacy_rhs_shape(ctx, a, b) : b;
  *so = broadcast_shape(ctx, {&a, sb});
}

void refuse(const ir::Node& n, const std::string& why) {
  throw Error(ErrorCode::Unsupported, n.label() + ": " + why + " on cuda");
}

void require_dtype(const ir::Node& n, const ir::Graph& g, size_t i, uint32_t mask) {
  if (!n.has_input(i)) return;
  const DataType dt = g.value(n.inputs[i]).dtype;
  if (dt == DataType::Undefined || in_mask(dt, mask)) return;
  const std::string_view name = dtype_name(dt);
  refuse(n, "input " + std::to_string(i) + " of dtype " +
                (name == "undefined" ? "#" + std::to_string(static_cast<int>(dt)) : std::string(name)) +
                " is not supported");
}

namespace {

class FnKernel final : public Kernel {
 public:
  explicit FnKernel(KernelFn fn) : m_fn(fn) {}
  void run(KernelContext& ctx) override { m_fn(ctx); }

 private:
  KernelFn m_fn;
};

}  // namespace

void add_op(KernelRegistry& r, const char* op, KernelFn fn, uint32_t dtypes, int checked, bool broadcast,
            Check extra) {
  r.add(
      op,
      [fn, dtypes, checked, broadcast, extra = std::move(extra)](const ir::Node& n,
                                                                 const ir::Graph& g) -> std::unique_ptr<Kernel> {
        const size_t k = checked < 0 ? n.inputs.size() : std::min(n.inputs.size(), static_cast<size_t>(checked));
        for (size_t i = 0; i < k; ++i) require_dtype(n, g, i, dtypes);
        if (broadcast) {
          // Merged broadcast dims never exceed the output's rank.
          for (ir::ValueId v : n.inputs) require_rank(n, g, v);
          for (ir::ValueId v : n.outputs) require_rank(n, g, v);
        }
        if (extra) extra(n, g);
        return std::make_unique<FnKernel>(fn);
      },
      "cuda");
}

}  // namespace ew

void register_cuda_elementwise(KernelRegistry& r) {
  ew::register_ew_math(r);
  ew::register_ew_activation(r);
  ew::register_ew_arith(r);
  ew::register_ew_logic(r);
  ew::register_ew_variadic(r);
  ew::register_ew_cast(r);
  ew::register_ew_quant(r);
}

}  // namespace kiln::backend::cuda
