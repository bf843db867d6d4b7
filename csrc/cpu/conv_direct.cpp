// The direct convolution of conv_direct.h: the geometry test, the zero-padded copy of each
// image and the work split; the per-image kernels are in conv_direct_avx512.cpp.
#include "cpu/conv_direct.h"

#include <algorithm>
#include <cstring>

#include "core/cpu_features.h"
#include "core/workspace.h"
#include "cpu/bias_grad.h"
#include "cpu/work_units.h"

namespace gradcore {
namespace {

struct Padded {
  int64_t Hp, Wp, size;  // the padded image: C planes of Hp x Wp, plus 16 floats of slack
};

Padded padded(const Window2d& p) {
  Padded q;
  q.Hp = p.H + 2 * p.ph;
  q.Wp = p.W + 2 * p.pw;
  q.size = p.C * q.Hp * q.Wp + 16;
  return q;
}

DirectImage image_geometry(const Window2d& p, const Padded& q) {
  DirectImage g;
  g.taps = p.C * p.R * p.S;
  g.K = p.K;
  g.OH = p.OH;
  g.OW = p.OW;
  g.Wp = q.Wp;
  for (int64_t c = 0, j = 0; c < p.C; ++c)
    for (int64_t r = 0; r < p.R; ++r)
      for (int64_t s = 0; s < p.S; ++s, ++j) g.off[j] = (c * q.Hp + r * p.dh) * q.Wp + s * p.dw;
  return g;
}

// Image x_n (C x H x W), zero-padded, into this thread's scratch.
const float* pad_image(const Window2d& p, const Padded& q, const float* xn) {
  float* xp = thread_scratch<float>(kSlotScratch, static_cast<size_t>(q.size));
  std::fill(xp, xp + q.size, 0.0f);
  for (int64_t c = 0; c < p.C; ++c)
    for (int64_t h = 0; h < p.H; ++h)
      std::memcpy(xp + (c * q.Hp + h + p.ph) * q.Wp + p.pw, xn + (c * p.H + h) * p.W,
                  sizeof(float) * p.W);
  return xp;
}

}  // namespace

bool conv_direct_ok(const Window2d& p) {
#if GRADCORE_ISA_AVX512
  return at_least(CpuCapability::kAvx512) && p.groups == 1 && p.sh == 1 && p.sw == 1 &&
         p.C * p.R * p.S <= kDirectMaxTaps && p.OH > 0 && p.OW > 0 && p.N > 0 && p.K > 0;
#else
  (void)p;
  return false;
#endif
}

void conv2d_direct_forward(const Window2d& p, const float* x, const float* w, const float* bias,
                           float* y) {
#if GRADCORE_ISA_AVX512
  const Padded q = padded(p);
  const DirectImage g = image_geometry(p, q);
  const int64_t P = p.OH * p.OW;
  for_units(p.N, 2.0 * p.K * g.taps * P, [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n)
      avx512::direct_forward_image(g, pad_image(p, q, x + n * p.C * p.H * p.W), w, bias,
                                   y + n * p.K * P);
  });
#else
  (void)p, (void)x, (void)w, (void)bias, (void)y;
#endif
}

void conv2d_direct_forward_by_image(const Window2d& p, const float* x, const float* w,
                                    const float* bias, const ImageSink<float>& sink) {
#if GRADCORE_ISA_AVX512
  const Padded q = padded(p);
  const DirectImage g = image_geometry(p, q);
  const int64_t P = p.OH * p.OW;
  for_units(p.N, 2.0 * p.K * g.taps * P, [&](int64_t n0, int64_t n1) {
    float* yn = thread_scratch<float>(kSlotImageOut, static_cast<size_t>(p.K * P));
    for (int64_t n = n0; n < n1; ++n) {
      avx512::direct_forward_image(g, pad_image(p, q, x + n * p.C * p.H * p.W), w, bias, yn);
      sink.fn(sink.ctx, n, yn);
    }
  });
#else
  (void)p, (void)x, (void)w, (void)bias, (void)sink;
#endif
}

void conv2d_direct_backward_weight(const Window2d& p, const float* dy, const float* x, float* dw) {
#if GRADCORE_ISA_AVX512
  const Padded q = padded(p);
  const DirectImage g = image_geometry(p, q);
  const int64_t P = p.OH * p.OW, KT = p.K * g.taps;
  sum_over_work_groups(p.N, KT, 2.0 * KT * P * p.N, dw, [&](int64_t n0, int64_t n1, float* part) {
    std::fill(part, part + KT, 0.0f);
    for (int64_t n = n0; n < n1; ++n)
      avx512::direct_weight_grad_image(g, pad_image(p, q, x + n * p.C * p.H * p.W),
                                       dy + n * p.K * P, part);
  });
#else
  (void)p, (void)dy, (void)x, (void)dw;
#endif
}

void conv2d_direct_backward_weight_by_image(const Window2d& p, const float* x,
                                            const ImageSource<float>& src, float* dw,
                                            float* plane_sums) {
#if GRADCORE_ISA_AVX512
  const Padded q = padded(p);
  const DirectImage g = image_geometry(p, q);
  const int64_t P = p.OH * p.OW, KT = p.K * g.taps;
  sum_over_work_groups(p.N, KT, 2.0 * KT * P * p.N, dw, [&](int64_t n0, int64_t n1, float* part) {
    std::fill(part, part + KT, 0.0f);
    float* dyn = thread_scratch<float>(kSlotImageOut, static_cast<size_t>(p.K * P));
    for (int64_t n = n0; n < n1; ++n) {
      src.fn(src.ctx, n, dyn);
      avx512::direct_weight_grad_image(g, pad_image(p, q, x + n * p.C * p.H * p.W), dyn, part);
      if (plane_sums)
        for (int64_t k = 0; k < p.K; ++k) plane_sums[n * p.K + k] = plane_sum(dyn + k * P, P);
    }
  });
#else
  (void)p, (void)x, (void)src, (void)dw, (void)plane_sums;
#endif
}

}  // namespace gradcore
