// Einsum by naive contraction: for every output element, sum over every
// assignment of the contracted labels the product of the operands' elements.
// Repeated labels within an operand (diagonals) and broadcast ellipsis axes
// fall out of per-label strides.
#include "backends/cpu/kernels/nn_kernels.h"
#include "ir/ops/nn_einsum.h"

namespace kiln::backend {

namespace {

using nn::AccIn;
using nn::AccOut;

template <typename T>
void contract(const std::vector<const T*>& ops, const std::vector<std::vector<int64_t>>& strides,
              const std::vector<int>& out_labels, const std::vector<int>& sum_labels,
              const std::vector<int64_t>& size, T* y, int64_t out_count) {
  std::vector<int64_t> idx(size.size(), 0);
  int64_t sum_count = 1;
  for (int l : sum_labels) sum_count *= size[static_cast<size_t>(l)];
  for (int64_t o = 0; o < out_count; ++o) {
    for (int l : sum_labels) idx[static_cast<size_t>(l)] = 0;
    T acc = T(0);
    for (int64_t s = 0; s < sum_count; ++s) {
      T prod = T(1);
      for (size_t k = 0; k < ops.size(); ++k) {
        int64_t off = 0;
        for (size_t l = 0; l < idx.size(); ++l) off += idx[l] * strides[k][l];
        prod *= ops[k][off];
      }
      acc += prod;
      for (size_t i = sum_labels.size(); i-- > 0;) {
        const auto l = static_cast<size_t>(sum_labels[i]);
        if (++idx[l] < size[l]) break;
        idx[l] = 0;
      }
    }
    y[o] = acc;
    for (size_t i = out_labels.size(); i-- > 0;) {
      const auto l = static_cast<size_t>(out_labels[i]);
      if (++idx[l] < size[l]) break;
      idx[l] = 0;
    }
  }
}

void run_einsum(KernelContext& ctx) {
  const size_t n = ctx.num_inputs();
  if (n == 0) ctx.fail("needs at least one input");
  std::vector<size_t> ranks;
  const DataType dt = ctx.input(0).dtype();
  for (size_t i = 0; i < n; ++i) {
    if (ctx.input(i).dtype() != dt) ctx.fail("all inputs must have the same dtype");
    ranks.push_back(static_cast<size_t>(ctx.input(i).rank()));
  }
  const ir::EinsumSpec spec = ir::parse_einsum(ctx.node(), ranks);
  const auto labels = static_cast<size_t>(spec.num_labels);
  std::vector<int64_t> size(labels, 1);
  std::vector<bool> used(labels, false);
  for (size_t i = 0; i < n; ++i) {
    const Shape& s = ctx.input(i).shape();
    for (size_t a = 0; a < s.size(); ++a) {
      const auto l = static_cast<size_t>(spec.inputs[i][a]);
      if (!used[l] || size[l] == 1) size[l] = s[a];
      else if (s[a] != 1 && s[a] != size[l])
        ctx.fail("label sizes disagree: " + std::to_string(size[l]) + " vs " + std::to_string(s[a]) + " in input " +
                 std::to_string(i) + " " + shape_str(s));
      used[l] = true;
    }
  }
  // Strides per operand per label; a size-1 axis broadcast against a larger label reads index 0.
  std::vector<std::vector<int64_t>> strides(n, std::vector<int64_t>(labels, 0));
  for (size_t i = 0; i < n; ++i) {
    const Shape& s = ctx.input(i).shape();
    int64_t stride = 1;
    for (size_t a = s.size(); a-- > 0;) {
      const auto l = static_cast<size_t>(spec.inputs[i][a]);
      if (!(s[a] == 1 && size[l] != 1)) strides[i][l] += stride;
      stride *= s[a];
    }
  }
  Shape out_shape;
  std::vector<bool> in_out(labels, false);
  for (int l : spec.output) {
    out_shape.push_back(size[static_cast<size_t>(l)]);
    in_out[static_cast<size_t>(l)] = true;
  }
  std::vector<int> sum_labels;
  for (size_t l = 0; l < labels; ++l)
    if (used[l] && !in_out[l]) sum_labels.push_back(static_cast<int>(l));
  Tensor& y = ctx.output(0, dt, out_shape);
  const auto go = [&](auto tag, const auto& ptrs, auto* out) {
    using T = decltype(tag);
    contract<T>(ptrs, strides, spec.output, sum_labels, size, out, shape_numel(out_shape));
  };
  if (dt == DataType::Int32 || dt == DataType::Int64) {
    dispatch_numeric(dt, ctx.node().label(), [&](auto tag) {
      using T = decltype(tag);
      if constexpr (std::is_same_v<T, int32_t> || std::is_same_v<T, int64_t>) {
        std::vector<const T*> ptrs;
        for (size_t i = 0; i < n; ++i) ptrs.push_back(ctx.input(i).data<T>());
        go(tag, ptrs, y.data<T>());
      }
    });
    return;
  }
  nn::dispatch_acc(ctx, dt, [&](auto tag) {
    using A = decltype(tag);
    std::vector<AccIn<A>> ins;
    ins.reserve(n);
    std::vector<const A*> ptrs;
    for (size_t i = 0; i < n; ++i) ptrs.push_back(ins.emplace_back(ctx.input(i)).data());
    AccOut<A> ya(y);
    go(tag, ptrs, ya.data());
    ya.commit();
  });
}

}  // namespace

void register_cpu_einsum(KernelRegistry& r) { r.add_fn("Einsum", run_einsum); }

}  // namespace kiln::backend
