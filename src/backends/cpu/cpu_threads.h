// How many threads CPU kernels use. oneDNN here is built on OpenMP (ldd shows
// libgomp), whose thread count is a per-calling-thread setting: a scope sets it
// for the runs made by this thread and restores it after, so Sessions with
// different SessionOptions::threads can run side by side.
#pragma once

namespace kiln::backend {

class CpuThreadScope {
 public:
  // threads <= 0 leaves the count as it is (all cores, or OMP_NUM_THREADS).
  explicit CpuThreadScope(int threads);
  ~CpuThreadScope();
  CpuThreadScope(const CpuThreadScope&) = delete;
  CpuThreadScope& operator=(const CpuThreadScope&) = delete;

 private:
  int m_previous = 0;
};

// The thread count a run from this thread would use now.
int cpu_threads();

}  // namespace kiln::backend
