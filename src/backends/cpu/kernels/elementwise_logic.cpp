// Comparison, logical and bitwise kernels: Equal, Less, Greater, LessOrEqual,
// GreaterOrEqual, And, Or, Xor, Not, BitwiseAnd/Or/Xor/Not, BitShift.
#include <limits>
#include <string>

#include "backends/cpu/kernels/elementwise_util.h"

namespace kiln::backend::ew {

namespace {

enum class Cmp { Eq, Lt, Gt, Le, Ge };

template <Cmp K>
void compare_kernel(KernelContext& ctx) {
  dispatch_all(ctx.input(0).dtype(), ctx.node().label(), [&](auto tag) {
    using T = decltype(tag);
    binary_same<T, bool>(ctx, DataType::Bool, [](T a, T b) {
      const Compute<T> x = load(a), y = load(b);
      if constexpr (K == Cmp::Eq) return x == y;
      else if constexpr (K == Cmp::Lt) return x < y;
      else if constexpr (K == Cmp::Gt) return x > y;
      else if constexpr (K == Cmp::Le) return x <= y;
      else return x >= y;
    });
  });
}

void require_bool(const KernelContext& ctx, size_t i) {
  if (ctx.input(i).dtype() != DataType::Bool)
    ctx.fail("input " + std::to_string(i) + " must be bool, got " +
             std::string(dtype_name(ctx.input(i).dtype())));
}

enum class Logic { And, Or, Xor };

template <Logic K>
void logic_kernel(KernelContext& ctx) {
  require_bool(ctx, 0);
  binary_same<bool, bool>(ctx, DataType::Bool, [](bool a, bool b) {
    if constexpr (K == Logic::And) return a && b;
    else if constexpr (K == Logic::Or) return a || b;
    else return a != b;
  });
}

void not_kernel(KernelContext& ctx) {
  require_bool(ctx, 0);
  unary_map<bool>(ctx, [](bool x) { return !x; });
}

template <typename F>
void integer_dispatch(KernelContext& ctx, F&& f) {
  dispatch_numeric(ctx.input(0).dtype(), ctx.node().label(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (k_is_int<T>) f(tag);
    else ctx.fail("input must have an integer dtype, got " + std::string(dtype_name(ctx.input(0).dtype())));
  });
}

template <Logic K>
void bitwise_kernel(KernelContext& ctx) {
  integer_dispatch(ctx, [&](auto tag) {
    using T = decltype(tag);
    binary_same<T, T>(ctx, DTypeOf<T>::value, [](T a, T b) {
      if constexpr (K == Logic::And) return static_cast<T>(a & b);
      else if constexpr (K == Logic::Or) return static_cast<T>(a | b);
      else return static_cast<T>(a ^ b);
    });
  });
}

void bitwise_not_kernel(KernelContext& ctx) {
  integer_dispatch(ctx, [&](auto tag) {
    using T = decltype(tag);
    unary_map<T>(ctx, [](T x) { return static_cast<T>(~x); });
  });
}

// BitShift (unsigned types only): shifting by the type's width or more gives 0
// rather than C's undefined behaviour.
void bitshift_kernel(KernelContext& ctx) {
  const std::string dir = ctx.node().attr_s("direction", "");
  if (dir != "LEFT" && dir != "RIGHT") ctx.fail("direction must be LEFT or RIGHT, got '" + dir + "'");
  const bool left = dir == "LEFT";
  integer_dispatch(ctx, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_signed_v<T>) {
      ctx.fail("BitShift takes unsigned integers only");
    } else {
      binary_same<T, T>(ctx, DTypeOf<T>::value, [left](T a, T b) {
        if (b >= T(std::numeric_limits<T>::digits)) return T(0);
        return left ? static_cast<T>(a << b) : static_cast<T>(a >> b);
      });
    }
  });
}

}  // namespace

void register_ew_logic(KernelRegistry& r) {
  r.add_fn("Equal", compare_kernel<Cmp::Eq>);
  r.add_fn("Less", compare_kernel<Cmp::Lt>);
  r.add_fn("Greater", compare_kernel<Cmp::Gt>);
  r.add_fn("LessOrEqual", compare_kernel<Cmp::Le>);
  r.add_fn("GreaterOrEqual", compare_kernel<Cmp::Ge>);
  r.add_fn("And", logic_kernel<Logic::And>);
  r.add_fn("Or", logic_kernel<Logic::Or>);
  r.add_fn("Xor", logic_kernel<Logic::Xor>);
  r.add_fn("Not", not_kernel);
  r.add_fn("BitwiseAnd", bitwise_kernel<Logic::And>);
  r.add_fn("BitwiseOr", bitwise_kernel<Logic::Or>);
  r.add_fn("BitwiseXor", bitwise_kernel<Logic::Xor>);
  r.add_fn("BitwiseNot", bitwise_not_kernel);
  r.add_fn("BitShift", bitshift_kernel);
}

}  // namespace kiln::backend::ew
