// Shared machinery of the CPU elementwise kernels: compute types (16-bit floats
// compute in float), dtype checks, and the numpy broadcast walker that every
// binary/variadic/ternary kernel runs on.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <type_traits>
#include <vector>

#include "backends/ew_params.h"
#include "backends/kernel.h"
#include "core/dispatch.h"

namespace kiln::backend::ew {

// ---- compute types ----
template <typename T> struct ComputeOf { using type = T; };
template <> struct ComputeOf<Half> { using type = float; };
template <> struct ComputeOf<BFloat16> { using type = float; };
template <typename T> using Compute = typename ComputeOf<T>::type;

template <typename T>
constexpr bool k_is_float = std::is_floating_point_v<Compute<T>>;
template <typename T>
constexpr bool k_is_int = std::is_integral_v<T> && !std::is_same_v<T, bool>;

template <typename T> inline Compute<T> load(T v) { return static_cast<Compute<T>>(v); }
template <typename T, typename C> inline T store(C v) {
  if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) return T(static_cast<float>(v));
  else return static_cast<T>(v);
}

// Integer +, -, * wrap like two's-complement hardware (signed overflow is UB
// in C++, and narrow types would promote to int and overflow there too).
template <typename T>
using WrapOf = std::conditional_t<(sizeof(T) < 4), uint32_t, std::make_unsigned_t<T>>;
template <typename C> inline C add_wrap(C a, C b) {
  if constexpr (std::is_integral_v<C>) return static_cast<C>(WrapOf<C>(a) + WrapOf<C>(b));
  else return a + b;
}
template <typename C> inline C sub_wrap(C a, C b) {
  if constexpr (std::is_integral_v<C>) return static_cast<C>(WrapOf<C>(a) - WrapOf<C>(b));
  else return a - b;
}
template <typename C> inline C mul_wrap(C a, C b) {
  if constexpr (std::is_integral_v<C>) return static_cast<C>(WrapOf<C>(a) * WrapOf<C>(b));
  else return a * b;
}

// Float -> integer as numpy does on x86: truncate toward zero; NaN and values
// outside int64 become INT64_MIN (no UB), then wrap to T.
template <typename T> inline T float_to_int(double v) {
  if constexpr (std::is_same_v<T, uint64_t>)
    if (v >= 9223372036854775808.0 && v < 18446744073709551616.0) return static_cast<uint64_t>(v);
  int64_t i = INT64_MIN;
  if (v > -9223372036854775808.0 && v < 9223372036854775808.0) i = static_cast<int64_t>(v);
  return static_cast<T>(i);
}

// ---- checks (kernel side; inference already checked, but kernels run on
// whatever tensors they are handed), shared with CUDA (backends/ew_params.h) ----
using params::binary_shapes;
using params::broadcast_shape;
using params::legacy_rhs_shape;
using params::require_same_dtype;

// ---- broadcast walking ----
constexpr size_t k_max_walk_inputs = 3;

// The output dims after dropping 1s and merging dims that are contiguous for
// every input, with each input's element stride per dim (0 where broadcast).
struct BroadcastPlan {
  std::vector<int64_t> dims;
  std::vector<std::array<int64_t, k_max_walk_inputs>> strides;
  int64_t numel = 0;
};
BroadcastPlan make_plan(const Shape& out, const std::vector<const Shape*>& inputs);

// Calls row(out_offset, in_offsets, n, in_steps) once per innermost run of n
// output elements; input k's j-th element of the run is at
// in_offsets[k] + j * in_steps[k] (steps are 0 or 1). Offsets advance by
// odometer increments, never by dividing indices.
template <size_t N, typename Row>
void walk(const BroadcastPlan& p, Row&& row) {
  static_assert(N <= k_max_walk_inputs);
  std::array<int64_t, N> off{}, step{};
  if (p.numel == 0) return;
  const size_t r = p.dims.size();
  if (r == 0) { row(int64_t{0}, off, int64_t{1}, step); return; }
  for (size_t k = 0; k < N; ++k) step[k] = p.strides[r - 1][k];
  const int64_t inner = p.dims[r - 1];
  std::vector<int64_t> idx(r, 0);
  for (int64_t out_off = 0;; out_off += inner) {
    row(out_off, off, inner, step);
    size_t d = r - 1;
    for (;;) {
      if (d == 0) return;
      --d;
      if (++idx[d] < p.dims[d]) {
        for (size_t k = 0; k < N; ++k) off[k] += p.strides[d][k];
        break;
      }
      idx[d] = 0;
      for (size_t k = 0; k < N; ++k) off[k] -= p.strides[d][k] * (p.dims[d] - 1);
    }
  }
}

