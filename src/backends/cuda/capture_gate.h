// Why captures on one thread failed while another thread tidied up: some
// CUDA calls synchronize the whole device implicitly (cudaFree and
// cudaFreeHost, cudnnCreate/cudnnDestroy, which allocate and free, pinned
// allocations, pool trims), and a device-wide synchronization invalidates
// every stream capture in progress — thread-local capture mode only keeps the
// capturing thread's own unsafe calls in check. So captures hold this
// process-wide gate shared from begin to end, and those calls hold it
// exclusively: they wait for captures in flight, and captures wait for them.
// A thread that is itself capturing does not take it exclusively (it would
// wait for itself; its unsafe call fails the capture cleanly instead).
#pragma once

#include <mutex>
#include <shared_mutex>

namespace kiln::backend::cuda {

class CaptureGate {
 public:
  // Held by the capturing thread between begin_capture and end/abort.
  static void enter_capture();
  static void leave_capture();
  static bool this_thread_captures();

  // RAII for a device-synchronizing call.
  class Exclusive {
   public:
    Exclusive();
    ~Exclusive();
    Exclusive(const Exclusive&) = delete;
    Exclusive& operator=(const Exclusive&) = delete;

   private:
    bool m_locked = false;
  };

 private:
  static std::shared_mutex& mutex();
};

}  // namespace kiln::backend::cuda
