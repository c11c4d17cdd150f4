#include "backends/cuda/capture_gate.h"

namespace kiln::backend::cuda {

namespace {
thread_local int t_captures = 0;  // captures this thread has open (holding the gate shared once)
}  // namespace

std::shared_mutex& CaptureGate::mutex() {
  static std::shared_mutex m;
  return m;
}

void CaptureGate::enter_capture() {
  if (t_captures++ == 0) mutex().lock_shared();
}

void CaptureGate::leave_capture() {
  if (t_captures == 0) return;
  if (--t_captures == 0) mutex().unlock_shared();
}

bool CaptureGate::this_thread_captures() { return t_captures > 0; }

CaptureGate::Exclusive::Exclusive() {
  if (this_thread_captures()) return;
  mutex().lock();
  m_locked = true;
}

CaptureGate::Exclusive::~Exclusive() {
  if (m_locked) mutex().unlock();
}

}  // namespace kiln::backend::cuda
