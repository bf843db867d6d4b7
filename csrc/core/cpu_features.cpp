#include "core/cpu_features.h"

#include <atomic>
#include <cstdint>
#include <cstdlib>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace gradcore {
namespace {

#if defined(__x86_64__) || defined(__i386__)
// XCR0 (the state components the OS saves on a context switch); needs OSXSAVE.
uint64_t read_xcr0() {
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}

CpuCapability detect() {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return CpuCapability::kGeneric;
  const bool fma = c & (1u << 12), osxsave = c & (1u << 27), avx = c & (1u << 28);
  if (!osxsave || !avx) return CpuCapability::kGeneric;
  const uint64_t xcr0 = read_xcr0();
  if ((xcr0 & 0x6) != 0x6) return CpuCapability::kGeneric;  // XMM (bit 1) and YMM (bit 2)
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return CpuCapability::kGeneric;
  const bool avx2 = b & (1u << 5);
  if (!avx2 || !fma) return CpuCapability::kGeneric;
  // AVX-512 F (16), DQ (17), BW (30), VL (31), and the OS saving opmask, ZMM_Hi256 and
  // Hi16_ZMM (XCR0 bits 5-7).
  const uint32_t need = (1u << 16) | (1u << 17) | (1u << 30) | (1u << 31);
  if ((b & need) == need && (xcr0 & 0xE0) == 0xE0) return CpuCapability::kAvx512;
  return CpuCapability::kAvx2Fma;
}

// AVX512_BF16 (CPUID.(7,1):EAX bit 5: vdpbf16ps, vcvtne2ps2bf16), on top of the avx512 level.
bool detect_avx512_bf16() {
  if (detect() != CpuCapability::kAvx512) return false;
  unsigned a, b, c, d;
  if (!__get_cpuid_count(7, 1, &a, &b, &c, &d)) return false;
  return a & (1u << 5);
}
#else
CpuCapability detect() {
  return CpuCapability::kGeneric;
}
bool detect_avx512_bf16() {
  return false;
}
#endif

std::atomic<CpuCapability>& current() {
  static std::atomic<CpuCapability> c{cpu_default_capability()};
  return c;
}

}  // namespace

CpuCapability cpu_detected_capability() {
  static const CpuCapability c = detect();
  return c;
}

bool cpu_has_avx512_bf16() {
  static const bool has = detect_avx512_bf16();
  return has;
}

CpuCapability cpu_max_capability() {
  const CpuCapability c = cpu_detected_capability();
  return static_cast<int>(c) < static_cast<int>(kHighestImplementedCapability)
             ? c
             : kHighestImplementedCapability;
}

CpuCapability cpu_default_capability() {
  const CpuCapability c = cpu_max_capability();
  return static_cast<int>(c) < static_cast<int>(kDefaultCeiling) ? c : kDefaultCeiling;
}

CpuCapability cpu_capability() {
  return current().load(std::memory_order_relaxed);
}

bool set_cpu_capability(CpuCapability c) {
  if (static_cast<int>(c) > static_cast<int>(cpu_max_capability())) return false;
  current().store(c, std::memory_order_relaxed);
  return true;
}

const char* capability_name(CpuCapability c) {
  switch (c) {
    case CpuCapability::kGeneric:
      return "generic";
    case CpuCapability::kAvx2Fma:
      return "avx2_fma";
    case CpuCapability::kAvx512:
      return "avx512";
  }
  return "unknown";
}

bool parse_capability(const std::string& name, CpuCapability* out) {
  for (CpuCapability c :
       {CpuCapability::kGeneric, CpuCapability::kAvx2Fma, CpuCapability::kAvx512}) {
    if (name == capability_name(c)) {
      *out = c;
      return true;
    }
  }
  return false;
}

std::vector<CpuCapability> supported_cpu_capabilities() {
  std::vector<CpuCapability> out;
  for (int i = 0; i <= static_cast<int>(cpu_max_capability()); ++i)
    out.push_back(static_cast<CpuCapability>(i));
  return out;
}

std::string apply_cpu_capability_env() {
  const char* v = std::getenv(kCpuCapabilityEnvVar);
  const char* old = std::getenv("GRADCORE_FORCE_GENERIC");  // the variable this one replaced
  if ((v == nullptr || *v == '\0') && old != nullptr && *old != '\0' && std::string(old) != "0")
    return std::string("GRADCORE_FORCE_GENERIC is no longer read: set ") + kCpuCapabilityEnvVar +
           "=generic instead";
  if (v == nullptr || *v == '\0') return "";
  std::string available;
  for (CpuCapability c : supported_cpu_capabilities())
    available += std::string(available.empty() ? "" : ", ") + capability_name(c);
  const std::string head = std::string(kCpuCapabilityEnvVar) + "=" + v + ": ";
  CpuCapability c;
  if (!parse_capability(v, &c))
    return head + "unknown level (known: generic, avx2_fma, avx512); available here: " + available;
  if (!set_cpu_capability(c)) {
    const bool cpu_lacks = static_cast<int>(c) > static_cast<int>(cpu_detected_capability());
    return head +
           (cpu_lacks ? "this CPU does not support it" : "this build has no kernels for it") +
           "; available here: " + available;
  }
  return "";
}

}  // namespace gradcore