// out[i] = f(a[ia], b[ib]) over the broadcast of a and b; f works on storage
// values. Fast paths for equal shapes and scalar operands; the inner loops of
// the general case are branch-free so they vectorize.
template <typename A, typename B, typename O, typename F>
void binary_loop(const A* a, const Shape& sa, const B* b, const Shape& sb, O* o, const Shape& so, F&& f) {
  const int64_t n = shape_numel(so);
  const int64_t na = shape_numel(sa), nb = shape_numel(sb);
  if (na == n && nb == n) {
    for (int64_t i = 0; i < n; ++i) o[i] = f(a[i], b[i]);
    return;
  }
  if (nb == 1 && na == n) {
    const B bv = b[0];
    for (int64_t i = 0; i < n; ++i) o[i] = f(a[i], bv);
    return;
  }
  if (na == 1 && nb == n) {
    const A av = a[0];
    for (int64_t i = 0; i < n; ++i) o[i] = f(av, b[i]);
    return;
  }
  const BroadcastPlan plan = make_plan(so, {&sa, &sb});
  walk<2>(plan, [&](int64_t oo, const std::array<int64_t, 2>& off, int64_t len,
                    const std::array<int64_t, 2>& st) {
    const A* pa = a + off[0];
    const B* pb = b + off[1];
    O* po = o + oo;
    if (st[0] && st[1]) {
      for (int64_t j = 0; j < len; ++j) po[j] = f(pa[j], pb[j]);
    } else if (st[0]) {
      const B bv = *pb;
      for (int64_t j = 0; j < len; ++j) po[j] = f(pa[j], bv);
    } else if (st[1]) {
      const A av = *pa;
      for (int64_t j = 0; j < len; ++j) po[j] = f(av, pb[j]);
    } else {
      const O v = f(*pa, *pb);
      for (int64_t j = 0; j < len; ++j) po[j] = v;
    }
  });
}

// Copies `in` broadcast to shape `so` into o (converting to O).
template <typename I, typename O, typename F>
void broadcast_copy(const I* in, const Shape& si, O* o, const Shape& so, F&& f) {
  const BroadcastPlan plan = make_plan(so, {&si});
  walk<1>(plan, [&](int64_t oo, const std::array<int64_t, 1>& off, int64_t len,
                    const std::array<int64_t, 1>& st) {
    const I* p = in + off[0];
    if (st[0]) for (int64_t j = 0; j < len; ++j) o[oo + j] = f(p[j]);
    else for (int64_t j = 0; j < len; ++j) o[oo + j] = f(*p);
  });
}

// out = f(a, b) with broadcasting for two inputs of the same storage type T
// (checked) and an output of type O; allocates output 0. Honors the opset < 7
// broadcast/axis attributes.
template <typename T, typename O, typename F>
void binary_same(KernelContext& ctx, DataType out_dtype, F&& f) {
  require_same_dtype(ctx, {0, 1});
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  Shape sb, so;
  binary_shapes(ctx, &sb, &so);
  Tensor& out = ctx.output(0, out_dtype, so);
  binary_loop(a.data<T>(), a.shape(), b.data<T>(), sb, out.data<O>(), so, f);
}

// y = f(x) elementwise for input 0 of storage type T into output 0 (dtype of
// O's DTypeOf, O defaulting to T); f works on compute values.
template <typename T, typename O = T, typename F>
void unary_map(KernelContext& ctx, F&& f) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0, DTypeOf<O>::value, x.shape());
  const T* px = x.data<T>();
  O* py = y.data<O>();
  const int64_t n = x.numel();
  for (int64_t i = 0; i < n; ++i) py[i] = store<O>(f(load(px[i])));
}

// Converts a tensor to another dtype (Cast semantics). Strings are refused.
Tensor cast_tensor(const Tensor& src, DataType to, const std::string& where);

// Families of elementwise kernels, one file each.
void register_ew_arith(KernelRegistry& r);       // elementwise_arith.cpp
void register_ew_logic(KernelRegistry& r);       // elementwise_logic.cpp
void register_ew_variadic(KernelRegistry& r);    // elementwise_variadic.cpp
void register_ew_math(KernelRegistry& r);        // elementwise_math.cpp
void register_ew_activation(KernelRegistry& r);  // elementwise_activation.cpp
void register_ew_cast(KernelRegistry& r);        // elementwise_cast.cpp

}  // namespace kiln::backend::ew
