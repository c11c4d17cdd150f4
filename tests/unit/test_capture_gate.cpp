// The capture gate (backends/cuda/capture_gate.h) without a GPU: a
// device-synchronizing call on another thread waits while a capture is open
// and goes ahead once it ends; the capturing thread's own such call does not
// wait for itself; captures on several threads share the gate.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#ifdef KILN_WITH_CUDA
#include "backends/cuda/capture_gate.h"
#endif

namespace kiln::test {
namespace {

#ifdef KILN_WITH_CUDA
using backend::cuda::CaptureGate;
using namespace std::chrono_literals;

TEST(CaptureGate, SynchronizingCallsWaitForOpenCaptures) {
  CaptureGate::enter_capture();
  EXPECT_TRUE(CaptureGate::this_thread_captures());
  std::atomic<bool> done{false};
  std::thread other([&] {
    CaptureGate::Exclusive gate;  // e.g. cudaFreeHost on another thread
    done = true;
  });
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(done.load()) << "a device-synchronizing call ran during a capture";
  { CaptureGate::Exclusive mine; }  // the capturing thread does not wait for itself
  CaptureGate::leave_capture();
  other.join();
  EXPECT_TRUE(done.load());
  EXPECT_FALSE(CaptureGate::this_thread_captures());
}

TEST(CaptureGate, CapturesOnThreadsShareTheGateAndNest) {
  CaptureGate::enter_capture();
  std::atomic<bool> captured{false};
  std::thread other([&] {
    CaptureGate::enter_capture();  // a second capture, concurrently: no wait
    captured = true;
    CaptureGate::leave_capture();
  });
  other.join();
  EXPECT_TRUE(captured.load());
  CaptureGate::enter_capture();  // nested on this thread
  CaptureGate::leave_capture();
  EXPECT_TRUE(CaptureGate::this_thread_captures());
  CaptureGate::leave_capture();
  CaptureGate::leave_capture();  // one too many: ignored, not an unlock of nothing
  CaptureGate::Exclusive free_now;  // nothing open: does not block
  SUCCEED();
}
#else
TEST(CaptureGate, NotBuilt) { GTEST_SKIP() << "this kiln is built without CUDA (tests/skips.txt)"; }
#endif

}  // namespace
}  // namespace kiln::test
