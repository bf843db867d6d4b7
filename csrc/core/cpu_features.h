// Run-time CPU feature detection: one wheel for any x86-64, AVX2+FMA where the CPU has it.
#pragma once
#include <string>

namespace gradcore {

enum class SimdPath { kGeneric, kAvx2Fma };

// The SIMD path kernels use. kAvx2Fma when the CPU has AVX2 and FMA, unless the
// environment variable GRADCORE_FORCE_GENERIC=1 (or set_simd_path) forces the portable path.
SimdPath simd_path();
void set_simd_path(SimdPath p);  // for tests; falls back to generic if the CPU lacks AVX2+FMA
bool cpu_has_avx2_fma();
const char* simd_path_name(SimdPath p);

}  // namespace gradcore
