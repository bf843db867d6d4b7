// long-file: ISA code being moved out into *_<isa>.cpp files (issue 15)
// Pooling kernels, forward and backward side by side. Parallel over N*C planes.
#include "cpu/pool.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <type_traits>

#include "core/cpu_features.h"
#include "core/parallel.h"
#include "cpu/pool_2x2.h"
#include "profiler/profiler.h"

namespace gradcore {
namespace {

// Planes per thread worth a thread: about 64K elements of work.
inline int64_t plane_grain(int64_t per_plane) {
  return std::max<int64_t>(1, (int64_t{1} << 16) / std::max<int64_t>(per_plane, 1));
}

inline int64_t adaptive_start(int64_t i, int64_t in, int64_t out) {
  return (i * in) / out;
}
inline int64_t adaptive_end(int64_t i, int64_t in, int64_t out) {
  return ((i + 1) * in + out - 1) / out;
}

// NaN-propagating "better than the current max" (PyTorch: val > max || isnan(val)).
template <typename T>
inline bool takes_max(T v, T m) {
  return v > m || v != v;
}

template <typename T>
void max_pool_2x2_plane(const T* x, int64_t H, int64_t W, int64_t OH, int64_t OW, T* y,
                        int64_t* ind) {
#if GRADCORE_ISA_AVX2_FMA
  if (at_least(CpuCapability::kAvx2Fma)) {
    if constexpr (std::is_same_v<T, float>)
      if (H * W < (int64_t{1} << 31)) return avx2_fma::max_pool_2x2_i32(x, W, OH, OW, y, ind);
    return avx2_fma::max_pool_2x2(x, W, OH, OW, y, ind);
  }
#endif
  max_pool_2x2_body(x, W, OH, OW, y, ind);
}

template <typename T>
bool max_unpool_2x2_plane(const T* g, const int64_t* ind, int64_t H, int64_t W, int64_t OH,
                          int64_t OW, T* d) {
#if GRADCORE_ISA_AVX2_FMA
  if (at_least(CpuCapability::kAvx2Fma)) {
    if constexpr (std::is_same_v<T, float>)
      return avx2_fma::max_unpool_2x2_i32(g, ind, H, W, OH, OW, d);
    else
      return avx2_fma::max_unpool_2x2(g, ind, H, W, OH, OW, d);
  }
#endif
  return max_unpool_2x2_body(g, ind, H, W, OH, OW, d);
}

template <typename T>
void max_pool_plane(const Window2d& p, const T* x, T* y, int64_t* ind) {
  const int64_t H = p.H, W = p.W;
  for (int64_t oh = 0; oh < p.OH; ++oh) {
    int64_t ih0 = oh * p.sh - p.ph;
    const int64_t ih1 = std::min(ih0 + (p.R - 1) * p.dh + 1, H);
    if (ih0 < 0) ih0 += (-ih0 + p.dh - 1) / p.dh * p.dh;  // first tap inside the input
    for (int64_t ow = 0; ow < p.OW; ++ow) {
      int64_t iw0 = ow * p.sw - p.pw;
      const int64_t iw1 = std::min(iw0 + (p.S - 1) * p.dw + 1, W);
      if (iw0 < 0) iw0 += (-iw0 + p.dw - 1) / p.dw * p.dw;
      int64_t k = ih0 * W + iw0;
      T m = -std::numeric_limits<T>::infinity();
      for (int64_t ih = ih0; ih < ih1; ih += p.dh) {
        for (int64_t iw = iw0; iw < iw1; iw += p.dw) {
          const T v = x[ih * W + iw];
          if (takes_max(v, m)) m = v, k = ih * W + iw;
        }
      }
      y[oh * p.OW + ow] = m;
      ind[oh * p.OW + ow] = k;
    }
  }
}

template <typename T>
void avg_pool_2x2_plane(const T* x, int64_t W, int64_t OH, int64_t OW, T div, T* y) {
#if GRADCORE_ISA_AVX2_FMA
  if (at_least(CpuCapability::kAvx2Fma)) return avx2_fma::avg_pool_2x2(x, W, OH, OW, div, y);
#endif
  avg_pool_2x2_body(x, W, OH, OW, div, y);
}
template <typename T>
void avg_unpool_2x2_plane(const T* g, int64_t H, int64_t W, int64_t OH, int64_t OW, T div, T* d) {
#if GRADCORE_ISA_AVX2_FMA
  if (at_least(CpuCapability::kAvx2Fma)) return avx2_fma::avg_unpool_2x2(g, H, W, OH, OW, div, d);
#endif
  avg_unpool_2x2_body(g, H, W, OH, OW, div, d);
}

// 2x2 windows, stride 2, no padding or dilation, every window inside the plane.
inline bool is_2x2_cells(const Window2d& p) {
  return p.R == 2 && p.S == 2 && p.sh == 2 && p.sw == 2 && p.ph == 0 && p.pw == 0 && p.dh == 1 &&
         p.dw == 1 && p.OH == p.H / 2 && p.OW == p.W / 2;
}

// PyTorch's average-pool window: [h0, h1) x [w0, w1) clipped to the input, and its divisor.
struct AvgWindow {
  int64_t h0, h1, w0, w1, divisor;
};

inline AvgWindow avg_window(const Window2d& p, bool count_include_pad, int64_t divisor_override,
                            int64_t oh, int64_t ow) {
  int64_t h0 = oh * p.sh - p.ph, w0 = ow * p.sw - p.pw;
  int64_t h1 = std::min(h0 + p.R, p.H + p.ph), w1 = std::min(w0 + p.S, p.W + p.pw);
  const int64_t pool_size = (h1 - h0) * (w1 - w0);
  h0 = std::max<int64_t>(h0, 0);
  w0 = std::max<int64_t>(w0, 0);
  h1 = std::min(h1, p.H);
  w1 = std::min(w1, p.W);
  int64_t div = divisor_override > 0 ? divisor_override
                : count_include_pad  ? pool_size
                                     : (h1 - h0) * (w1 - w0);
  return AvgWindow{h0, h1, w0, w1, div};
}

}  // namespace

template <typename T>
void max_pool2d_forward(const Window2d& p, const T* x, T* y, int64_t* idx) {
  GC_PROFILE_SCOPE("max_pool2d_forward", p.N * p.C * p.OH * p.OW * p.R * p.S,
                   p.N * p.C * (sizeof(T) * (p.H * p.W + p.OH * p.OW) + 8 * p.OH * p.OW),
                   {p.N, p.C, p.H, p.W}, {p.R, p.S}, {p.N, p.C, p.OH, p.OW});
  const int64_t HW = p.H * p.W, P = p.OH * p.OW;
  const bool fast = is_2x2_cells(p);
  parallel_for(p.N * p.C, plane_grain(HW + P * p.R * p.S), [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      if (fast)
        max_pool_2x2_plane(x + c * HW, p.H, p.W, p.OH, p.OW, y + c * P, idx + c * P);
      else
        max_pool_plane(p, x + c * HW, y + c * P, idx + c * P);
    }
  });
}

