#include "backends/cpu/cpu_threads.h"

#include <omp.h>

#include <cstdlib>

namespace kiln::backend {

namespace {

// OpenMP workers that spin between parallel regions (libgomp's default) burn
// the cores that the rest of the run, and everything else on the machine,
// needs: on a shared 2-core machine that made a MobileNet run 10-50x slower
// than with sleeping workers. libgomp reads OMP_WAIT_POLICY once, when it is
// loaded, before any constructor of ours runs, so the default is set from the
// executable's .preinit_array, which runs first. An explicit OMP_WAIT_POLICY
// (or GOMP_SPINCOUNT) in the environment wins.
void default_passive_wait(int, char**, char**) {
  if (!std::getenv("GOMP_SPINCOUNT")) setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
}
__attribute__((section(".preinit_array"), used)) void (*const k_default_passive_wait)(int, char**, char**) =
    default_passive_wait;

}  // namespace

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
