#include "cpu/im2col.h"

#include <algorithm>
#include <cstring>

#include "profiler/profiler.h"

namespace gradcore {
namespace {

// floor(a / b) for b > 0.
inline int64_t floor_div(int64_t a, int64_t b) {
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}

// Output columns ow in [lo, hi) read an input column iw = ow*sw - pw + s*dw inside [0, W).
inline void valid_ow(const ConvGeom& g, int64_t s, int64_t* lo, int64_t* hi) {
  const int64_t off = s * g.dw - g.pw;  // iw = ow*sw + off
  // ow*sw + off >= 0  <=>  ow >= ceil(-off / sw)
  int64_t l = off >= 0 ? 0 : (-off + g.sw - 1) / g.sw;
  // ow*sw + off <= W - 1  <=>  ow <= floor((W - 1 - off) / sw)
  int64_t h = floor_div(g.W - 1 - off, g.sw) + 1;
  l = std::min(std::max<int64_t>(l, 0), g.OW);
  h = std::min(std::max<int64_t>(h, l), g.OW);
  *lo = l;
  *hi = h;
}

}  // namespace

template <typename T>
void im2col(const ConvGeom& g, int64_t C, const T* x, int64_t oh0, int64_t oh1, T* col,
            int64_t ldcol) {
  GC_PROFILE_SCOPE("im2col", 0, sizeof(T) * C * g.R * g.S * (oh1 - oh0) * g.OW * 2, {C, g.H, g.W},
                   {g.R, g.S, oh1 - oh0, g.OW});
  const int64_t OW = g.OW, H = g.H, W = g.W, sw = g.sw;
  for (int64_t c = 0; c < C; ++c) {
    const T* xc = x + c * H * W;
    for (int64_t r = 0; r < g.R; ++r) {
      for (int64_t s = 0; s < g.S; ++s) {
        T* dst = col + ((c * g.R + r) * g.S + s) * ldcol;
        int64_t lo, hi;
        valid_ow(g, s, &lo, &hi);
        const int64_t off = s * g.dw - g.pw;
        for (int64_t oh = oh0; oh < oh1; ++oh, dst += OW) {
          const int64_t ih = oh * g.sh - g.ph + r * g.dh;
          if (ih < 0 || ih >= H) {
            std::fill(dst, dst + OW, T(0));
            continue;
          }
          const T* src = xc + ih * W;  // dst[ow] = src[ow*sw + off]
          for (int64_t ow = 0; ow < lo; ++ow) dst[ow] = T(0);
          if (sw == 1) {
            if (hi > lo) std::memcpy(dst + lo, src + lo + off, sizeof(T) * (hi - lo));
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
void col2im_add(const ConvGeom& g, int64_t C, const T* col, int64_t ldcol, int64_t oh0, int64_t oh1,
                T* x) {
  GC_PROFILE_SCOPE("col2im", C * g.R * g.S * (oh1 - oh0) * g.OW,
                   sizeof(T) * C * g.R * g.S * (oh1 - oh0) * g.OW * 3, {C, g.H, g.W},
                   {g.R, g.S, oh1 - oh0, g.OW});
  const int64_t OW = g.OW, H = g.H, W = g.W, sw = g.sw;
  for (int64_t c = 0; c < C; ++c) {
    T* xc = x + c * H * W;
    for (int64_t r = 0; r < g.R; ++r) {
      for (int64_t s = 0; s < g.S; ++s) {
        const T* src = col + ((c * g.R + r) * g.S + s) * ldcol;
        int64_t lo, hi;
        valid_ow(g, s, &lo, &hi);
        const int64_t off = s * g.dw - g.pw;
        for (int64_t oh = oh0; oh < oh1; ++oh, src += OW) {
          const int64_t ih = oh * g.sh - g.ph + r * g.dh;
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

template void im2col<float>(const ConvGeom&, int64_t, const float*, int64_t, int64_t, float*,
                            int64_t);
template void im2col<double>(const ConvGeom&, int64_t, const double*, int64_t, int64_t, double*,
                             int64_t);
template void col2im_add<float>(const ConvGeom&, int64_t, const float*, int64_t, int64_t, int64_t,
                                float*);
template void col2im_add<double>(const ConvGeom&, int64_t, const double*, int64_t, int64_t, int64_t,
                                 double*);

}  // namespace gradcore
