// Internal to the CPU nn kernels (src/backends/cpu/kernels/nn*.cpp): the
// sub-family registrations register_cpu_nn() calls, and the compute-type
// helpers they share. Reference kernels compute float16/bfloat16 in float and
// float64 in double; oneDNN kernels registered later override them.
#pragma once

#include <cstdint>
#include <type_traits>
#include <vector>

#include "backends/kernel.h"
#include "core/dispatch.h"

namespace kiln::backend {

void register_cpu_conv(KernelRegistry& r);       // nn_conv.cpp: Conv, ConvInteger, ConvTranspose
void register_cpu_pool(KernelRegistry& r);       // nn_pool.cpp
void register_cpu_matmul(KernelRegistry& r);     // nn_matmul.cpp: Gemm, MatMul, MatMulInteger
void register_cpu_einsum(KernelRegistry& r);     // nn_einsum.cpp
void register_cpu_norm(KernelRegistry& r);       // nn_norm.cpp: Batch/Instance/Group norms
void register_cpu_layer_norm(KernelRegistry& r); // nn_layer_norm.cpp: Layer/RMS/Lp norms, LRN
void register_cpu_softmax(KernelRegistry& r);    // nn_softmax.cpp: Softmax, LogSoftmax, Hardmax
void register_cpu_attention(KernelRegistry& r);  // nn_attention.cpp

namespace nn {

// C = alpha * op(A) * op(B) + beta * C, row-major, op = transpose when ta/tb.
// Blocked i-k-j loops. Instantiated for float, double, int32/64, uint32/64.
template <typename T>
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
          const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

// Calls f(A{}) with the compute type for a float dtype: double for float64,
// float for float32/float16/bfloat16; kiln::Error(Unsupported) naming the node
// for anything else.
template <typename F>
decltype(auto) dispatch_acc(const KernelContext& ctx, DataType dt, F&& f) {
  switch (dt) {
    case DataType::Float64: return f(double{});
    case DataType::Float32:
    case DataType::Float16:
    case DataType::BFloat16: return f(float{});
    default: unsupported_dtype(dt, ctx.node().label());
  }
}

template <typename T, typename A>
inline T cast_to(A v) {
  if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) return T(static_cast<float>(v));
  else return static_cast<T>(v);
}

// A tensor's elements as a contiguous array of A: its own memory when the
// dtype is A already, else a converted copy.
template <typename A>
class AccIn {
 public:
  explicit AccIn(const Tensor& t) {
    if (t.dtype() == DTypeOf<A>::value) { m_p = t.data<A>(); return; }
    m_buf.resize(static_cast<size_t>(t.numel()));
    dispatch_numeric(t.dtype(), "nn kernel input", [&](auto tag) {
      using T = decltype(tag);
      const T* src = t.data<T>();
      for (size_t i = 0; i < m_buf.size(); ++i) m_buf[i] = static_cast<A>(static_cast<double>(src[i]));
    });
    m_p = m_buf.data();
  }
  const A* data() const { return m_p; }
  A operator[](int64_t i) const { return m_p[i]; }

 private:
  std::vector<A> m_buf;
  const A* m_p = nullptr;
};

// Writable A view of an output tensor: its memory when the dtype is A, else a
// scratch buffer that commit() converts into the tensor.
template <typename A>
class AccOut {
 public:
  explicit AccOut(Tensor& t) : m_t(t) {
    if (t.dtype() == DTypeOf<A>::value) { m_p = t.data<A>(); return; }
    m_buf.resize(static_cast<size_t>(t.numel()));
    m_p = m_buf.data();
  }
  A* data() { return m_p; }
  void commit() {
    if (m_buf.empty()) return;
    dispatch_numeric(m_t.dtype(), "nn kernel output", [&](auto tag) {
      using T = decltype(tag);
      T* dst = m_t.data<T>();
      for (size_t i = 0; i < m_buf.size(); ++i) dst[i] = cast_to<T>(m_buf[i]);
    });
  }

 private:
  Tensor& m_t;
  std::vector<A> m_buf;
  A* m_p = nullptr;
};

inline int64_t product(const Shape& s, size_t begin = 0, size_t end = SIZE_MAX) {
  int64_t p = 1;
  for (size_t i = begin; i < s.size() && i < end; ++i) p *= s[i];
  return p;
}

}  // namespace nn
}  // namespace kiln::backend
