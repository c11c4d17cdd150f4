// Cast, CastLike, Identity and Dropout (inference: a copy plus an all-true
// mask) on CUDA, as backends/cpu/kernels/elementwise_cast.cpp.
#include "backends/cuda/kernels/elementwise_engine.cuh"
#include "core/dispatch.h"
#include "ir/ops/elementwise_attrs.h"

namespace kiln::backend::cuda::ew {

namespace {

// One element of Cast. To bool: nonzero (NaN too). To a float: through the
// compute type (double -> float16 rounds twice, as on the CPU). To an
// integer: floats truncate (float_to_int), integers wrap.
template <typename D, typename S>
__device__ inline D convert(S v) {
  if constexpr (std::is_same_v<D, S>) {
    return v;
  } else if constexpr (std::is_same_v<D, bool>) {
    return load(v) != Acc<S>(0);
  } else if constexpr (k_is_float<D>) {
    return store<D>(static_cast<Acc<D>>(load(v)));
  } else if constexpr (k_is_float<S>) {
    return float_to_int<D>(static_cast<double>(load(v)));
  } else {
    return static_cast<D>(v);
  }
}

template <typename D>
struct ConvertTo {
  template <typename S>
  __device__ D operator()(S v) const {
    return convert<D>(v);
  }
};

void copy_device(const KernelContext& ctx, Tensor& dst, const Tensor& src) {
  if (!src.nbytes()) return;
  KILN_CUDA(cudaMemcpyAsync(dst.raw(), src.raw(), src.nbytes(), cudaMemcpyDeviceToDevice, cuda_stream(ctx).get()));
}

void cast_to(KernelContext& ctx, DataType to) {
  const Tensor& x = ctx.input(0);
  if (!in_mask(x.dtype(), k_all)) unsupported(ctx, x.dtype());
  if (!in_mask(to, k_all)) unsupported(ctx, to);
  Tensor& y = ctx.output(0, to, x.shape());
  if (x.dtype() == to) {
    copy_device(ctx, y, x);
    return;
  }
  dispatch_in<k_all>(x.dtype(), ctx, [&](auto s_tag) {
    using S = decltype(s_tag);
    dispatch_in<k_all>(to, ctx, [&](auto d_tag) {
      using D = decltype(d_tag);
      launch_unary(ctx, x.data<S>(), y.data<D>(), x.numel(), ConvertTo<D>{});
    });
  });
}

void cast_kernel(KernelContext& ctx) { cast_to(ctx, ir::cast_target(ctx.node())); }
void castlike_kernel(KernelContext& ctx) { cast_to(ctx, ctx.input(1).dtype()); }

void identity_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0, x.dtype(), x.shape());
  copy_device(ctx, y, x);
}

// A host input (CudaBackend's host_inputs) read on the host.
const Tensor& host_input(const KernelContext& ctx, size_t i) {
  const Tensor& t = ctx.input(i);
  if (!t.on_host())
    throw Error(ErrorCode::Internal, ctx.node().label() + ": input " + std::to_string(i) + " must arrive on the host");
  return t;
}

// Dropout in inference is the identity. training_mode=true (opset >= 12)
// would need a random mask, which kiln does not do — unless the ratio is 0,
// where training is the identity as well. ratio and training_mode arrive on
// the host.
void dropout_kernel(KernelContext& ctx) {
  if (ctx.opset() >= 12 && ctx.has_input(2)) {
    const Tensor& t = host_input(ctx, 2);
    if (t.numel() != 1) ctx.fail("training_mode must be a scalar, got shape " + shape_str(t.shape()));
    const double ratio = ctx.has_input(1) ? read_double(host_input(ctx, 1), 0) : 0.5;
    if (read_int(t, 0) != 0 && ratio != 0.0)
      throw Error(ErrorCode::Unsupported,
                  ctx.node().label() + ": training_mode=true (random dropout) is not supported");
  }
  identity_kernel(ctx);
  if (!ctx.has_output(1)) return;
  const Tensor& x = ctx.input(0);
  // The mask is bool from opset 10; before, it had the input's dtype.
  const DataType mask_dt = ctx.opset() < 10 ? x.dtype() : DataType::Bool;
  Tensor& mask = ctx.output(1, mask_dt, x.shape());
  dispatch_in<k_all>(mask_dt, ctx, [&](auto tag) {
    using T = decltype(tag);
    launch_fill(ctx, mask.data<T>(), mask.numel(), store<T>(1));
  });
}

void check_cast(const ir::Node& n, const ir::Graph&) {
  const DataType to = ir::cast_target(n);  // Unsupported for float8, int4, strings, ...
  if (!in_mask(to, k_all)) refuse(n, "cast to " + std::string(dtype_name(to)));
}

void check_castlike(const ir::Node& n, const ir::Graph& g) { require_dtype(n, g, 1, k_all); }

}  // namespace

void register_ew_cast(KernelRegistry& r) {
  add_op(r, "Cast", cast_kernel, k_all, 1, false, check_cast);
  add_op(r, "CastLike", castlike_kernel, k_all, 1, false, check_castlike);
  add_op(r, "Identity", identity_kernel, k_all);
  add_op(r, "Dropout", dropout_kernel, k_all);
}

}  // namespace kiln::backend::cuda::ew
