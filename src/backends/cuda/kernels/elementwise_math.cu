// Unary math on CUDA: Exp, Log, Sqrt, Reciprocal, Floor, Ceil, Round, Tanh,
// trigonometric and hyperbolic functions, Erf, Neg, Abs, Sign, IsNaN, IsInf
// (as backends/cpu/kernels/elementwise_math.cpp).
#include "backends/cuda/kernels/elementwise_engine.cuh"

namespace kiln::backend::cuda::ew {

namespace {

#define KILN_EW_FLOAT_OP(Name, fn)                                 \
  struct Name {                                                    \
    template <typename C>                                          \
    __device__ C operator()(C x) const {                           \
      return dm::fn(x);                                            \
    }                                                              \
  };
KILN_EW_FLOAT_OP(ExpOp, exp)
KILN_EW_FLOAT_OP(LogOp, log)
KILN_EW_FLOAT_OP(SqrtOp, sqrt)
KILN_EW_FLOAT_OP(FloorOp, floor)
KILN_EW_FLOAT_OP(CeilOp, ceil)
KILN_EW_FLOAT_OP(RoundOp, rint)
KILN_EW_FLOAT_OP(TanhOp, tanh)
KILN_EW_FLOAT_OP(SinOp, sin)
KILN_EW_FLOAT_OP(CosOp, cos)
KILN_EW_FLOAT_OP(TanOp, tan)
KILN_EW_FLOAT_OP(AsinOp, asin)
KILN_EW_FLOAT_OP(AcosOp, acos)
KILN_EW_FLOAT_OP(AtanOp, atan)
KILN_EW_FLOAT_OP(SinhOp, sinh)
KILN_EW_FLOAT_OP(CoshOp, cosh)
KILN_EW_FLOAT_OP(AsinhOp, asinh)
KILN_EW_FLOAT_OP(AcoshOp, acosh)
KILN_EW_FLOAT_OP(AtanhOp, atanh)
#undef KILN_EW_FLOAT_OP

struct ReciprocalOp {
  template <typename C>
  __device__ C operator()(C x) const {
    return C(1) / x;
  }
};

struct NegOp {
  template <typename C>
  __device__ C operator()(C x) const {
    if constexpr (std::is_integral_v<C>) return sub_wrap(C(0), x);
    else return -x;
  }
};

struct AbsOp {
  template <typename C>
  __device__ C operator()(C x) const {
    if constexpr (std::is_unsigned_v<C>) return x;
    else if constexpr (std::is_integral_v<C>) return x < 0 ? sub_wrap(C(0), x) : x;
    else return dm::fabs(x);
  }
};

struct SignOp {
  template <typename C>
  __device__ C operator()(C x) const {
    if constexpr (std::is_unsigned_v<C>) return C(x > 0);
    else if constexpr (std::is_integral_v<C>) return x > 0 ? C(1) : (x < 0 ? C(-1) : C(0));
    else return x > 0 ? C(1) : (x < 0 ? C(-1) : (x == 0 ? C(0) : x));  // NaN stays NaN
  }
};

// Erf of an integer is the CPU's erf(double(x)) truncated: glibc returns
// exactly +-1 from |x| >= 6 and |erf| < 1 - 1e-12 below, so the result is
// known without evaluating erf (whose last ulp could differ on the GPU).
struct ErfOp {
  template <typename C>
  __device__ C operator()(C x) const {
    if constexpr (std::is_integral_v<C>) {
      if (x >= C(6)) return C(1);
      if constexpr (std::is_signed_v<C>)
        if (x <= C(-6)) return C(-1);
      return C(0);
    } else {
      return dm::erf(x);
    }
  }
};

struct IsNanOp {
  template <typename C>
  __device__ bool operator()(C x) const {
    return x != x;
  }
};

struct IsInfOp {
  bool neg = true, pos = true;
  template <typename C>
  __device__ bool operator()(C x) const {
    const C inf = std::numeric_limits<C>::infinity();
    return x == inf ? pos : (x == -inf ? neg : false);
  }
};

void isinf_kernel(KernelContext& ctx) {
  IsInfOp op;
  op.neg = ctx.node().attr_i("detect_negative", 1) != 0;
  op.pos = ctx.node().attr_i("detect_positive", 1) != 0;
  unary_op<k_float, true>(ctx, op);
}

}  // namespace

void register_ew_math(KernelRegistry& r) {
  add_op(r, "Exp", unary_fn<k_float, ExpOp>, k_float);
  add_op(r, "Log", unary_fn<k_float, LogOp>, k_float);
  add_op(r, "Sqrt", unary_fn<k_float, SqrtOp>, k_float);
  add_op(r, "Reciprocal", unary_fn<k_float, ReciprocalOp>, k_float);
  add_op(r, "Floor", unary_fn<k_float, FloorOp>, k_float);
  add_op(r, "Ceil", unary_fn<k_float, CeilOp>, k_float);
  add_op(r, "Round", unary_fn<k_float, RoundOp>, k_float);
  add_op(r, "Tanh", unary_fn<k_float, TanhOp>, k_float);
  add_op(r, "Sin", unary_fn<k_float, SinOp>, k_float);
  add_op(r, "Cos", unary_fn<k_float, CosOp>, k_float);
  add_op(r, "Tan", unary_fn<k_float, TanOp>, k_float);
  add_op(r, "Asin", unary_fn<k_float, AsinOp>, k_float);
  add_op(r, "Acos", unary_fn<k_float, AcosOp>, k_float);
  add_op(r, "Atan", unary_fn<k_float, AtanOp>, k_float);
  add_op(r, "Sinh", unary_fn<k_float, SinhOp>, k_float);
  add_op(r, "Cosh", unary_fn<k_float, CoshOp>, k_float);
  add_op(r, "Asinh", unary_fn<k_float, AsinhOp>, k_float);
  add_op(r, "Acosh", unary_fn<k_float, AcoshOp>, k_float);
  add_op(r, "Atanh", unary_fn<k_float, AtanhOp>, k_float);
  add_op(r, "Erf", unary_fn<k_numeric, ErfOp>, k_numeric);
  add_op(r, "Neg", unary_fn<k_signed, NegOp>, k_signed);
  add_op(r, "Abs", unary_fn<k_numeric, AbsOp>, k_numeric);
  add_op(r, "Sign", unary_fn<k_numeric, SignOp>, k_numeric);
  add_op(r, "IsNaN", unary_fn<k_float, IsNanOp, true>, k_float);
  add_op(r, "IsInf", isinf_kernel, k_float);
}

}  // namespace kiln::backend::cuda::ew
