// Thread control and parallel loops for gradcore's kernels.
//
// Every OpenMP region in gradcore goes through these helpers so that
//  - the thread count set by gradcore.set_num_threads() applies to all kernels,
//  - work that is too small to gain from threads runs on one thread, and
//  - a kernel called from inside another parallel region runs serially.
// Reductions must not depend on the thread count: split them with
// fixed_chunks() and sum the partial results in chunk order.
#pragma once
#include <algorithm>
#include <cstdint>

#include "core/fpmode.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace gradcore {

// Number of threads kernels use (>= 1). Defaults to OMP_NUM_THREADS or the core count.
int get_num_threads();
// Sets the number of threads kernels use; n < 1 is rejected by the binding.
void set_num_threads(int n);
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
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
  {
    DenormalGuard ftz;  // worker threads get the caller's denormal mode
    const int t = omp_get_thread_num();
    const int T = omp_get_num_threads();
    const int64_t b = n * t / T, e = n * (t + 1) / T;
    if (b < e) f(b, e);
  }
#else
  f(int64_t{0}, n);
#endif
}

// Number of chunks of at least `chunk` items covering n items: a partition that
// depends only on n, never on the thread count (for deterministic reductions).
inline int64_t fixed_chunks(int64_t n, int64_t chunk) {
  return n <= 0 ? 0 : (n + chunk - 1) / chunk;
}

}  // namespace gradcore
