// The im2col / col2im loops, shared by im2col.cpp (portable) and im2col_avx2_fma.cpp (the same
// loops compiled for AVX2), and the AVX2 entry points.
//
// Everything here has internal linkage (anonymous namespace) and uses no STL, so the -mavx2
// copies are never merged with the portable ones (ISA rule: CMakeLists.txt, "ISA files").
#pragma once
#include <cstdint>

#include "cpu/im2col.h"

namespace gradcore {
namespace {

inline int64_t min_i64(int64_t a, int64_t b) {
  return a < b ? a : b;
}
inline int64_t max_i64(int64_t a, int64_t b) {
  return a < b ? b : a;
}
// v clamped to [lo, hi] (as std::clamp).
inline int64_t clamp_i64(int64_t v, int64_t lo, int64_t hi) {
  return v < lo ? lo : (hi < v ? hi : v);
}

// floor(a / b) for b > 0.
inline int64_t floor_div(int64_t a, int64_t b) {
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}

// Output columns ow in [lo, hi) read an input column iw = ow*sw - pw + s*dw inside [0, W).
inline void valid_ow(const Window2d& g, int64_t s, int64_t* lo, int64_t* hi) {
  const int64_t off = s * g.dw - g.pw;  // iw = ow*sw + off
  // ow*sw + off >= 0  <=>  ow >= ceil(-off / sw)
  int64_t l = off >= 0 ? 0 : (-off + g.sw - 1) / g.sw;
  // ow*sw + off <= W - 1  <=>  ow <= floor((W - 1 - off) / sw)
  int64_t h = floor_div(g.W - 1 - off, g.sw) + 1;
  l = min_i64(max_i64(l, 0), g.OW);
  h = min_i64(max_i64(h, l), g.OW);
  *lo = l;
  *hi = h;
}

// Stride 1 with OW == W ("same" width): for a fixed (c, r, s) the valid output rows read one
// contiguous stretch of the input plane, so the copy (or the accumulation) is one long
// vectorised loop; the columns that wrap around a row edge are masked out (written as zeros by
// im2col, added as nothing by col2im) with per-column lane masks (column_masks).
inline bool contiguous_rows(const Window2d& g) {
  return g.sh == 1 && g.sw == 1 && g.OW == g.W;
}

// Lane masks as wide as T (so the masked loops vectorise): all ones selects.
template <int kBytes>
struct MaskOfSize;
template <>
struct MaskOfSize<2> {
  using type = int16_t;
};
template <>
struct MaskOfSize<4> {
  using type = int32_t;
};
template <>
struct MaskOfSize<8> {
  using type = int64_t;
};
template <typename T>
using Mask = typename MaskOfSize<sizeof(T)>::type;

// v where the mask is all ones, else zero. For bfloat16 bits a bitwise and: a select with a
// load in one branch vectorises only where the ISA has masked loads of that width (AVX2 has
// none for 16 bits), and [u0, u1) below only reads inside the plane anyway.
template <typename T>
inline T masked(Mask<T> m, T v) {
  if constexpr (sizeof(T) == 2)
    return static_cast<T>(v & static_cast<T>(m));
  else
    return m ? v : T(0);
}

// The loops. mask: for contiguous_rows(g), mask[s*OWp + t] (t < OWp = (oh1-oh0)*OW) is all
// ones where column t % OW reads inside the plane for kernel column s, zero where it reads the
// padding (im2col.cpp's column_masks); null otherwise.
template <typename T>
inline __attribute__((always_inline)) void im2col_body(const Window2d& g, int64_t C, const T* x,
                                                       int64_t oh0, int64_t oh1, T* col,
                                                       int64_t ldcol, const Mask<T>* mask) {
  const int64_t OW = g.OW, H = g.H, W = g.W, sw = g.sw;
  const bool contiguous = contiguous_rows(g);
  const int64_t OWp = (oh1 - oh0) * OW;
  for (int64_t c = 0; c < C; ++c) {
    const T* xc = x + c * H * W;
    for (int64_t r = 0; r < g.R; ++r) {
      const int64_t rofs = r * g.dh - g.ph;  // ih = oh*sh + rofs
      for (int64_t s = 0; s < g.S; ++s) {
        T* dst = col + ((c * g.R + r) * g.S + s) * ldcol;
        int64_t lo, hi;
        valid_ow(g, s, &lo, &hi);
        const int64_t off = s * g.dw - g.pw;
        if (contiguous) {
          // valid output rows [a, b): 0 <= oh + rofs < H; within them one masked copy
          const int64_t a = clamp_i64(-rofs, oh0, oh1);
          const int64_t b = clamp_i64(H - rofs, a, oh1);
          const int64_t t0 = (a - oh0) * OW, t1 = max_i64(t0, (b - oh0) * OW);
          for (int64_t t = 0; t < t0; ++t) dst[t] = T(0);
          if (b > a && hi > lo) {
            // dst[t] = src[t] for the columns lo <= ow < hi, else 0; src[t] stays in the plane
            // for t in [t0 + lo, t1 - OW + hi), the only range read.
            const int64_t u0 = t0 + lo, u1 = t1 - OW + hi;
            const T* src = xc + rofs * W + off;  // dst[t] = src[t] (t counted from row oh0)
            const Mask<T>* m = mask + s * OWp;
            for (int64_t t = t0; t < u0; ++t) dst[t] = T(0);
            for (int64_t t = u0; t < u1; ++t) dst[t] = masked(m[t], src[t + oh0 * OW]);
            for (int64_t t = max_i64(u0, u1); t < t1; ++t) dst[t] = T(0);
          } else {
            for (int64_t t = t0; t < t1; ++t) dst[t] = T(0);
          }
          for (int64_t t = t1; t < (oh1 - oh0) * OW; ++t) dst[t] = T(0);
          continue;
        }
        for (int64_t oh = oh0; oh < oh1; ++oh, dst += OW) {
          const int64_t ih = oh * g.sh + rofs;
          if (ih < 0 || ih >= H) {
            for (int64_t ow = 0; ow < OW; ++ow) dst[ow] = T(0);
            continue;
          }
          const T* src = xc + ih * W;  // dst[ow] = src[ow*sw + off]
          for (int64_t ow = 0; ow < lo; ++ow) dst[ow] = T(0);
          if (sw == 1) {
            for (int64_t ow = lo; ow < hi; ++ow) dst[ow] = src[ow + off];
          } else if (sw == 2) {
            for (int64_t ow = lo; ow < hi; ++ow) dst[ow] = src[2 * ow + off];
          } else {
            for (int64_t ow = lo; ow < hi; ++ow) dst[ow] = src[ow * sw + off];
          }
          for (int64_t ow = hi; ow < OW; ++ow) dst[ow] = T(0);
        }
      }
    }
  }
}

template <typename T>
inline __attribute__((always_inline)) void col2im_body(const Window2d& g, int64_t C, T* col,
                                                       int64_t ldcol, int64_t oh0, int64_t oh1,
                                                       T* x, const Mask<T>* mask) {
  const int64_t OW = g.OW, H = g.H, W = g.W, sw = g.sw;
  const bool contiguous = contiguous_rows(g);
  const int64_t OWp = (oh1 - oh0) * OW;
  for (int64_t c = 0; c < C; ++c) {
    T* xc = x + c * H * W;
    for (int64_t r = 0; r < g.R; ++r) {
      const int64_t rofs = r * g.dh - g.ph;
      for (int64_t s = 0; s < g.S; ++s) {
        T* src = col + ((c * g.R + r) * g.S + s) * ldcol;
        int64_t lo, hi;
        valid_ow(g, s, &lo, &hi);
        const int64_t off = s * g.dw - g.pw;
        if (contiguous) {
          const int64_t a = clamp_i64(-rofs, oh0, oh1);
          const int64_t b = clamp_i64(H - rofs, a, oh1);
          if (b <= a || hi <= lo) continue;
          // x[t + off'] += src[t] for the columns lo <= ow < hi of rows [a, b) (masked: the
          // columns that read padding add nothing), one pass over the whole stretch.
          const int64_t u0 = (a - oh0) * OW + lo, u1 = (b - 1 - oh0) * OW + hi;
          T* dst = xc + rofs * W + off + oh0 * OW;  // dst[t] += src[t]
          const Mask<T>* m = mask + s * OWp;
          for (int64_t t = u0; t < u1; ++t) dst[t] += m[t] ? src[t] : T(0);
          continue;
        }
        for (int64_t oh = oh0; oh < oh1; ++oh, src += OW) {
          const int64_t ih = oh * g.sh + rofs;
          if (ih < 0 || ih >= H) continue;
          T* dst = xc + ih * W;  // dst[ow*sw + off] += src[ow]
          if (sw == 1) {
            for (int64_t ow = lo; ow < hi; ++ow) dst[ow + off] += src[ow];
          } else {
            for (int64_t ow = lo; ow < hi; ++ow) dst[ow * sw + off] += src[ow];
          }
        }
      }
    }
  }
}

}  // namespace

namespace avx2_fma {
// im2col / col2im_add for output rows [oh0, oh1) (im2col.h) with the column masks as above.
void im2col(const Window2d& g, int64_t C, const float* x, int64_t oh0, int64_t oh1, float* col,
            int64_t ldcol, const int32_t* mask);
void im2col(const Window2d& g, int64_t C, const double* x, int64_t oh0, int64_t oh1, double* col,
            int64_t ldcol, const int64_t* mask);
void im2col(const Window2d& g, int64_t C, const uint16_t* x, int64_t oh0, int64_t oh1,
            uint16_t* col, int64_t ldcol, const int16_t* mask);
void col2im_add(const Window2d& g, int64_t C, float* col, int64_t ldcol, int64_t oh0, int64_t oh1,
                float* x, const int32_t* mask);
void col2im_add(const Window2d& g, int64_t C, double* col, int64_t ldcol, int64_t oh0, int64_t oh1,
                double* x, const int64_t* mask);
}  // namespace avx2_fma

}  // namespace gradcore
