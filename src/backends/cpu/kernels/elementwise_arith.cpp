// Arithmetic binary kernels: Add, Sub, Mul, Div, Pow, Mod, PRelu.
#include <cmath>
#include <limits>

#include "backends/cpu/kernels/elementwise_util.h"

namespace kiln::backend::ew {

namespace {

// Integer Div/Mod by zero is a user error, not UB: check the divisor first.
template <typename T>
void check_no_zero_divisor(const KernelContext& ctx, const Tensor& b) {
  const T* p = b.data<T>();
  for (int64_t i = 0, n = b.numel(); i < n; ++i)
    if (p[i] == T(0)) ctx.fail("integer division by zero");
}

enum class Arith { Add, Sub, Mul, Div };

template <Arith K, typename T>
inline T arith_op(T a, T b) {
  if constexpr (k_is_float<T>) {
    const Compute<T> x = load(a), y = load(b);
    if constexpr (K == Arith::Add) return store<T>(x + y);
    else if constexpr (K == Arith::Sub) return store<T>(x - y);
    else if constexpr (K == Arith::Mul) return store<T>(x * y);
    else return store<T>(x / y);
  } else if constexpr (K == Arith::Add) {
    return add_wrap(a, b);
  } else if constexpr (K == Arith::Sub) {
    return sub_wrap(a, b);
  } else if constexpr (K == Arith::Mul) {
    return mul_wrap(a, b);
  } else {  // C division truncates toward zero; MIN / -1 wraps instead of trapping
    if constexpr (std::is_signed_v<T>)
      if (b == T(-1)) return sub_wrap(T(0), a);
    return static_cast<T>(a / b);
  }
}

template <Arith K>
void arith_kernel(KernelContext& ctx) {
  dispatch_numeric(ctx.input(0).dtype(), ctx.node().label(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (K == Arith::Div && k_is_int<T>) {
      require_same_dtype(ctx, {0, 1});
      check_no_zero_divisor<T>(ctx, ctx.input(1));
    }
    binary_same<T, T>(ctx, DTypeOf<T>::value, [](T a, T b) { return arith_op<K>(a, b); });
  });
}

// Integer power by squaring, wrapping on overflow; negative exponents give the
// truncated real result (0 unless |base| == 1).
template <typename T>
T int_pow(T base, int64_t e) {
  if (e < 0) {
    if (base == T(1)) return T(1);
    if constexpr (std::is_signed_v<T>)
      if (base == T(-1)) return (e % 2) ? T(-1) : T(1);
    return T(0);
  }
  T result = T(1);
  while (e) {
    if (e & 1) result = mul_wrap(result, base);
    base = mul_wrap(base, base);
    e >>= 1;
  }
  return result;
}

// Pow: the exponent may have any numeric dtype; the output has the base's.
// Mixed dtypes convert the exponent once (to double, or int64 for an integer
// base and exponent) rather than instantiating every pair of types.
void pow_kernel(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  const std::string where = ctx.node().label();
  Shape sb, so;
  binary_shapes(ctx, &sb, &so);
  dispatch_numeric(a.dtype(), where, [&](auto tag) {
    using T = decltype(tag);
    if (!dtype_is_supported(b.dtype()) || b.dtype() == DataType::Bool)
      unsupported_dtype(b.dtype(), where + " exponent");
    Tensor& out = ctx.output(0, a.dtype(), so);
    if constexpr (k_is_float<T>) {
      if (b.dtype() == a.dtype()) {
        binary_loop(a.data<T>(), a.shape(), b.data<T>(), sb, out.data<T>(), so,
                    [](T x, T y) { return store<T>(std::pow(load(x), load(y))); });
        return;
      }
      const Tensor e = cast_tensor(b, DataType::Float64, where);
      binary_loop(a.data<T>(), a.shape(), e.data<double>(), sb, out.data<T>(), so,
                  [](T x, double y) { return store<T>(std::pow(static_cast<double>(load(x)), y)); });
    } else if (dtype_is_float(b.dtype())) {
      const Tensor e = cast_tensor(b, DataType::Float64, where);
      binary_loop(a.data<T>(), a.shape(), e.data<double>(), sb, out.data<T>(), so,
                  [](T x, double y) { return float_to_int<T>(std::pow(static_cast<double>(x), y)); });
    } else {
      const Tensor e = b.dtype() == DataType::Int64 ? b : cast_tensor(b, DataType::Int64, where);
      binary_loop(a.data<T>(), a.shape(), e.data<int64_t>(), sb, out.data<T>(), so,
                  [](T x, int64_t y) { return int_pow(x, y); });
    }
  });
}

// Mod: fmod=1 is C's fmod/% (sign of the dividend); fmod=0 (integers only) is
// Python's % (sign of the divisor).
void mod_kernel(KernelContext& ctx) {
  const bool c_fmod = ctx.node().attr_i("fmod", 0) != 0;
  dispatch_numeric(ctx.input(0).dtype(), ctx.node().label(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (k_is_float<T>) {
      if (!c_fmod) ctx.fail("fmod must be 1 for floating-point inputs");
      binary_same<T, T>(ctx, DTypeOf<T>::value,
                        [](T a, T b) { return store<T>(std::fmod(load(a), load(b))); });
    } else {
      require_same_dtype(ctx, {0, 1});
      check_no_zero_divisor<T>(ctx, ctx.input(1));
      binary_same<T, T>(ctx, DTypeOf<T>::value, [c_fmod](T a, T b) {
        if constexpr (std::is_signed_v<T>)
          if (b == T(-1)) return T(0);  // MIN % -1 traps in hardware
        T r = static_cast<T>(a % b);
        if constexpr (std::is_signed_v<T>)
          if (!c_fmod && r != 0 && ((r < 0) != (b < 0))) r = static_cast<T>(r + b);
        return r;
      });
    }
  });
}

// PRelu: slope broadcasts onto X (unidirectionally); the output has X's shape.
void prelu_kernel(KernelContext& ctx) {
  require_same_dtype(ctx, {0, 1});
  const Tensor& x = ctx.input(0);
  const Tensor& s = ctx.input(1);
  const Shape so = broadcast_shape(ctx, {&x.shape(), &s.shape()});
  if (so != x.shape())
    ctx.fail("slope shape " + shape_str(s.shape()) + " does not broadcast to X's shape " +
             shape_str(x.shape()));
  dispatch_numeric(x.dtype(), ctx.node().label(), [&](auto tag) {
    using T = decltype(tag);
    Tensor& out = ctx.output(0, x.dtype(), so);
    binary_loop(x.data<T>(), x.shape(), s.data<T>(), s.shape(), out.data<T>(), so, [](T a, T b) {
      if constexpr (std::is_unsigned_v<T>) return a;
      else return load(a) < 0 ? store<T>(mul_wrap(load(a), load(b))) : a;
    });
  });
}

}  // namespace

void register_ew_arith(KernelRegistry& r) {
  r.add_fn("Add", arith_kernel<Arith::Add>);
  r.add_fn("Sub", arith_kernel<Arith::Sub>);
  r.add_fn("Mul", arith_kernel<Arith::Mul>);
  r.add_fn("Div", arith_kernel<Arith::Div>);
  r.add_fn("Pow", pow_kernel);
  r.add_fn("Mod", mod_kernel);
  r.add_fn("PRelu", prelu_kernel);
}

}  // namespace kiln::backend::ew