template <typename T>
int64_t max_pool2d_backward(int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW,
                            const T* dy, const int64_t* idx, T* dx) {
  GC_PROFILE_SCOPE("max_pool2d_backward", planes * OH * OW,
                   planes * (sizeof(T) * (H * W + OH * OW) + 8 * OH * OW), {planes, H, W},
                   {planes, OH, OW});
  const int64_t HW = H * W, P = OH * OW;
  // When the outputs tile the plane in 2x2 cells, each index usually lies in its own cell:
  // then every dx element is written exactly once, with no zeroing pass.
  const bool cells = OH == H / 2 && OW == W / 2 && OH > 0 && OW > 0;
  std::atomic<int64_t> bad{0};
  parallel_for(planes, plane_grain(HW + P), [&](int64_t c0, int64_t c1) {
    int64_t nbad = 0;
    for (int64_t c = c0; c < c1; ++c) {
      const T* g = dy + c * P;
      const int64_t* ind = idx + c * P;
      T* d = dx + c * HW;
      const bool done = cells && max_unpool_2x2_plane(g, ind, H, W, OH, OW, d);
      if (!done) {
        std::fill(d, d + HW, T(0));
        for (int64_t o = 0; o < P; ++o) {
          const int64_t k = ind[o];
          if (k >= 0 && k < HW)
            d[k] += g[o];
          else
            ++nbad;
        }
      }
    }
    if (nbad) bad.fetch_add(nbad, std::memory_order_relaxed);
  });
  return bad.load();
}

