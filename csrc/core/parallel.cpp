#include "core/parallel.h"

#include <atomic>
#include <cstdlib>
#include <thread>

#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#define GC_HAVE_PTHREAD_ATFORK 1
#endif

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

// Fork safety. A process that has run an OpenMP team keeps the runtime's record of its
// worker threads across fork(), but the child has none of those threads: its next parallel
// region waits for them forever (libgomp). So a child forked after a team was started runs
// every kernel on one thread, as PyTorch does; a child of a process that never started a
// team keeps its thread setting.
std::atomic<bool> team_started{false};
std::atomic<bool> forked_after_team{false};

#ifdef GC_HAVE_PTHREAD_ATFORK
void on_fork_child() {
  if (team_started.load(std::memory_order_relaxed)) {
    forked_after_team.store(true, std::memory_order_relaxed);
    thread_setting().store(1, std::memory_order_relaxed);
  }
}
[[maybe_unused]] const int atfork_registered = pthread_atfork(nullptr, nullptr, &on_fork_child);
#endif

}  // namespace

void note_team_started() {
  if (!team_started.load(std::memory_order_relaxed))
    team_started.store(true, std::memory_order_relaxed);
}

bool threads_disabled_by_fork() {
  return forked_after_team.load(std::memory_order_relaxed);
}

int get_num_threads() {
  return thread_setting().load(std::memory_order_relaxed);
}

void set_num_threads(int n) {
#ifdef _OPENMP
  thread_setting().store(threads_disabled_by_fork() ? 1 : std::max(1, n),
                         std::memory_order_relaxed);
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
