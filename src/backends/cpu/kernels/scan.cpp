// Same-shape kernels that walk along axes: CumSum, Trilu, ReverseSequence.
#include <cstring>
#include <type_traits>

#include "backends/cpu/kernels/copy_strided.h"
#include "backends/cpu/kernels/tensor_kernels.h"
#include "core/dispatch.h"

namespace kiln::backend::cpu {

namespace {

int64_t prod(const Shape& s, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end; ++i) p *= s[i];
  return p;
}

int64_t scalar_int(const KernelContext& ctx, size_t input, const char* what) {
  const Tensor& t = ctx.input(input);
  if (t.numel() != 1) ctx.fail(std::string(what) + " must be a scalar, got " + shape_str(t.shape()));
  return input_ints(ctx, input)[0];
}

void cum_sum(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.rank() == 0) ctx.fail("input must have rank >= 1");
  const size_t a = static_cast<size_t>(ir::rules::norm_axis(fail_of(ctx), scalar_int(ctx, 1, "axis"), x.rank()));
  const bool exclusive = ctx.node().attr_i("exclusive", 0) != 0, reverse = ctx.node().attr_i("reverse", 0) != 0;
  Tensor& out = ctx.output(0, x.dtype(), x.shape());
  const int64_t outer = prod(x.shape(), 0, a), dim = x.shape()[a], inner = prod(x.shape(), a + 1, x.shape().size());
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
  if (x.rank() < 2) ctx.fail("input must have rank >= 2, got " + shape_str(x.shape()));
  const int64_t k = ctx.has_input(1) ? scalar_int(ctx, 1, "k") : 0;
  const bool upper = ctx.node().attr_i("upper", 1) != 0;
  Tensor& out = ctx.output(0, x.dtype(), x.shape());
  const int64_t rows = x.shape()[x.shape().size() - 2], cols = x.shape().back();
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
  if (x.rank() < 2) ctx.fail("input must have rank >= 2, got " + shape_str(x.shape()));
  const int64_t batch_axis = ctx.node().attr_i("batch_axis", 1), time_axis = ctx.node().attr_i("time_axis", 0);
  if ((batch_axis != 0 && batch_axis != 1) || (time_axis != 0 && time_axis != 1) || batch_axis == time_axis)
    ctx.fail("batch_axis and time_axis must be 0 and 1 in some order");
  const int64_t batch = x.shape()[static_cast<size_t>(batch_axis)], steps = x.shape()[static_cast<size_t>(time_axis)];
  const std::vector<int64_t> lens = input_ints(ctx, 1);
  if (static_cast<int64_t>(lens.size()) != batch)
    ctx.fail("sequence_lens has " + std::to_string(lens.size()) + " entries for a batch of " + std::to_string(batch));
  Tensor& out = ctx.output(0, x.dtype(), x.shape());
  const Strides strides = contiguous_strides(x.shape());
  const int64_t sb = strides[static_cast<size_t>(batch_axis)], st = strides[static_cast<size_t>(time_axis)];
  const size_t row = static_cast<size_t>(prod(x.shape(), 2, x.shape().size())) * dtype_size(x.dtype());
  const size_t es = dtype_size(x.dtype());
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t len = lens[static_cast<size_t>(b)];
    if (len < 0 || len > steps)
      ctx.fail("sequence length " + std::to_string(len) + " is outside [0, " + std::to_string(steps) + "]");
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
