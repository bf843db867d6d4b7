// The direct convolution kernels of conv_direct.h for one image. An ISA file: compiled with
// the avx512 flags and called only when at_least(CpuCapability::kAvx512) (rules:
// CMakeLists.txt, "ISA files").
//
// Both walk the output rows in vectors of 16 pixels (a last one masked) and load tap j of
// those pixels as one unaligned load at xp + off[j] + oh*Wp + ow0 of the zero-padded image
// (which has 16 floats of slack after it); lanes past the row's end are never stored. TAPS is a
// template parameter so that the taps and accumulators stay in zmm registers.
#if !defined(__AVX512F__)
#error "conv_direct_avx512.cpp must be compiled with the avx512 flags (CMakeLists.txt, ISA files)"
#endif
#include <immintrin.h>

#include "cpu/conv_direct.h"

namespace gradcore::avx512 {
namespace {

inline __mmask16 first(int64_t n) {
  return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1);
}

template <int TAPS>
void forward(const DirectImage& g, const float* xp, const float* w, const float* bias, float* y) {
  const int64_t P = g.OH * g.OW;
  for (int64_t oh = 0; oh < g.OH; ++oh)
    for (int64_t ow0 = 0; ow0 < g.OW; ow0 += 16) {
      const __mmask16 m = first(g.OW - ow0);
      const float* base = xp + oh * g.Wp + ow0;
      __m512 t[TAPS];
#pragma GCC unroll 16
      for (int j = 0; j < TAPS; ++j) t[j] = _mm512_loadu_ps(base + g.off[j]);
      float* out = y + oh * g.OW + ow0;
      for (int64_t k = 0; k < g.K; ++k) {
        const float* wk = w + k * TAPS;
        __m512 acc = _mm512_set1_ps(bias ? bias[k] : 0.0f);
#pragma GCC unroll 16
        for (int j = 0; j < TAPS; ++j) acc = _mm512_fmadd_ps(_mm512_set1_ps(wk[j]), t[j], acc);
        if (m == 0xFFFF)
          _mm512_storeu_ps(out + k * P, acc);
        else
          _mm512_mask_storeu_ps(out + k * P, m, acc);
      }
    }
}

// KB filters at a time: KB x TAPS accumulators, TAPS taps and KB dy vectors in registers.
template <int TAPS, int KB>
void weight_grad_block(const DirectImage& g, const float* xp, const float* dy, float* dw) {
  const int64_t P = g.OH * g.OW;
  __m512 acc[KB][TAPS];
#pragma GCC unroll 16
  for (int b = 0; b < KB; ++b)
#pragma GCC unroll 16
    for (int j = 0; j < TAPS; ++j) acc[b][j] = _mm512_setzero_ps();
  for (int64_t oh = 0; oh < g.OH; ++oh)
    for (int64_t ow0 = 0; ow0 < g.OW; ow0 += 16) {
      const __mmask16 m = first(g.OW - ow0);
      const float* base = xp + oh * g.Wp + ow0;
      __m512 d[KB];
      if (m == 0xFFFF) {
#pragma GCC unroll 16
        for (int b = 0; b < KB; ++b) d[b] = _mm512_loadu_ps(dy + b * P + oh * g.OW + ow0);
#pragma GCC unroll 16
        for (int j = 0; j < TAPS; ++j) {
          const __m512 t = _mm512_loadu_ps(base + g.off[j]);
#pragma GCC unroll 16
          for (int b = 0; b < KB; ++b) acc[b][j] = _mm512_fmadd_ps(d[b], t, acc[b][j]);
        }
        continue;
      }
#pragma GCC unroll 16
      for (int b = 0; b < KB; ++b) d[b] = _mm512_maskz_loadu_ps(m, dy + b * P + oh * g.OW + ow0);
#pragma GCC unroll 16
      for (int j = 0; j < TAPS; ++j) {  // masked: 0 * a junk lane's inf would be NaN
        const __m512 t = _mm512_maskz_loadu_ps(m, base + g.off[j]);
#pragma GCC unroll 16
        for (int b = 0; b < KB; ++b) acc[b][j] = _mm512_fmadd_ps(d[b], t, acc[b][j]);
      }
    }
#pragma GCC unroll 16
  for (int b = 0; b < KB; ++b)
#pragma GCC unroll 16
    for (int j = 0; j < TAPS; ++j) dw[b * TAPS + j] += _mm512_reduce_add_ps(acc[b][j]);
}

template <int TAPS>
void weight_grad(const DirectImage& g, const float* xp, const float* dy, float* dw) {
  constexpr int KB = 3 * TAPS + 2 <= 32 ? 2 : 1;  // registers: KB*TAPS + TAPS + KB
  const int64_t P = g.OH * g.OW;
  int64_t k = 0;
  for (; k + KB <= g.K; k += KB) weight_grad_block<TAPS, KB>(g, xp, dy + k * P, dw + k * TAPS);
  for (; k < g.K; ++k) weight_grad_block<TAPS, 1>(g, xp, dy + k * P, dw + k * TAPS);
}

}  // namespace

#define GC_DIRECT_TAPS(X) \
  X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15) X(16)

void direct_forward_image(const DirectImage& g, const float* xp, const float* w, const float* bias,
                          float* y) {
  switch (g.taps) {
#define GC_CASE(T) \
  case T:          \
    return forward<T>(g, xp, w, bias, y);
    GC_DIRECT_TAPS(GC_CASE)
#undef GC_CASE
    default:
      return;
  }
}

void direct_weight_grad_image(const DirectImage& g, const float* xp, const float* dy, float* dw) {
  switch (g.taps) {
#define GC_CASE(T) \
  case T:          \
    return weight_grad<T>(g, xp, dy, dw);
    GC_DIRECT_TAPS(GC_CASE)
#undef GC_CASE
    default:
      return;
  }
}
#undef GC_DIRECT_TAPS

}  // namespace gradcore::avx512
