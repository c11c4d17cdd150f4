// Same-shape kernels that walk along axes: CumSum, Trilu, ReverseSequence.
#include <cstring>
#include <type_traits>

#include "backends/cpu/kernels/copy_strided.h"
#include "backends/cpu/kernels/tensor_kernels.h"
#include "core/dispatch.h"

namespace kiln::backend::cpu {

namespace {

void cum_sum(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const params::CumSumPlan plan = params::cum_sum_plan(ctx);
  const bool exclusive = plan.exclusive, reverse = plan.reverse;
  const int64_t outer = plan.outer, dim = plan.dim, inner = plan.inner;
  Tensor& out = ctx.output(0, x.dtype(), x.shape());
  dispatch_numeric(x.dtype(), ctx.node().label(), [&](auto tag) {
    using T = decltype(tag);
    // Half/bfloat16 sum in float; the others in their own type.
    using A = std::conditional_t<std::is_integral_v<T> || std::is_same_v<T, double>, T, float>;
    const T* in = x.data<T>();
    T* o = out.data<T>();
    for (int64_t p = 0; p < outer; ++p) {
      for (int64_t q = 0; q < inner; ++q) {
        A sum = A(0);
        for (int64_t s = 0; s < dim; ++s) {
          const int64_t t = reverse ? dim - 1 - s : s;
          const int64_t off = (p * dim + t) * inner + q;
          const A v = static_cast<A>(in[off]);
          if (!exclusive) sum = static_cast<A>(sum + v);
          o[off] = static_cast<T>(sum);
          if (exclusive) sum = static_cast<A>(sum + v);
        }
      }
    }
  });
}

void trilu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const params::TriluPlan p = params::trilu_plan(ctx);
  const int64_t k = p.k, rows = p.rows, cols = p.cols;
  const bool upper = p.upper;
  Tensor& out = ctx.output(0, x.dtype(), x.shape());
  const int64_t mats = rows * cols == 0 ? 0 : x.numel() / (rows * cols);
  dispatch_bytes(dtype_size(x.dtype()), [&](auto tag) {
    using U = decltype(tag);
    const U* in = x.data<U>();
    U* o = out.data<U>();
    for (int64_t m = 0; m < mats; ++m)
      for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < cols; ++j) {
          const int64_t off = (m * rows + i) * cols + j;
          const bool keep = upper ? j - i >= k : j - i <= k;
          o[off] = keep ? in[off] : U{0};  // all-zero bits are zero in every dtype
        }
  });
}

void reverse_sequence(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const params::ReverseSequencePlan p = params::reverse_sequence_plan(ctx);
  const int64_t batch = p.batch, steps = p.steps;
  const std::vector<int64_t>& lens = p.lens;
  Tensor& out = ctx.output(0, x.dtype(), x.shape());
  const Strides strides = contiguous_strides(x.shape());
  const int64_t sb = strides[static_cast<size_t>(p.batch_axis)], st = strides[static_cast<size_t>(p.time_axis)];
  const size_t row = static_cast<size_t>(prod(x.shape(), 2, x.shape().size())) * dtype_size(x.dtype());
  const size_t es = dtype_size(x.dtype());
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t len = lens[static_cast<size_t>(b)];
    for (int64_t t = 0; t < steps; ++t) {
      const int64_t from = t < len ? len - 1 - t : t;
      std::memcpy(bytes_of(out) + static_cast<size_t>(b * sb + t * st) * es,
                  bytes_of(x) + static_cast<size_t>(b * sb + from * st) * es, row);
    }
  }
}

}  // namespace

void register_scan_kernels(KernelRegistry& r) {
  r.add_fn("CumSum", cum_sum);
  r.add_fn("Trilu", trilu);
  r.add_fn("ReverseSequence", reverse_sequence);
}

}  // namespace kiln::backend::cpu
