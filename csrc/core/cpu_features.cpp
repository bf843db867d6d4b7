#include "core/cpu_features.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace gradcore {
namespace {

SimdPath detect() {
  const char* force = std::getenv("GRADCORE_FORCE_GENERIC");
  if (force && std::strcmp(force, "") != 0 && std::strcmp(force, "0") != 0)
    return SimdPath::kGeneric;
  return cpu_has_avx2_fma() ? SimdPath::kAvx2Fma : SimdPath::kGeneric;
}

std::atomic<SimdPath>& current() {
  static std::atomic<SimdPath> p{detect()};
  return p;
}

}  // namespace

bool cpu_has_avx2_fma() {
#if defined(__x86_64__) || defined(__i386__)
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  return has;
#else
  return false;
#endif
}

SimdPath simd_path() {
  return current().load(std::memory_order_relaxed);
}

void set_simd_path(SimdPath p) {
  if (p == SimdPath::kAvx2Fma && !cpu_has_avx2_fma()) p = SimdPath::kGeneric;
  current().store(p, std::memory_order_relaxed);
}

const char* simd_path_name(SimdPath p) {
  return p == SimdPath::kAvx2Fma ? "avx2_fma" : "generic";
}

}  // namespace gradcore
