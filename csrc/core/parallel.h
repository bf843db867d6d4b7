// Thread control and parallel loops for gradcore's kernels.
//
// Every OpenMP region in gradcore goes through these helpers so that
//  - the thread count set by gradcore.set_num_threads() applies to all kernels,
//  - work that is too small to gain from threads runs on one thread, and
//  - a kernel called from inside another parallel region runs serially, and
//  - no C++ exception ever leaves an OpenMP region (the runtime would call std::terminate
//    and abort the interpreter): parallel_region catches it in the thread that threw and
//    rethrows the first one on the calling thread once the team has finished, so a
//    std::bad_alloc in a worker's scratch reaches Python as MemoryError.
// Reductions must not depend on the thread count: split them with
// fixed_chunks() and sum the partial results in chunk order.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>

#include "core/fpmode.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace gradcore {

// Number of threads kernels use (>= 1). Defaults to OMP_NUM_THREADS or the core count.
int get_num_threads();
// Sets the number of threads kernels use; n < 1 is rejected by the binding. In a process
// forked after its parent ran an OpenMP team the setting stays 1 (parallel.cpp).
void set_num_threads(int n);
// True in a process forked after an OpenMP team had started: kernels run on one thread.
bool threads_disabled_by_fork();
// True when compiled with OpenMP.
bool openmp_enabled();

inline bool in_parallel() {
#ifdef _OPENMP
  return omp_in_parallel() != 0;
#else
  return false;
#endif
}

inline int thread_index() {
#ifdef _OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

// The first exception thrown by the threads of a region, kept for the calling thread.
class RegionErrors {
 public:
  // Records the exception being handled (call inside a catch block); later ones are dropped.
  void capture() noexcept {
    if (!failed_.exchange(true, std::memory_order_acq_rel)) first_ = std::current_exception();
  }
  // True once any thread of the region has captured an exception.
  bool failed() const noexcept { return failed_.load(std::memory_order_acquire); }
  // Rethrows the captured exception, if any (call after the region, on the calling thread).
  void rethrow_if_any() const {
    if (failed()) std::rethrow_exception(first_);
  }

 private:
  std::atomic<bool> failed_{false};
  std::exception_ptr first_;
};

// Marks that this process has started an OpenMP team (fork safety: see parallel.cpp).
void note_team_started();

// Runs body(t, team) on a team of up to nt threads, t in [0, team), each with the caller's
// denormal mode. Every OpenMP region in gradcore is this one. An exception thrown by a
// thread is caught in that thread and the first one is rethrown here after the region.
// A body with `#pragma omp barrier`s must not throw between two barriers that the other
// threads still wait at: it agrees on failure at a barrier first (see gemm_shared_b).
template <class F>
void parallel_region(int nt, const F& body) {
#ifdef _OPENMP
  note_team_started();
  RegionErrors errors;
#pragma omp parallel num_threads(nt)
  {
    DenormalGuard ftz;  // worker threads get the caller's denormal mode
    try {
      body(omp_get_thread_num(), omp_get_num_threads());
    } catch (...) {
      errors.capture();
    }
  }
  errors.rethrow_if_any();
#else
  (void)nt;
  body(0, 1);
#endif
}

// Threads worth using for `work` units when one thread should get at least `min_work` units.
inline int threads_for(int64_t work, int64_t min_work) {
  if (in_parallel()) return 1;
  int64_t t = min_work > 0 ? work / min_work : work;
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(t, get_num_threads())));
}

// Calls f(begin, end) on contiguous static chunks of [0, n), one chunk per thread.
// `grain` is the least number of iterations worth giving a thread.
template <class F>
void parallel_for(int64_t n, int64_t grain, const F& f) {
  if (n <= 0) return;
  const int nt = threads_for(n, std::max<int64_t>(grain, 1));
  if (nt <= 1) {
    f(int64_t{0}, n);
    return;
  }
  parallel_region(nt, [&](int t, int T) {
    const int64_t b = n * t / T, e = n * (t + 1) / T;
    if (b < e) f(b, e);
  });
}

// Number of chunks of at least `chunk` items covering n items: a partition that
// depends only on n, never on the thread count (for deterministic reductions).
inline int64_t fixed_chunks(int64_t n, int64_t chunk) {
  return n <= 0 ? 0 : (n + chunk - 1) / chunk;
}

}  // namespace gradcore
