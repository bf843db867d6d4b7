#include "core/parallel.h"

#include <atomic>
#include <cstdlib>
#include <thread>

namespace gradcore {
namespace {

int default_threads() {
#ifdef _OPENMP
  return std::max(1, omp_get_max_threads());  // honours OMP_NUM_THREADS
#else
  return 1;
#endif
}

std::atomic<int>& thread_setting() {
  static std::atomic<int> n{default_threads()};
  return n;
}

}  // namespace

int get_num_threads() {
  return thread_setting().load(std::memory_order_relaxed);
}

void set_num_threads(int n) {
#ifdef _OPENMP
  thread_setting().store(std::max(1, n), std::memory_order_relaxed);
#else
  (void)n;
#endif
}

bool openmp_enabled() {
#ifdef _OPENMP
  return true;
#else
  return false;
#endif
}

}  // namespace gradcore
