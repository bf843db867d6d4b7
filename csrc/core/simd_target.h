// Function-level SIMD targets. The wheel is compiled without -march flags; a function marked
// GC_TARGET_AVX2 is compiled for AVX2+FMA and must only run when simd_path() (cpu_features.h)
// selects kAvx2Fma. GC_HAVE_AVX2_TARGET says whether this compiler/architecture can build
// such functions at all (GCC or Clang on x86).
#pragma once

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define GC_HAVE_AVX2_TARGET 1
#define GC_TARGET_AVX2 __attribute__((target("avx2,fma")))
#include <immintrin.h>
#else
#define GC_HAVE_AVX2_TARGET 0
#define GC_TARGET_AVX2
#endif

#define GC_ALWAYS_INLINE inline __attribute__((always_inline))
