// Kernels that make tensors from attributes or shapes: Constant, ConstantOfShape,
// Shape, Size, Range, EyeLike, NonZero.
#include <cstring>
#include <type_traits>

#include "backends/cpu/kernels/copy_strided.h"
#include "backends/cpu/kernels/tensor_kernels.h"
#include "core/dispatch.h"

namespace kiln::backend::cpu {

namespace {

template <typename T>
T from_double(double v) {
  if constexpr (std::is_same_v<T, double>) return v;
  else return static_cast<T>(static_cast<float>(v));  // Half/BFloat16 convert from float
}

template <typename T>
bool is_nonzero(T v) {
  if constexpr (std::is_integral_v<T>) return v != T{};
  else return static_cast<double>(v) != 0.0;
}

void constant(KernelContext& ctx) {
  const Tensor v = ir::rules::constant_value(fail_of(ctx));
  Tensor& out = ctx.output(0, v.dtype(), v.shape());
  if (v.nbytes()) std::memcpy(out.raw(), v.raw(), v.nbytes());
}

void constant_of_shape(KernelContext& ctx) {
  const Tensor v = ir::rules::fill_value(fail_of(ctx));
  const Shape shape = params::constant_of_shape_dims(ctx);
  Tensor& out = ctx.output(0, v.dtype(), shape);
  fill_elems(out.raw(), out.numel(), v.raw(), dtype_size(v.dtype()));
}

void shape(KernelContext& ctx) {
  const Shape& in = ctx.input(0).shape();
  int64_t start = 0;
  std::optional<int64_t> end;
  if (ctx.opset() >= 15) {
    start = ctx.node().attr_i("start", 0);
    if (ctx.node().attr("end")) end = ctx.node().attr_i("end", 0);
  }
  const auto [b, e] = ir::rules::shape_range(static_cast<int64_t>(in.size()), start, end);
  Tensor& out = ctx.output(0, DataType::Int64, {e - b});
  for (int64_t i = b; i < e; ++i) out.data<int64_t>()[i - b] = in[static_cast<size_t>(i)];
}

void size(KernelContext& ctx) {
  const int64_t n = ctx.input(0).numel();
  ctx.output(0, DataType::Int64, {}).data<int64_t>()[0] = n;
}

void range(KernelContext& ctx) {
  const Tensor &start = ctx.input(0), &limit = ctx.input(1), &delta = ctx.input(2);
  for (const Tensor* t : {&start, &limit, &delta})
    if (t->numel() != 1) ctx.fail("start, limit and delta must be scalars");
  if (limit.dtype() != start.dtype() || delta.dtype() != start.dtype())
    ctx.fail("start, limit and delta differ in dtype");
  dispatch_numeric(start.dtype(), ctx.node().label(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_integral_v<T>) {
      const int64_t s = read_int(start, 0), d = read_int(delta, 0);
      const int64_t n = ir::rules::range_count_int(fail_of(ctx), s, read_int(limit, 0), d);
      T* o = ctx.output(0, start.dtype(), {n}).template data<T>();
      for (int64_t i = 0; i < n; ++i) o[i] = static_cast<T>(s + i * d);
    } else {
      const double s = read_double(start, 0), d = read_double(delta, 0);
      const int64_t n = ir::rules::range_count(fail_of(ctx), s, read_double(limit, 0), d);
      T* o = ctx.output(0, start.dtype(), {n}).template data<T>();
      for (int64_t i = 0; i < n; ++i) o[i] = from_double<T>(s + static_cast<double>(i) * d);
    }
  });
}

void eye_like(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  if (in.rank() != 2) ctx.fail("input must be 2-D, got " + shape_str(in.shape()));
  const DataType dt = ctx.node().attr("dtype") ? static_cast<DataType>(ctx.node().attr_i("dtype", 0)) : in.dtype();
  Tensor& out = ctx.output(0, dt, in.shape());
  const int64_t rows = in.shape()[0], cols = in.shape()[1], k = ctx.node().attr_i("k", 0);
  dispatch_all(dt, ctx.node().label(), [&](auto tag) {
    using T = decltype(tag);
    T* o = out.data<T>();
    std::fill_n(o, rows * cols, static_cast<T>(0));
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t c = r + k;
      if (c >= 0 && c < cols) o[r * cols + c] = static_cast<T>(1);
    }
  });
}

void non_zero(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  dispatch_all(in.dtype(), ctx.node().label(), [&](auto tag) {
    using T = decltype(tag);
    const T* x = in.data<T>();
    const int64_t n = in.numel(), rank = in.rank();
    int64_t count = 0;
    for (int64_t i = 0; i < n; ++i) count += is_nonzero(x[i]);
    int64_t* o = ctx.output(0, DataType::Int64, {rank, count}).template data<int64_t>();
    const Strides strides = contiguous_strides(in.shape());
    int64_t j = 0;
    for (int64_t i = 0; i < n; ++i) {
      if (!is_nonzero(x[i])) continue;
      for (int64_t d = 0, rem = i; d < rank; ++d) {
        o[d * count + j] = rem / strides[static_cast<size_t>(d)];
        rem %= strides[static_cast<size_t>(d)];
      }
      ++j;
    }
  });
}

}  // namespace

void register_constant_kernels(KernelRegistry& r) {
  r.add_fn("Constant", constant);
  r.add_fn("ConstantOfShape", constant_of_shape);
  r.add_fn("Shape", shape);
  r.add_fn("Size", size);
  r.add_fn("Range", range);
  r.add_fn("EyeLike", eye_like);
  r.add_fn("NonZero", non_zero);
}

}  // namespace kiln::backend::cpu