template <typename T>
void max_pool2d_relu_forward_serial(int64_t planes, int64_t H, int64_t W, const T* x, T* y,
                                    uint8_t* cell) {
  const int64_t OH = H / 2, OW = W / 2, HW = H * W, P = OH * OW;
  for (int64_t c = 0; c < planes; ++c) {
#if GRADCORE_ISA_AVX2_FMA
    if (at_least(CpuCapability::kAvx2Fma)) {
      avx2_fma::max_pool_relu_2x2(x + c * HW, W, OH, OW, y + c * P, cell + c * P);
      continue;
    }
#endif
    max_pool_relu_2x2_body(x + c * HW, W, OH, OW, y + c * P, cell + c * P);
  }
}

template <typename T>
void max_pool2d_relu_forward(int64_t planes, int64_t H, int64_t W, const T* x, T* y,
                             uint8_t* cell) {
  const int64_t OH = H / 2, OW = W / 2, HW = H * W, P = OH * OW;
  GC_PROFILE_SCOPE("max_pool2d_relu_forward", planes * P * 4, planes * (sizeof(T) * (HW + P) + P),
                   {planes, H, W}, {planes, OH, OW});
  parallel_for(planes, plane_grain(HW + P), [&](int64_t c0, int64_t c1) {
    max_pool2d_relu_forward_serial(c1 - c0, H, W, x + c0 * HW, y + c0 * P, cell + c0 * P);
  });
}

template <typename T>
int64_t max_pool2d_relu_backward_serial(int64_t planes, int64_t H, int64_t W, const T* dy,
                                        const uint8_t* cell, T* dx) {
  const int64_t OH = H / 2, OW = W / 2, HW = H * W, P = OH * OW;
  int64_t nbad = 0;
  for (int64_t c = 0; c < planes; ++c) {
    const uint8_t* co = cell + c * P;
    for (int64_t o = 0; o < P; ++o) nbad += co[o] > kNoGrad;
#if GRADCORE_ISA_AVX2_FMA
    if (at_least(CpuCapability::kAvx2Fma)) {
      avx2_fma::max_unpool_relu_2x2(dy + c * P, co, H, W, OH, OW, dx + c * HW);
      continue;
    }
#endif
    max_unpool_relu_2x2_body(dy + c * P, co, H, W, OH, OW, dx + c * HW);
  }
  return nbad;
}

template <typename T>
int64_t max_pool2d_relu_backward(int64_t planes, int64_t H, int64_t W, const T* dy,
                                 const uint8_t* cell, T* dx) {
  const int64_t OH = H / 2, OW = W / 2, HW = H * W, P = OH * OW;
  GC_PROFILE_SCOPE("max_pool2d_relu_backward", planes * P, planes * (sizeof(T) * (HW + P) + P),
                   {planes, OH, OW}, {planes, H, W});
  std::atomic<int64_t> bad{0};
  parallel_for(planes, plane_grain(HW + P), [&](int64_t c0, int64_t c1) {
    const int64_t nbad =
        max_pool2d_relu_backward_serial(c1 - c0, H, W, dy + c0 * P, cell + c0 * P, dx + c0 * HW);
    if (nbad) bad.fetch_add(nbad, std::memory_order_relaxed);
  });
  return bad.load();
}

