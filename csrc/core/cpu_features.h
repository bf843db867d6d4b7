// CPU capability: what the CPU (and OS) can run, what this build implements, and which path
// the kernels use. One wheel runs on any x86-64 and takes the best path it has.
//
// The levels are ordered, generic < avx2_fma < avx512: code asks at_least(level), never for
// equality, so a CPU above the highest implemented path still gets the best one there is.
// ISA dispatch rule (see CMakeLists.txt, "ISA files"): code for one level lives in
// `*_<isa>.cpp` files compiled with that level's flags, inside a namespace of its own; the
// portable code calls it through plain declarations after an at_least() check and never
// includes intrinsics itself.
#pragma once
#include <string>
#include <vector>

namespace gradcore {

enum class CpuCapability : int { kGeneric = 0, kAvx2Fma = 1, kAvx512 = 2 };

// The highest level this build has kernels for (the ISA files CMake compiled; on x86-64 both).
// The avx512 path runs its own GEMM (and conv packers) and, by at_least(), the AVX2 code of
// every other kernel.
#if GRADCORE_ISA_AVX512 && GRADCORE_ISA_AVX2_FMA
constexpr CpuCapability kHighestImplementedCapability = CpuCapability::kAvx512;
#elif GRADCORE_ISA_AVX2_FMA
constexpr CpuCapability kHighestImplementedCapability = CpuCapability::kAvx2Fma;
#else
constexpr CpuCapability kHighestImplementedCapability = CpuCapability::kGeneric;
#endif

// Default-selection policy: the highest level the kernels use unless asked for less (a lower
// value here would make higher levels opt-in). avx512 is the default where the CPU has it
// since its figures held on an idle Zen 4 (issue 17): cnn-small's training step 1.02-1.04x
// (1 thread) and 1.08-1.10x (2 threads) of avx2_fma's speed, paired; conv forward 1.01-1.36x,
// forward+backward >= 0.99x on 11 of 12 cells; GEMM 0.96-1.19x. Results are those of
// avx2_fma, bitwise (same accumulation order in GEMM and conv).
constexpr CpuCapability kDefaultCeiling = kHighestImplementedCapability;

// The environment variable that selects a path at import time: generic|avx2_fma|avx512.
constexpr const char* kCpuCapabilityEnvVar = "GRADCORE_CPU_CAPABILITY";

// The highest level the CPU and OS support (AVX2+FMA; AVX-512 F+BW+VL+DQ with the OS saving
// the ZMM state), whatever this build implements. Detected once.
CpuCapability cpu_detected_capability();

// Whether the CPU has AVX512_BF16 (vdpbf16ps) on top of the avx512 level: an extension the
// bfloat16 GEMM uses when the avx512 path is selected, not a level of its own.
bool cpu_has_avx512_bf16();

// The highest level this CPU and this build can both run: min(detected, implemented).
CpuCapability cpu_max_capability();

// The level selected at start: min(cpu_max_capability(), kDefaultCeiling).
CpuCapability cpu_default_capability();

// The level the kernels use now (default: cpu_default_capability()).
CpuCapability cpu_capability();

// Kernels for level c may run: the selected level is c or above.
inline bool at_least(CpuCapability c) {
  return static_cast<int>(cpu_capability()) >= static_cast<int>(c);
}

// Selects level c; false (and no change) when c is above cpu_max_capability().
bool set_cpu_capability(CpuCapability c);

// "generic", "avx2_fma", "avx512".
const char* capability_name(CpuCapability c);

// The level named `name`; false when the name is unknown.
bool parse_capability(const std::string& name, CpuCapability* out);

// Every level from generic up to cpu_max_capability(), in increasing order.
std::vector<CpuCapability> supported_cpu_capabilities();

// Applies GRADCORE_CPU_CAPABILITY if set. Returns "" on success (or when unset), else a
// message naming the variable, the level asked and the levels available (or, for the
// replaced GRADCORE_FORCE_GENERIC=1 alone, what to set instead).
std::string apply_cpu_capability_env();

}  // namespace gradcore
