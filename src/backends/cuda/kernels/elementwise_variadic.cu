// Variadic ops on CUDA (Sum, Min, Max, Mean: any number of inputs broadcast
// together) and the ternary Where, as backends/cpu/kernels/elementwise_variadic.cpp.
// The variadic ops fold their inputs pairwise into an accumulator of the
// output's shape, in the compute type (float for 16-bit floats, in the
// stream's workspace) so results round once, at the end, as on the CPU.
#include "backends/cuda/kernels/elementwise_engine.cuh"

namespace kiln::backend::cuda::ew {

namespace {

enum class Var { Sum, Min, Max, Mean };

template <Var K, typename C>
__device__ inline C combine(C a, C b) {
  if constexpr (K == Var::Sum || K == Var::Mean) {
    return add_wrap(a, b);
  } else {
    if constexpr (std::is_floating_point_v<C>) {  // NaN wins, as in numpy
      if (is_nan(a)) return a;
      if (is_nan(b)) return b;
    }
    if constexpr (K == Var::Min) return b < a ? b : a;
    else return a < b ? b : a;
  }
}

// One fold step: y = combine(a, b), a being an input or the accumulator;
// Mean's last step divides by `count` (0 elsewhere: no division).
template <Var K, typename T, typename Y>
struct VarStep {
  Acc<T> count;
  template <typename X>
  __device__ Y operator()(X a, T b) const {
    Acc<T> r = combine<K>(static_cast<Acc<T>>(load(a)), load(b));
    if constexpr (K == Var::Mean)
      if (count != Acc<T>(0)) r = r / count;
    return store<Y>(r);
  }
};

template <Var K>
void variadic_kernel(KernelContext& ctx) {
  const Shape so = params::variadic_shape(ctx);
  const size_t n = ctx.num_inputs();
  const DataType dt = ctx.input(0).dtype();
  constexpr uint32_t mask = K == Var::Mean ? k_float : k_numeric;
  dispatch_in<mask>(dt, ctx, [&](auto tag) {
    using T = decltype(tag);
    using C = Acc<T>;
    Tensor& out = ctx.output(0, dt, so);
    const int64_t total = out.numel();
    if (total == 0) return;
    const Tensor& x0 = ctx.input(0);
    if (n == 1) {  // the input itself (Mean divides by 1: exact)
      KILN_CUDA(cudaMemcpyAsync(out.raw(), x0.raw(), x0.nbytes(), cudaMemcpyDeviceToDevice, cuda_stream(ctx).get()));
      return;
    }
    const C count = K == Var::Mean ? static_cast<C>(n) : C(0);
    const Tensor& x1 = ctx.input(1);
    if (n == 2) {
      launch_binary(ctx, x0.data<T>(), x0.shape(), x1.data<T>(), x1.shape(), out.data<T>(), so,
                    VarStep<K, T, T>{count});
      return;
    }
    // The accumulator is the output itself unless the compute type is wider.
    C* acc;
    if constexpr (std::is_same_v<C, T>) acc = out.data<T>();
    else acc = static_cast<C*>(cuda_stream(ctx).workspace(static_cast<size_t>(total) * sizeof(C)));
    launch_binary(ctx, x0.data<T>(), x0.shape(), x1.data<T>(), x1.shape(), acc, so, VarStep<K, T, C>{C(0)});
    for (size_t i = 2; i + 1 < n; ++i) {
      const Tensor& xi = ctx.input(i);
      launch_binary(ctx, static_cast<const C*>(acc), so, xi.data<T>(), xi.shape(), acc, so, VarStep<K, T, C>{C(0)});
    }
    const Tensor& xl = ctx.input(n - 1);
    launch_binary(ctx, static_cast<const C*>(acc), so, xl.data<T>(), xl.shape(), out.data<T>(), so,
                  VarStep<K, T, T>{count});
  });
}

// ---- Where: a selection, so it runs on element sizes, not dtypes.
template <typename T>
__global__ void where_flat_kernel(const bool* c, const T* x, const T* y, T* o, int64_t n) {
  KILN_GRID_STRIDE(i, n) o[i] = c[i] ? x[i] : y[i];
}

template <typename I, typename T>
__global__ void where_strided_kernel(const bool* c, const T* x, const T* y, T* o, int64_t n, Walk<3, I> w) {
  KILN_GRID_STRIDE(i, n) {
    I off[3];
    w.offsets(static_cast<I>(i), off);
    o[i] = c[off[0]] ? x[off[1]] : y[off[2]];
  }
}

void where_kernel(KernelContext& ctx) {
  const Tensor& c = ctx.input(0);
  const Tensor& x = ctx.input(1);
  const Tensor& y = ctx.input(2);
  if (c.dtype() != DataType::Bool) ctx.fail("condition must be bool, got " + std::string(dtype_name(c.dtype())));
  require_same_dtype(ctx, {1, 2});
  if (!in_mask(x.dtype(), k_all)) unsupported(ctx, x.dtype());
  const Shape so = broadcast_shape(ctx, {&c.shape(), &x.shape(), &y.shape()});
  Tensor& out = ctx.output(0, x.dtype(), so);
  const int64_t n = out.numel();
  if (n == 0) return;
  const cudaStream_t s = cuda_stream(ctx).get();
  dispatch_bytes(dtype_size(x.dtype()), ctx, [&](auto tag) {
    using T = decltype(tag);
    const bool* pc = c.data<bool>();
    const T* px = x.data<T>();
    const T* py = y.data<T>();
    T* po = out.data<T>();
    if (c.numel() == n && x.numel() == n && y.numel() == n) {
      where_flat_kernel<T><<<grid_for(n), k_threads, 0, s>>>(pc, px, py, po, n);
    } else {
      const Strided<3> st = broadcast_strides<3>(so, {&c.shape(), &x.shape(), &y.shape()}, ctx);
      if (fits_i32(n))
        where_strided_kernel<int32_t, T><<<grid_for(n), k_threads, 0, s>>>(pc, px, py, po, n, walk_of<3, int32_t>(st));
      else
        where_strided_kernel<int64_t, T><<<grid_for(n), k_threads, 0, s>>>(pc, px, py, po, n, walk_of<3, int64_t>(st));
    }
    KILN_CUDA_LAUNCH("where_kernel");
  });
}

void check_where(const ir::Node& n, const ir::Graph& g) {
  require_dtype(n, g, 0, k_bool);
  require_dtype(n, g, 1, k_all);
  require_dtype(n, g, 2, k_all);
}

}  // namespace

void register_ew_variadic(KernelRegistry& r) {
  add_op(r, "Sum", variadic_kernel<Var::Sum>, k_numeric, -1, true);
  add_op(r, "Min", variadic_kernel<Var::Min>, k_numeric, -1, true);
  add_op(r, "Max", variadic_kernel<Var::Max>, k_numeric, -1, true);
  add_op(r, "Mean", variadic_kernel<Var::Mean>, k_float, -1, true);
  add_op(r, "Where", where_kernel, k_all, 0, true, check_where);
}

}  // namespace kiln::backend::cuda::ew