template <typename T>
void avg_pool2d_forward(const Window2d& p, bool count_include_pad, int64_t divisor_override,
                        const T* x, T* y) {
  GC_PROFILE_SCOPE("avg_pool2d_forward", p.N * p.C * p.OH * p.OW * p.R * p.S,
                   sizeof(T) * p.N * p.C * (p.H * p.W + p.OH * p.OW), {p.N, p.C, p.H, p.W},
                   {p.R, p.S}, {p.N, p.C, p.OH, p.OW});
  const int64_t HW = p.H * p.W, P = p.OH * p.OW;
  if (is_2x2_cells(p)) {
    const T div = static_cast<T>(divisor_override > 0 ? divisor_override : 4);
    parallel_for(p.N * p.C, plane_grain(HW + P), [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c)
        avg_pool_2x2_plane(x + c * HW, p.W, p.OH, p.OW, div, y + c * P);
    });
    return;
  }
  parallel_for(p.N * p.C, plane_grain(HW + P * p.R * p.S), [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const T* xp = x + c * HW;
      T* yp = y + c * P;
      for (int64_t oh = 0; oh < p.OH; ++oh) {
        for (int64_t ow = 0; ow < p.OW; ++ow) {
          const AvgWindow w = avg_window(p, count_include_pad, divisor_override, oh, ow);
          if (w.h0 >= w.h1 || w.w0 >= w.w1) {
            yp[oh * p.OW + ow] = T(0);
            continue;
          }
          T sum = T(0);
          for (int64_t ih = w.h0; ih < w.h1; ++ih)
            for (int64_t iw = w.w0; iw < w.w1; ++iw) sum += xp[ih * p.W + iw];
          yp[oh * p.OW + ow] = sum / static_cast<T>(w.divisor);
        }
      }
    }
  });
}

template <typename T>
void avg_pool2d_backward(const Window2d& p, bool count_include_pad, int64_t divisor_override,
                         const T* dy, T* dx) {
  GC_PROFILE_SCOPE("avg_pool2d_backward", p.N * p.C * p.OH * p.OW * p.R * p.S,
                   sizeof(T) * p.N * p.C * (p.H * p.W + p.OH * p.OW), {p.N, p.C, p.OH, p.OW},
                   {p.R, p.S}, {p.N, p.C, p.H, p.W});
  const int64_t HW = p.H * p.W, P = p.OH * p.OW;
  if (is_2x2_cells(p)) {
    const T div = static_cast<T>(divisor_override > 0 ? divisor_override : 4);
    parallel_for(p.N * p.C, plane_grain(HW + P), [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c)
        avg_unpool_2x2_plane(dy + c * P, p.H, p.W, p.OH, p.OW, div, dx + c * HW);
    });
    return;
  }
  parallel_for(p.N * p.C, plane_grain(HW + P * p.R * p.S), [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const T* gp = dy + c * P;
      T* d = dx + c * HW;
      std::fill(d, d + HW, T(0));
      for (int64_t oh = 0; oh < p.OH; ++oh) {
        for (int64_t ow = 0; ow < p.OW; ++ow) {
          const AvgWindow w = avg_window(p, count_include_pad, divisor_override, oh, ow);
          if (w.h0 >= w.h1 || w.w0 >= w.w1) continue;
          const T v = gp[oh * p.OW + ow] / static_cast<T>(w.divisor);
          for (int64_t ih = w.h0; ih < w.h1; ++ih)
            for (int64_t iw = w.w0; iw < w.w1; ++iw) d[ih * p.W + iw] += v;
        }
      }
    }
  });
}

