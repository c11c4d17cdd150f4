// Cast, CastLike, Identity and Dropout (inference: a copy plus an all-true mask).
#include <cstring>
#include <string>

#include "backends/cpu/kernels/elementwise_util.h"
#include "ir/ops/elementwise_attrs.h"

namespace kiln::backend::ew {

namespace {

// One element of Cast. To bool: nonzero (NaN too). To a float: through the
// compute type (double → float16 rounds twice, at most one ulp of float16
// off in rare ties). To an integer: floats truncate (float_to_int), integers wrap.
template <typename D, typename S>
inline D convert(S v) {
  if constexpr (std::is_same_v<D, S>) {
    return v;
  } else if constexpr (std::is_same_v<D, bool>) {
    return load(v) != 0;
  } else if constexpr (k_is_float<D>) {
    return store<D>(static_cast<Compute<D>>(load(v)));
  } else if constexpr (k_is_float<S>) {
    return float_to_int<D>(static_cast<double>(load(v)));
  } else {
    return static_cast<D>(v);
  }
}

void cast_into(const Tensor& src, Tensor& dst, const std::string& where) {
  const int64_t n = src.numel();
  if (src.dtype() == dst.dtype()) {
    if (n) std::memcpy(dst.raw(), src.raw(), src.nbytes());
    return;
  }
  dispatch_all(src.dtype(), where, [&](auto s_tag) {
    using S = decltype(s_tag);
    dispatch_all(dst.dtype(), where, [&](auto d_tag) {
      using D = decltype(d_tag);
      const S* p = src.data<S>();
      D* q = dst.data<D>();
      for (int64_t i = 0; i < n; ++i) q[i] = convert<D>(p[i]);
    });
  });
}

void check_castable(const KernelContext& ctx, DataType dt, const char* what) {
  if (!dtype_is_supported(dt))
    throw Error(ErrorCode::Unsupported, ctx.node().label() + ": cast " + what + " dtype " +
                                            std::string(dtype_name(dt)) + " is not supported");
}

void cast_to(KernelContext& ctx, DataType to) {
  const Tensor& x = ctx.input(0);
  check_castable(ctx, x.dtype(), "from");
  check_castable(ctx, to, "to");
  Tensor& y = ctx.output(0, to, x.shape());
  cast_into(x, y, ctx.node().label());
}

void cast_kernel(KernelContext& ctx) { cast_to(ctx, ir::cast_target(ctx.node())); }

void castlike_kernel(KernelContext& ctx) { cast_to(ctx, ctx.input(1).dtype()); }

void copy_to_output(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0, x.dtype(), x.shape());
  if (x.nbytes()) std::memcpy(y.raw(), x.raw(), x.nbytes());
}

// Dropout in inference is the identity. training_mode=true (opset >= 12) would
// need a random mask, which kiln does not do — unless the ratio is 0, where
// training is the identity as well.
void dropout_kernel(KernelContext& ctx) {
  if (ctx.opset() >= 12 && ctx.has_input(2)) {
    const Tensor& t = ctx.input(2);
    if (t.numel() != 1) ctx.fail("training_mode must be a scalar, got shape " + shape_str(t.shape()));
    const double ratio = ctx.has_input(1) ? read_double(ctx.input(1), 0) : 0.5;
    if (read_int(t, 0) != 0 && ratio != 0.0)
      throw Error(ErrorCode::Unsupported,
                  ctx.node().label() + ": training_mode=true (random dropout) is not supported");
  }
  copy_to_output(ctx);
  if (!ctx.has_output(1)) return;
  const Tensor& x = ctx.input(0);
  // The mask is bool from opset 10; before, it had the input's dtype.
  const DataType mask_dt = ctx.opset() < 10 ? x.dtype() : DataType::Bool;
  Tensor& mask = ctx.output(1, mask_dt, x.shape());
  dispatch_all(mask_dt, ctx.node().label(), [&](auto tag) {
    using T = decltype(tag);
    T* p = mask.data<T>();
    const T one = store<T>(1);
    for (int64_t i = 0, n = mask.numel(); i < n; ++i) p[i] = one;
  });
}

}  // namespace

Tensor cast_tensor(const Tensor& src, DataType to, const std::string& where) {
  if (!dtype_is_supported(src.dtype())) unsupported_dtype(src.dtype(), where);
  Tensor out = Tensor::empty(to, src.shape());
  cast_into(src, out, where);
  return out;
}

void register_ew_cast(KernelRegistry& r) {
  r.add_fn("Cast", cast_kernel);
  r.add_fn("CastLike", castlike_kernel);
  r.add_fn("Identity", copy_to_output);
  // com.kiln transfers (backends/transfer.h): on the host, plain copies.
  r.add_fn("ToDevice", copy_to_output);
  r.add_fn("ToHost", copy_to_output);
  r.add_fn("Dropout", dropout_kernel);
}

}  // namespace kiln::backend::ew
