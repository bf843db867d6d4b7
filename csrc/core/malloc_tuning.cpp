#include "core/malloc_tuning.h"

#include <cstdlib>
#include <cstring>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace gradcore {
namespace {

bool apply_tuning() {
#if defined(__GLIBC__)
  const char* env = std::getenv("GRADCORE_MALLOC_TUNING");
  if (env != nullptr && std::strcmp(env, "0") == 0) return false;
  // 32 MiB is glibc's largest accepted mmap threshold on 64-bit; the trim threshold bounds
  // how much free memory the heap keeps.
  const bool mmap_ok = mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1;
  const bool trim_ok = mallopt(M_TRIM_THRESHOLD, 256 << 20) == 1;
  return mmap_ok && trim_ok;
#else
  return false;
#endif
}

}  // namespace

bool tune_malloc() {
  static const bool tuned = apply_tuning();
  return tuned;
}

}  // namespace gradcore
