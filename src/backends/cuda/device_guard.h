// Makes a device current for a scope and restores the previous one: CUDA's
// current device is per host thread, and a Session may be used from threads
// bound to other devices.
#pragma once

#include "backends/cuda/cuda_check.h"

namespace kiln::backend::cuda {

class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    KILN_CUDA(cudaGetDevice(&m_previous));
    if (m_previous != device) KILN_CUDA(cudaSetDevice(device));
    m_device = device;
  }
  ~DeviceGuard() {
    if (m_previous != m_device) cudaSetDevice(m_previous);
  }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int m_previous = 0, m_device = 0;
};

}  // namespace kiln::backend::cuda
