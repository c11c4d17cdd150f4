// Ops that make tensors from attributes or host operands: ConstantOfShape,
// Range, EyeLike. (Constant is folded at build time; Shape and Size read only
// metadata and stay on the host.)
#include "backends/cuda/kernels/tensor_util.cuh"

namespace kiln::backend::cuda::tensor {

namespace {

void constant_of_shape(KernelContext& ctx) {
  const Tensor v = ir::rules::fill_value(fail_of(ctx));
  const Shape shape = params::constant_of_shape_dims(ctx);
  Tensor& out = ctx.output(0, v.dtype(), shape);
  fill(ctx, out.raw(), out.numel(), v.raw(), dtype_size(v.dtype()));
}

void check_constant_of_shape(const ir::Node& n, const ir::Graph&) {
  const ir::Attribute* a = n.attr("value");
  if (!a || a->kind != ir::Attribute::Kind::Tensor || !a->t) return;  // float 0, or the CPU reports it
  const size_t es = dtype_size(a->t->dtype());
  if (a->t->dtype() == DataType::String || (es != 1 && es != 2 && es != 4 && es != 8))
    unsupported(n, "fill value of dtype " + std::string(dtype_name(a->t->dtype())));
}

template <typename T>
__global__ void range_int_kernel(T* __restrict__ out, int64_t start, int64_t delta, int64_t n) {
  KILN_GRID_STRIDE(i, n) out[i] = static_cast<T>(start + i * delta);
}

// start + i*delta in double, rounded as the CPU does (no fused multiply-add),
// then to T through float as the CPU's from_double.
template <typename T>
__global__ void range_float_kernel(T* __restrict__ out, double start, double delta, int64_t n) {
  KILN_GRID_STRIDE(i, n) {
    const double v = __dadd_rn(start, __dmul_rn(static_cast<double>(i), delta));
    if constexpr (std::is_same_v<T, double>) out[i] = v;
    else out[i] = store<T>(static_cast<float>(v));
  }
}

void range(KernelContext& ctx) {
  const Tensor &start = ctx.input(0), &limit = ctx.input(1), &delta = ctx.input(2);
  for (const Tensor* t : {&start, &limit, &delta}) {
    if (!t->on_host()) throw Error(ErrorCode::Internal, ctx.node().label() + ": range operands must be in host memory");
    if (t->numel() != 1) ctx.fail("start, limit and delta must be scalars");
  }
  if (limit.dtype() != start.dtype() || delta.dtype() != start.dtype())
    ctx.fail("start, limit and delta differ in dtype");
  cudaStream_t stream = cuda_stream(ctx).get();
  dispatch_numeric(start.dtype(), ctx, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_integral_v<T>) {
      const int64_t s = read_int(start, 0), d = read_int(delta, 0);
      const int64_t n = ir::rules::range_count_int(fail_of(ctx), s, read_int(limit, 0), d);
      T* o = ctx.output(0, start.dtype(), {n}).template data<T>();
      if (n == 0) return;
      range_int_kernel<T><<<grid_for(n), k_threads, 0, stream>>>(o, s, d, n);
    } else {
      const double s = read_double(start, 0), d = read_double(delta, 0);
      const int64_t n = ir::rules::range_count(fail_of(ctx), s, read_double(limit, 0), d);
      T* o = ctx.output(0, start.dtype(), {n}).template data<T>();
      if (n == 0) return;
      range_float_kernel<T><<<grid_for(n), k_threads, 0, stream>>>(o, s, d, n);
    }
    KILN_CUDA_LAUNCH("range_kernel");
  });
}

void check_range(const ir::Node& n, const ir::Graph& g) {
  const DataType dt = dtype_of(g, n, 0);
  if (dt == DataType::Bool || dt == DataType::String || dt == DataType::Complex64 || dt == DataType::Complex128)
    unsupported(n, "dtype " + std::string(dtype_name(dt)));
}

template <typename U>
__global__ void eye_kernel(U* __restrict__ out, int64_t cols, int64_t k, U one, int64_t n) {
  KILN_GRID_STRIDE(i, n) out[i] = (i % cols) - (i / cols) == k ? one : U{};
}

void eye_like(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  if (in.rank() != 2) ctx.fail("input must be 2-D, got " + shape_str(in.shape()));
  const DataType dt = ctx.node().attr("dtype") ? static_cast<DataType>(ctx.node().attr_i("dtype", 0)) : in.dtype();
  Tensor& out = ctx.output(0, dt, in.shape());
  const int64_t n = out.numel(), cols = in.shape()[1], k = ctx.node().attr_i("k", 0);
  // The element 1 of dtype dt, as bytes; 0 is all-zero bits in every dtype.
  std::vector<std::byte> one(dtype_size(dt));
  dispatch_all(dt, ctx, [&](auto tag) {
    using T = decltype(tag);
    const T t = store<T>(1.0f);
    std::memcpy(one.data(), &t, sizeof(T));
  });
  if (n == 0) return;
  cudaStream_t stream = cuda_stream(ctx).get();
  dispatch_bytes(one.size(), ctx, [&](auto tag) {
    using U = decltype(tag);
    U u;
    std::memcpy(&u, one.data(), sizeof(U));
    eye_kernel<U><<<grid_for(n), k_threads, 0, stream>>>(out.data<U>(), cols, k, u, n);
    KILN_CUDA_LAUNCH("eye_kernel");
  });
}

void check_eye_like(const ir::Node& n, const ir::Graph& g) {
  require_rank(n, g, n.inputs.empty() ? ir::k_no_value : n.inputs[0]);
  const DataType dt = n.attr("dtype") ? static_cast<DataType>(n.attr_i("dtype", 0)) : dtype_of(g, n, 0);
  if (dt == DataType::String || dt == DataType::Complex64 || dt == DataType::Complex128)
    unsupported(n, "dtype " + std::string(dtype_name(dt)));
}

}  // namespace

void register_constant(KernelRegistry& r) {
  add_op(r, "ConstantOfShape", constant_of_shape, check_constant_of_shape);
  add_op(r, "Range", range, check_range);
  add_op(r, "EyeLike", eye_like, check_eye_like);
}

}  // namespace kiln::backend::cuda::tensor
