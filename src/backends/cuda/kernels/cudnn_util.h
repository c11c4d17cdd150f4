// RAII for cuDNN 9 backend (graph API) descriptors and the small helpers the
// cuDNN kernels share. Every descriptor is destroyed by its owner; a failed
// attribute call becomes a kiln::Error naming the attribute number, so a
// wrong attribute type (CUDNN_STATUS_BAD_PARAM) says which one it was.
#pragma once

#include <cudnn.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "backends/cuda/cuda_check.h"

namespace kiln::backend::cuda {

class CudnnDesc {
 public:
  CudnnDesc() = default;
  explicit CudnnDesc(cudnnBackendDescriptorType_t type) {
    const cudnnStatus_t s = cudnnBackendCreateDescriptor(type, &m_desc);
    if (s != CUDNN_STATUS_SUCCESS)
      throw_cudnn(s, ("cudnnBackendCreateDescriptor(type " + std::to_string(static_cast<int>(type)) + ")").c_str());
  }
  ~CudnnDesc() { reset(); }
  CudnnDesc(CudnnDesc&& o) noexcept : m_desc(std::exchange(o.m_desc, nullptr)) {}
  CudnnDesc& operator=(CudnnDesc&& o) noexcept {
    if (this != &o) {
      reset();
      m_desc = std::exchange(o.m_desc, nullptr);
    }
    return *this;
  }
  CudnnDesc(const CudnnDesc&) = delete;
  CudnnDesc& operator=(const CudnnDesc&) = delete;

  cudnnBackendDescriptor_t get() const { return m_desc; }
  explicit operator bool() const { return m_desc != nullptr; }

  void set(cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type, int64_t count, const void* values) {
    const cudnnStatus_t s = cudnnBackendSetAttribute(m_desc, name, type, count, values);
    if (s != CUDNN_STATUS_SUCCESS)
      throw_cudnn(s, ("cudnnBackendSetAttribute(attribute " + std::to_string(static_cast<int>(name)) + ", type " +
                      std::to_string(static_cast<int>(type)) + ")")
                         .c_str());
  }
  void set_int64(cudnnBackendAttributeName_t name, int64_t v) { set(name, CUDNN_TYPE_INT64, 1, &v); }
  void set_int64s(cudnnBackendAttributeName_t name, const std::vector<int64_t>& v) {
    set(name, CUDNN_TYPE_INT64, static_cast<int64_t>(v.size()), v.data());
  }
  void set_data_type(cudnnBackendAttributeName_t name, cudnnDataType_t dt) { set(name, CUDNN_TYPE_DATA_TYPE, 1, &dt); }
  void set_desc(cudnnBackendAttributeName_t name, const CudnnDesc& d) {
    cudnnBackendDescriptor_t raw = d.get();
    set(name, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &raw);
  }
  void set_handle(cudnnBackendAttributeName_t name, cudnnHandle_t h) { set(name, CUDNN_TYPE_HANDLE, 1, &h); }

  // Finalize, throwing on failure (descriptors that must work).
  void finalize(const char* what) {
    const cudnnStatus_t s = cudnnBackendFinalize(m_desc);
    if (s != CUDNN_STATUS_SUCCESS) throw_cudnn(s, (std::string("cudnnBackendFinalize(") + what + ")").c_str());
  }
  // Finalize, reporting failure (engine configs that may not fit the problem).
  cudnnStatus_t try_finalize() { return cudnnBackendFinalize(m_desc); }

 private:
  void reset() {
    if (m_desc) cudnnBackendDestroyDescriptor(m_desc);
    m_desc = nullptr;
  }
  cudnnBackendDescriptor_t m_desc = nullptr;
};

// The largest power of two (<= cap) that divides the address: what the
// tensor descriptors promise as CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT and cuBLASLt
// as the minimum alignment of a matrix pointer.
inline int64_t pointer_alignment(const void* p, int64_t cap = 256) {
  const auto a = reinterpret_cast<uintptr_t>(p);
  int64_t al = 1;
  while (al < cap && (a % static_cast<uintptr_t>(al * 2)) == 0) al *= 2;
  return al;
}

}  // namespace kiln::backend::cuda
