// Arithmetic binary ops on CUDA: Add, Sub, Mul, Div, Pow, Mod, PRelu (as
// backends/cpu/kernels/elementwise_arith.cpp). One difference: the CPU fails
// on an integer divisor of 0 after scanning the divisor; a kernel cannot
// report without a synchronization, so x / 0 and x % 0 give 0 here.
#include <cmath>

#include "backends/cuda/kernels/elementwise_engine.cuh"

namespace kiln::backend::cuda::ew {

namespace {

enum class Arith { Add, Sub, Mul, Div };

template <Arith K, typename T>
struct ArithOp {
  __device__ T operator()(T a, T b) const {
    if constexpr (k_is_float<T>) {
      const Acc<T> x = load(a), y = load(b);
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
    } else {  // truncates toward zero; MIN / -1 wraps instead of trapping
      if (b == T(0)) return T(0);
      if constexpr (std::is_signed_v<T>)
        if (b == T(-1)) return sub_wrap(T(0), a);
      return static_cast<T>(a / b);
    }
  }
};

template <Arith K>
void arith_kernel(KernelContext& ctx) {
  binary_same<k_numeric>(ctx, [](auto tag) { return ArithOp<K, decltype(tag)>{}; });
}

// ---- Pow: the exponent may have any numeric dtype; the output has the
// base's. Mixed dtypes convert the exponent first (to double, or int64 for
// an integer base and exponent), as the CPU does.

// Integer power by squaring, wrapping on overflow; negative exponents give the
// truncated real result (0 unless |base| == 1).
template <typename T>
__device__ T int_pow(T base, int64_t e) {
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

// pow(x, y) in double for an integer base. The CPU's glibc pow is correctly
// rounded, so integral exponents with representable results are exact there;
// CUDA's pow may be an ulp off, which truncation to an integer would expose,
// so those (and y = 0.5, a correctly rounded sqrt) are computed exactly here.
__device__ inline double int_base_pow(double x, double y) {
  if (y == 0.5) return ::sqrt(x);
  if (y == ::trunc(y) && ::fabs(y) <= 64.0) {
    int64_t e = static_cast<int64_t>(::fabs(y));
    double r = 1.0, b = x;
    while (e) {
      if (e & 1) r *= b;
      b *= b;
      e >>= 1;
    }
    return y < 0 ? 1.0 / r : r;
  }
  return ::pow(x, y);
}

template <typename T>
struct PowSameOp {  // float base and exponent of one dtype
  __device__ T operator()(T x, T y) const { return store<T>(dm::pow(load(x), load(y))); }
};
template <typename T>
struct PowFloatOp {  // float base, exponent converted to double
  __device__ T operator()(T x, double y) const { return store<T>(::pow(static_cast<double>(load(x)), y)); }
};
template <typename T>
struct PowIntFloatOp {  // integer base, float exponent
  __device__ T operator()(T x, double y) const { return float_to_int<T>(int_base_pow(static_cast<double>(x), y)); }
};
template <typename T>
struct PowIntOp {  // integer base and exponent
  __device__ T operator()(T x, int64_t y) const { return int_pow(x, y); }
};

template <typename E>
struct ToExponent {
  template <typename S>
  __device__ E operator()(S v) const {
    return static_cast<E>(load(v));
  }
};

// The exponent converted to E in the stream's workspace.
template <typename E>
const E* exponent_as(const KernelContext& ctx, const Tensor& b) {
  const int64_t n = b.numel();
  if (n == 0) return nullptr;
  E* e = static_cast<E*>(cuda_stream(ctx).workspace(static_cast<size_t>(n) * sizeof(E)));
  dispatch_in<k_numeric>(b.dtype(), ctx, [&](auto tag) {
    using S = decltype(tag);
    launch_unary(ctx, b.data<S>(), e, n, ToExponent<E>{});
  });
  return e;
}

void pow_kernel(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  Shape sb, so;
  binary_shapes(ctx, &sb, &so);
  dispatch_in<k_numeric>(a.dtype(), ctx, [&](auto tag) {
    using T = decltype(tag);
    if (!in_mask(b.dtype(), k_numeric)) unsupported(ctx, b.dtype());
    Tensor& out = ctx.output(0, a.dtype(), so);
    if (out.numel() == 0) return;
    if constexpr (k_is_float<T>) {
      if (b.dtype() == a.dtype()) {
        launch_binary(ctx, a.data<T>(), a.shape(), b.data<T>(), sb, out.data<T>(), so, PowSameOp<T>{});
        return;
      }
      launch_binary(ctx, a.data<T>(), a.shape(), exponent_as<double>(ctx, b), sb, out.data<T>(), so,
                    PowFloatOp<T>{});
    } else if (dtype_is_float(b.dtype())) {
      launch_binary(ctx, a.data<T>(), a.shape(), exponent_as<double>(ctx, b), sb, out.data<T>(), so,
                    PowIntFloatOp<T>{});
    } else {
      const int64_t* e = b.dtype() == DataType::Int64 ? b.data<int64_t>() : exponent_as<int64_t>(ctx, b);
      launch_binary(ctx, a.data<T>(), a.shape(), e, sb, out.data<T>(), so, PowIntOp<T>{});
    }
  });
}

// ---- Mod: fmod=1 is C's fmod/% (sign of the dividend); fmod=0 (integers
// only) is Python's % (sign of the divisor).
template <typename T>
struct FmodOp {
  __device__ T operator()(T a, T b) const { return store<T>(dm::fmod(load(a), load(b))); }
};
template <typename T>
struct IntModOp {
  bool c_fmod;
  __device__ T operator()(T a, T b) const {
    if (b == T(0)) return T(0);
    if constexpr (std::is_signed_v<T>)
      if (b == T(-1)) return T(0);  // MIN % -1 traps in hardware
    T r = static_cast<T>(a % b);
    if constexpr (std::is_signed_v<T>)
      if (!c_fmod && r != 0 && ((r < 0) != (b < 0))) r = static_cast<T>(r + b);
    return r;
  }
};

void mod_kernel(KernelContext& ctx) {
  const bool c_fmod = ctx.node().attr_i("fmod", 0) != 0;
  if (dtype_is_float(ctx.input(0).dtype()) && !c_fmod) ctx.fail("fmod must be 1 for floating-point inputs");
  binary_same<k_numeric>(ctx, [c_fmod](auto tag) {
    using T = decltype(tag);
    if constexpr (k_is_float<T>) return FmodOp<T>{};
    else return IntModOp<T>{c_fmod};
  });
}

void check_mod(const ir::Node& n, const ir::Graph& g) {
  if (n.attr_i("fmod", 0) == 0 && n.has_input(0) && is_float_dtype(g.value(n.inputs[0]).dtype))
    refuse(n, "fmod=0 on floating-point inputs");
}

// ---- PRelu: slope broadcasts onto X (unidirectionally); the output has X's shape.
template <typename T>
struct PReluOp {
  __device__ T operator()(T a, T b) const {
    if constexpr (std::is_unsigned_v<T>) return a;
    else return load(a) < 0 ? store<T>(mul_wrap(load(a), load(b))) : a;
  }
};

void prelu_kernel(KernelContext& ctx) {
  require_same_dtype(ctx, {0, 1});
  const Tensor& x = ctx.input(0);
  const Tensor& s = ctx.input(1);
  const Shape so = broadcast_shape(ctx, {&x.shape(), &s.shape()});
  if (so != x.shape())
    ctx.fail("slope shape " + shape_str(s.shape()) + " does not broadcast to X's shape " + shape_str(x.shape()));
  dispatch_in<k_numeric>(x.dtype(), ctx, [&](auto tag) {
    using T = decltype(tag);
    Tensor& out = ctx.output(0, x.dtype(), so);
    launch_binary(ctx, x.data<T>(), x.shape(), s.data<T>(), s.shape(), out.data<T>(), so, PReluOp<T>{});
  });
}

}  // namespace

void register_ew_arith(KernelRegistry& r) {
  add_op(r, "Add", arith_kernel<Arith::Add>, k_numeric, 2, true);
  add_op(r, "Sub", arith_kernel<Arith::Sub>, k_numeric, 2, true);
  add_op(r, "Mul", arith_kernel<Arith::Mul>, k_numeric, 2, true);
  add_op(r, "Div", arith_kernel<Arith::Div>, k_numeric, 2, true);
  add_op(r, "Pow", pow_kernel, k_numeric, 2, true);
  add_op(r, "Mod", mod_kernel, k_numeric, 2, true, check_mod);
  add_op(r, "PRelu", prelu_kernel, k_numeric, 2, true);
}

}  // namespace kiln::backend::cuda::ew
