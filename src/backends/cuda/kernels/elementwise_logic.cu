// Comparison, logical and bitwise ops on CUDA: Equal, Less, Greater,
// LessOrEqual, GreaterOrEqual, And, Or, Xor, Not, BitwiseAnd/Or/Xor/Not,
// BitShift (as backends/cpu/kernels/elementwise_logic.cpp).
#include "backends/cuda/kernels/elementwise_engine.cuh"

namespace kiln::backend::cuda::ew {

namespace {

enum class Cmp { Eq, Lt, Gt, Le, Ge };

template <Cmp K, typename T>
struct CmpOp {
  __device__ bool operator()(T a, T b) const {
    const Acc<T> x = load(a), y = load(b);
    if constexpr (K == Cmp::Eq) return x == y;
    else if constexpr (K == Cmp::Lt) return x < y;
    else if constexpr (K == Cmp::Gt) return x > y;
    else if constexpr (K == Cmp::Le) return x <= y;
    else return x >= y;
  }
};

template <Cmp K, uint32_t Mask>
void compare_kernel(KernelContext& ctx) {
  binary_same<Mask, true>(ctx, [](auto tag) { return CmpOp<K, decltype(tag)>{}; });
}

enum class Logic { And, Or, Xor };

template <Logic K>
struct BoolOp {
  __device__ bool operator()(bool a, bool b) const {
    if constexpr (K == Logic::And) return a && b;
    else if constexpr (K == Logic::Or) return a || b;
    else return a != b;
  }
};

template <Logic K>
void logic_kernel(KernelContext& ctx) {
  binary_same<k_bool, true>(ctx, [](auto) { return BoolOp<K>{}; });
}

template <Logic K, typename T>
struct BitOp {
  __device__ T operator()(T a, T b) const {
    if constexpr (K == Logic::And) return static_cast<T>(a & b);
    else if constexpr (K == Logic::Or) return static_cast<T>(a | b);
    else return static_cast<T>(a ^ b);
  }
};

template <Logic K>
void bitwise_kernel(KernelContext& ctx) {
  binary_same<k_int>(ctx, [](auto tag) { return BitOp<K, decltype(tag)>{}; });
}

struct NotOp {
  __device__ bool operator()(bool x) const { return !x; }
};
struct BitNotOp {
  template <typename C>
  __device__ C operator()(C x) const {
    return static_cast<C>(~x);
  }
};

// BitShift (unsigned types only): shifting by the type's width or more gives 0
// rather than C's undefined behaviour.
template <typename T>
struct ShiftOp {
  bool left;
  __device__ T operator()(T a, T b) const {
    if (b >= T(std::numeric_limits<T>::digits)) return T(0);
    return left ? static_cast<T>(a << b) : static_cast<T>(a >> b);
  }
};

void bitshift_kernel(KernelContext& ctx) {
  const std::string dir = ctx.node().attr_s("direction", "");
  if (dir != "LEFT" && dir != "RIGHT") ctx.fail("direction must be LEFT or RIGHT, got '" + dir + "'");
  const bool left = dir == "LEFT";
  binary_same<k_uint>(ctx, [left](auto tag) { return ShiftOp<decltype(tag)>{left}; });
}

void check_bitshift(const ir::Node& n, const ir::Graph&) {
  const std::string dir = n.attr_s("direction", "");
  if (dir != "LEFT" && dir != "RIGHT") refuse(n, "direction '" + dir + "'");
}

}  // namespace

void register_ew_logic(KernelRegistry& r) {
  add_op(r, "Equal", compare_kernel<Cmp::Eq, k_all>, k_all, 2, true);
  add_op(r, "Less", compare_kernel<Cmp::Lt, k_numeric>, k_numeric, 2, true);
  add_op(r, "Greater", compare_kernel<Cmp::Gt, k_numeric>, k_numeric, 2, true);
  add_op(r, "LessOrEqual", compare_kernel<Cmp::Le, k_numeric>, k_numeric, 2, true);
  add_op(r, "GreaterOrEqual", compare_kernel<Cmp::Ge, k_numeric>, k_numeric, 2, true);
  add_op(r, "And", logic_kernel<Logic::And>, k_bool, 2, true);
  add_op(r, "Or", logic_kernel<Logic::Or>, k_bool, 2, true);
  add_op(r, "Xor", logic_kernel<Logic::Xor>, k_bool, 2, true);
  add_op(r, "Not", unary_fn<k_bool, NotOp>, k_bool);
  add_op(r, "BitwiseAnd", bitwise_kernel<Logic::And>, k_int, 2, true);
  add_op(r, "BitwiseOr", bitwise_kernel<Logic::Or>, k_int, 2, true);
  add_op(r, "BitwiseXor", bitwise_kernel<Logic::Xor>, k_int, 2, true);
  add_op(r, "BitwiseNot", unary_fn<k_int, BitNotOp>, k_int);
  add_op(r, "BitShift", bitshift_kernel, k_uint, 2, true, check_bitshift);
}

}  // namespace kiln::backend::cuda::ew
