#include "backends/cpu/cpu_threads.h"

#include <omp.h>

namespace kiln::backend {

// OpenMP workers keep libgomp's default wait policy: they spin a few
// milliseconds after a parallel region before sleeping, so the next kernel of
// the same run finds them awake. Measured on mobilenet_v3_small, batch 1, 2
// threads: 1.3-1.7 ms per run, against 3.2-3.7 ms with OMP_WAIT_POLICY=PASSIVE.
// On a machine whose cores are busy with other work PASSIVE is steadier (p99
// 3-4 ms against ~100 ms with one of two cores taken); the environment
// variable is the switch, since libgomp reads it once, when it is loaded.

CpuThreadScope::CpuThreadScope(int threads) {
  if (threads <= 0) return;
  m_previous = omp_get_max_threads();
  omp_set_num_threads(threads);
}

CpuThreadScope::~CpuThreadScope() {
  if (m_previous > 0) omp_set_num_threads(m_previous);
}

int cpu_threads() { return omp_get_max_threads(); }

}  // namespace kiln::backend
