#include "cpu/convert.h"

#include "core/cpu_features.h"
#include "core/parallel.h"
#include "cpu/convert_bodies.h"
#include "cpu/elementwise.h"  // kElementwiseGrain
#include "profiler/profiler.h"

namespace gradcore {
namespace {

template <typename In, typename Out>
using Loop = void (*)(const In*, Out*, int64_t, int64_t);

// The ISA builds of a loop, or null where this build has no such ISA file.
#if GRADCORE_ISA_AVX2_FMA
#define GC_AVX2_LOOP(name) &avx2_fma::name
#else
#define GC_AVX2_LOOP(name) nullptr
#endif
#if GRADCORE_ISA_AVX512
#define GC_AVX512_LOOP(name) &avx512::name
#else
#define GC_AVX512_LOOP(name) nullptr
#endif

// Runs the widest build of a loop that the selected path allows (all give the same bits) over
// [0, n), split across the threads.
template <typename In, typename Out>
void run_widest(const In* x, Out* out, int64_t n, Loop<In, Out> portable, Loop<In, Out> w256,
                Loop<In, Out> w512) {
  Loop<In, Out> loop = portable;
  if (w256 && at_least(CpuCapability::kAvx2Fma)) loop = w256;
  if (w512 && at_least(CpuCapability::kAvx512)) loop = w512;
  parallel_for(n, kElementwiseGrain, [&](int64_t i0, int64_t i1) { loop(x, out, i0, i1); });
}

}  // namespace

void float_to_bfloat16(const float* x, uint16_t* out, int64_t n) {
  GC_PROFILE_SCOPE("float_to_bfloat16", 0.0, 6.0 * n, {n});
  run_widest(x, out, n, &float_to_bfloat16_body, GC_AVX2_LOOP(float_to_bfloat16),
             GC_AVX512_LOOP(float_to_bfloat16));
}

void bfloat16_to_float(const uint16_t* x, float* out, int64_t n) {
  GC_PROFILE_SCOPE("bfloat16_to_float", 0.0, 6.0 * n, {n});
  run_widest(x, out, n, &bfloat16_to_float_body, GC_AVX2_LOOP(bfloat16_to_float),
             GC_AVX512_LOOP(bfloat16_to_float));
}

void round_to_bfloat16(const float* x, float* out, int64_t n) {
  GC_PROFILE_SCOPE("round_to_bfloat16", 0.0, 8.0 * n, {n});
  run_widest(x, out, n, &round_to_bfloat16_body, GC_AVX2_LOOP(round_to_bfloat16),
             GC_AVX512_LOOP(round_to_bfloat16));
}

}  // namespace gradcore
