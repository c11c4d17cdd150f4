// The CUDA elementwise family: registration, and the host side of the engine
// (elementwise_engine.cuh): the factory every op shares. Shape checks are the
// CPU kernels' own (backends/ew_params.h).
#include <algorithm>
#include <memory>

#include "backends/cuda/kernels/elementwise_engine.cuh"
#include "backends/cuda/kernels/families.h"

namespace kiln::backend::cuda {

namespace ew {

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
