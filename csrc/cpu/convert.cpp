#include "cpu/convert.h"

#include "core/cpu_features.h"
#include "core/parallel.h"
#include "cpu/convert_bodies.h"
#include "cpu/elementwise.h"  // kElementwiseGrain
#include "profiler/profiler.h"

namespace gradcore {

// The widest build of the loop the selected path allows (all give the same bits).
void float_to_bfloat16(const float* x, uint16_t* out, int64_t n) {
  GC_PROFILE_SCOPE("float_to_bfloat16", 0.0, 6.0 * n, {n});
  [[maybe_unused]] const bool w512 = at_least(CpuCapability::kAvx512);
  [[maybe_unused]] const bool w256 = at_least(CpuCapability::kAvx2Fma);
  parallel_for(n, kElementwiseGrain, [&](int64_t i0, int64_t i1) {
#if GRADCORE_ISA_AVX512
    if (w512) return avx512::float_to_bfloat16(x, out, i0, i1);
#endif
#if GRADCORE_ISA_AVX2_FMA
    if (w256) return avx2_fma::float_to_bfloat16(x, out, i0, i1);
#endif
    float_to_bfloat16_body(x, out, i0, i1);
  });
}

void bfloat16_to_float(const uint16_t* x, float* out, int64_t n) {
  GC_PROFILE_SCOPE("bfloat16_to_float", 0.0, 6.0 * n, {n});
  [[maybe_unused]] const bool w512 = at_least(CpuCapability::kAvx512);
  [[maybe_unused]] const bool w256 = at_least(CpuCapability::kAvx2Fma);
  parallel_for(n, kElementwiseGrain, [&](int64_t i0, int64_t i1) {
#if GRADCORE_ISA_AVX512
    if (w512) return avx512::bfloat16_to_float(x, out, i0, i1);
#endif
#if GRADCORE_ISA_AVX2_FMA
    if (w256) return avx2_fma::bfloat16_to_float(x, out, i0, i1);
#endif
    bfloat16_to_float_body(x, out, i0, i1);
  });
}

}  // namespace gradcore
