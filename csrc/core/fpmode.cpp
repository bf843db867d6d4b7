#include "core/fpmode.h"

#include <atomic>

#if defined(__x86_64__) || defined(__SSE__)
#include <xmmintrin.h>
#define GRADCORE_HAS_MXCSR 1
#endif

namespace gradcore {
namespace {
std::atomic<bool> g_flush{true};
constexpr unsigned kFtzDaz = 0x8040;  // FTZ (bit 15) | DAZ (bit 6)
}  // namespace

bool flush_denormal_enabled() {
  return g_flush.load(std::memory_order_relaxed);
}
void set_flush_denormal(bool on) {
  g_flush.store(on, std::memory_order_relaxed);
}

DenormalGuard::DenormalGuard() {
#ifdef GRADCORE_HAS_MXCSR
  if (flush_denormal_enabled()) {
    saved_ = _mm_getcsr();
    _mm_setcsr(saved_ | kFtzDaz);
    active_ = true;
  }
#endif
}

DenormalGuard::~DenormalGuard() {
#ifdef GRADCORE_HAS_MXCSR
  if (active_) _mm_setcsr(saved_);
#endif
}

}  // namespace gradcore
