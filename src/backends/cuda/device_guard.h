// Makes a device current for a scope and restores the previous one: CUDA's
// current device is per host thread, and a Session may be used from threads
// bound to other devices. The std::nothrow form is for destructors: it
// ignores errors (a broken context must not throw out of a teardown).
#pragma once

#include <new>

#include "backends/cuda/cuda_check.h"

namespace kiln::backend::cuda {

class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    KILN_CUDA(cudaGetDevice(&m_previous));
    if (m_previous != device) KILN_CUDA(cudaSetDevice(device));
    m_device = device;
  }
  DeviceGuard(int device, std::nothrow_t) : m_device(device) {
    if (cudaGetDevice(&m_previous) != cudaSuccess) m_previous = -1;
    if (m_previous != device) cudaSetDevice(device);
  }
  ~DeviceGuard() {
    if (m_previous >= 0 && m_previous != m_device) cudaSetDevice(m_previous);
  }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int m_previous = 0, m_device = 0;
};

}  // namespace kiln::backend::cuda