template <typename T>
void adaptive_avg_pool2d_forward(int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW,
                                 const T* x, T* y) {
  GC_PROFILE_SCOPE("adaptive_avg_pool2d_forward", planes * H * W,
                   sizeof(T) * planes * (H * W + OH * OW), {planes, H, W}, {planes, OH, OW});
  const int64_t HW = H * W, P = OH * OW;
  parallel_for(planes, plane_grain(HW + P), [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const T* xp = x + c * HW;
      T* yp = y + c * P;
      for (int64_t oh = 0; oh < OH; ++oh) {
        const int64_t h0 = adaptive_start(oh, H, OH), h1 = adaptive_end(oh, H, OH);
        for (int64_t ow = 0; ow < OW; ++ow) {
          const int64_t w0 = adaptive_start(ow, W, OW), w1 = adaptive_end(ow, W, OW);
          T sum = T(0);
          for (int64_t ih = h0; ih < h1; ++ih)
            for (int64_t iw = w0; iw < w1; ++iw) sum += xp[ih * W + iw];
          yp[oh * OW + ow] = sum / static_cast<T>((h1 - h0) * (w1 - w0));
        }
      }
    }
  });
}

template <typename T>
void adaptive_avg_pool2d_backward(int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW,
                                  const T* dy, T* dx) {
  GC_PROFILE_SCOPE("adaptive_avg_pool2d_backward", planes * H * W,
                   sizeof(T) * planes * (H * W + OH * OW), {planes, OH, OW}, {planes, H, W});
  const int64_t HW = H * W, P = OH * OW;
  parallel_for(planes, plane_grain(HW + P), [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const T* gp = dy + c * P;
      T* d = dx + c * HW;
      std::fill(d, d + HW, T(0));
      for (int64_t oh = 0; oh < OH; ++oh) {
        const int64_t h0 = adaptive_start(oh, H, OH), h1 = adaptive_end(oh, H, OH);
        for (int64_t ow = 0; ow < OW; ++ow) {
          const int64_t w0 = adaptive_start(ow, W, OW), w1 = adaptive_end(ow, W, OW);
          const T v = gp[oh * OW + ow] / static_cast<T>((h1 - h0) * (w1 - w0));
          for (int64_t ih = h0; ih < h1; ++ih)
            for (int64_t iw = w0; iw < w1; ++iw) d[ih * W + iw] += v;
        }
      }
    }
  });
}

#define GRADCORE_INSTANTIATE_POOL(T)                                                             \
  template void max_pool2d_forward<T>(const Window2d&, const T*, T*, int64_t*);                  \
  template int64_t max_pool2d_backward<T>(int64_t, int64_t, int64_t, int64_t, int64_t, const T*, \
                                          const int64_t*, T*);                                   \
  template void max_pool2d_relu_forward<T>(int64_t, int64_t, int64_t, const T*, T*, uint8_t*);   \
  template void max_pool2d_relu_forward_serial<T>(int64_t, int64_t, int64_t, const T*, T*,       \
                                                  uint8_t*);                                     \
  template int64_t max_pool2d_relu_backward<T>(int64_t, int64_t, int64_t, const T*,              \
                                               const uint8_t*, T*);                              \
  template int64_t max_pool2d_relu_backward_serial<T>(int64_t, int64_t, int64_t, const T*,       \
                                                      const uint8_t*, T*);                       \
  template void avg_pool2d_forward<T>(const Window2d&, bool, int64_t, const T*, T*);             \
  template void avg_pool2d_backward<T>(const Window2d&, bool, int64_t, const T*, T*);            \
  template void adaptive_avg_pool2d_forward<T>(int64_t, int64_t, int64_t, int64_t, int64_t,      \
                                               const T*, T*);                                    \
  template void adaptive_avg_pool2d_backward<T>(int64_t, int64_t, int64_t, int64_t, int64_t,     \
                                                const T*, T*);
GRADCORE_INSTANTIATE_POOL(float)
GRADCORE_INSTANTIATE_POOL(double)
#undef GRADCORE_INSTANTIATE_POOL

}  // namespace gradcore
