// bfloat16 convolution (conv_bf16.h): im2col of the bfloat16 input, band by band of output
// rows, and gemm_bf16; forward and backward side by side.
#include "cpu/conv_bf16.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/workspace.h"
#include "cpu/bias_grad.h"
#include "cpu/conv.h"
#include "cpu/conv_winograd.h"
#include "cpu/convert.h"
#include "cpu/gemm/gemm_bf16.h"
#include "cpu/im2col.h"
#include "cpu/work_units.h"
#include "profiler/profiler.h"

namespace gradcore {
namespace {

constexpr int64_t kMinNativeRows = 32;  // rows of columns (C/groups*R*S) worth gemm_bf16

struct Shape {
  int64_t Cg, Kg, CRS, P, HW;
  int64_t rows, bands;  // output rows per band, bands per image
};

// The shape of the work, with bands whose columns (CRS x band, `elem` bytes each) stay in L2
// (work_units.h: band_rows).
Shape shape_of(const Window2d& p, int64_t elem) {
  Shape s;
  s.Cg = p.C / p.groups;
  s.Kg = p.K / p.groups;
  s.CRS = s.Cg * p.R * p.S;
  s.P = p.OH * p.OW;
  s.HW = p.H * p.W;
  s.rows = band_rows(p, s.CRS, elem);
  s.bands = (p.OH + s.rows - 1) / s.rows;
  return s;
}

std::vector<float> widened(const uint16_t* x, int64_t n) {
  std::vector<float> v(static_cast<size_t>(n));
  bfloat16_to_float(x, v.data(), n);
  return v;
}

// The bfloat16 columns of image plane group x_{n,g} (Cg planes) for output rows [oh0, oh1):
// CRS x (oh1 - oh0)*OW, row stride *ld; the planes themselves when input_is_columns(p), else
// im2col'd into this thread's scratch.
const uint16_t* bf16_cols(const Window2d& p, const Shape& s, const uint16_t* xg, int64_t oh0,
                          int64_t oh1, int64_t* ld) {
  const int64_t tp = (oh1 - oh0) * p.OW;
  if (input_is_columns(p)) {
    *ld = s.HW;
    return xg + oh0 * p.OW;
  }
  uint16_t* cols = thread_scratch<uint16_t>(kSlotColumns, static_cast<size_t>(s.CRS * tp));
  im2col(p, s.Cg, xg, oh0, oh1, cols, tp);
  *ld = tp;
  return cols;
}

}  // namespace

bool conv_bf16_native(const Window2d& p) {
  return gemm_bf16_native() && (p.C / p.groups) * p.R * p.S >= kMinNativeRows;
}

// Layers the float32 Winograd convolution takes (conv_winograd.h) with at least this many input
// and output channels run it under autocast, on the rounded values, instead of gemm_bf16:
// faster there. Zen 4, forward + backward (python bench/bench_conv.py --amp, before this
// choice): (128,64,32,32,64) and (128,128,16,16,128) ran on gemm_bf16 at 0.80-0.92x the
// float32 Winograd's speed, while (64,32,14,14,64) ran 1.06-1.23x faster on it.
constexpr int64_t kMinWinogradChannels = 64;

bool conv_bf16_autocast_native(const Window2d& p) {
  return conv_bf16_native(p) &&
         !(p.C >= kMinWinogradChannels && p.K >= kMinWinogradChannels && winograd_ok(p));
}

void conv2d_forward_bf16(const Window2d& p, const uint16_t* x, const uint16_t* w, const float* bias,
                         float* y) {
  const Shape s = shape_of(p, sizeof(uint16_t));
  GC_PROFILE_SCOPE("conv2d_forward_bf16", 2.0 * p.N * p.K * s.P * s.CRS,
                   2.0 * (p.N * p.C * s.HW + p.K * s.CRS) + 4.0 * p.N * p.K * s.P,
                   {p.N, p.C, p.H, p.W}, {p.K, s.Cg, p.R, p.S}, {p.N, p.K, p.OH, p.OW});
  if (p.N * p.K * s.P == 0) return;
  if (!conv_bf16_native(p)) {
    const std::vector<float> xf = widened(x, p.N * p.C * s.HW), wf = widened(w, p.K * s.CRS);
    return conv2d_forward<float>(p, xf.data(), wf.data(), bias, y);
  }
  // Units: (image, band). y_{n,g} rows [oh0, oh1) = bias + W_g (Kg x CRS) @ cols (CRS x tp).
  const double flops = 2.0 * p.K * s.CRS * s.rows * p.OW;
  for_units(p.N * s.bands, flops, [&](int64_t u0, int64_t u1) {
    for (int64_t u = u0; u < u1; ++u) {
      const int64_t n = u / s.bands, oh0 = u % s.bands * s.rows;
      const int64_t oh1 = std::min(p.OH, oh0 + s.rows), tp = (oh1 - oh0) * p.OW;
      for (int64_t g = 0; g < p.groups; ++g) {
        int64_t ld;
        const uint16_t* cols = bf16_cols(p, s, x + (n * p.C + g * s.Cg) * s.HW, oh0, oh1, &ld);
        float* out = y + (n * p.K + g * s.Kg) * s.P + oh0 * p.OW;
        if (bias) fill_bias_rows(out, s.P, s.Kg, tp, bias + g * s.Kg);
        gemm_bf16(false, s.Kg, tp, s.CRS, w + g * s.Kg * s.CRS, s.CRS, cols, ld, out, s.P,
                  bias != nullptr);
      }
    }
  });
}

void conv2d_backward_input_bf16(const Window2d& p, const uint16_t* dy, const uint16_t* w,
                                float* dx) {
  const Shape s = shape_of(p, sizeof(float));  // the band's columns are float32 here
  GC_PROFILE_SCOPE("conv2d_backward_input_bf16", 2.0 * p.N * p.K * s.P * s.CRS,
                   2.0 * (p.N * p.K * s.P + p.K * s.CRS) + 4.0 * p.N * p.C * s.HW,
                   {p.N, p.K, p.OH, p.OW}, {p.K, s.Cg, p.R, p.S}, {p.N, p.C, p.H, p.W});
  if (p.N * p.C * s.HW == 0) return;
  if (s.P == 0 || p.K == 0) {
    std::fill(dx, dx + p.N * p.C * s.HW, 0.0f);
    return;
  }
  if (!conv_bf16_native(p)) {
    const std::vector<float> dyf = widened(dy, p.N * p.K * s.P), wf = widened(w, p.K * s.CRS);
    return conv2d_backward_input<float>(p, dyf.data(), wf.data(), dx);
  }
  // W_g^T (CRS x Kg) per group, once: the GEMM's left operand.
  std::vector<uint16_t> wt(static_cast<size_t>(p.K * s.CRS));
  for (int64_t g = 0; g < p.groups; ++g)
    for (int64_t k = 0; k < s.Kg; ++k)
      for (int64_t j = 0; j < s.CRS; ++j)
        wt[static_cast<size_t>(g * s.Kg * s.CRS + j * s.Kg + k)] = w[(g * s.Kg + k) * s.CRS + j];
  // Units: images (the bands of one image add into the same dx planes).
  // dcols (CRS x tp) = W_g^T @ dY_{n,g} rows [oh0, oh1); dx_{n,g} += col2im(dcols).
  const double flops = 2.0 * p.K * s.CRS * s.P;
  const bool in_place = input_is_columns(p);  // the columns are the dx planes: no col2im
  for_units(p.N, flops, [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) {
      if (!in_place) std::fill(dx + n * p.C * s.HW, dx + (n + 1) * p.C * s.HW, 0.0f);
      for (int64_t g = 0; g < p.groups; ++g)
        for (int64_t oh0 = 0; oh0 < p.OH; oh0 += s.rows) {
          const int64_t oh1 = std::min(p.OH, oh0 + s.rows), tp = (oh1 - oh0) * p.OW;
          const uint16_t* dyg = dy + (n * p.K + g * s.Kg) * s.P + oh0 * p.OW;
          float* dxg = dx + (n * p.C + g * s.Cg) * s.HW;
          if (in_place) {  // written band by band
            gemm_bf16(false, s.CRS, tp, s.Kg, wt.data() + g * s.Kg * s.CRS, s.Kg, dyg, s.P,
                      dxg + oh0 * p.OW, s.HW);
            continue;
          }
          float* dcols = thread_scratch<float>(kSlotColumns, static_cast<size_t>(s.CRS * tp));
          gemm_bf16(false, s.CRS, tp, s.Kg, wt.data() + g * s.Kg * s.CRS, s.Kg, dyg, s.P, dcols,
                    tp);
          col2im_add(p, s.Cg, dcols, tp, oh0, oh1, dxg);
        }
    }
  });
}

void conv2d_backward_weight_bf16(const Window2d& p, const uint16_t* dy, const uint16_t* x,
                                 float* dw) {
  const Shape s = shape_of(p, sizeof(uint16_t));
  const int64_t KCRS = p.K * s.CRS;
  GC_PROFILE_SCOPE("conv2d_backward_weight_bf16", 2.0 * p.N * p.K * s.P * s.CRS,
                   2.0 * (p.N * p.K * s.P + p.N * p.C * s.HW) + 4.0 * KCRS, {p.N, p.K, p.OH, p.OW},
                   {p.N, p.C, p.H, p.W}, {p.K, s.Cg, p.R, p.S});
  if (KCRS == 0) return;
  if (p.N * s.P == 0) {
    std::fill(dw, dw + KCRS, 0.0f);
    return;
  }
  if (!conv_bf16_native(p)) {
    const std::vector<float> dyf = widened(dy, p.N * p.K * s.P), xf = widened(x, p.N * p.C * s.HW);
    return conv2d_backward_weight<float>(p, dyf.data(), xf.data(), dw);
  }
  // dW_g (Kg x CRS) = the sum over images and bands of dY_{n,g} band (Kg x tp) @ cols^T
  // (tp x CRS), over a fixed partition of the images (work_units.h).
  sum_over_work_groups(
      p.N, KCRS, 2.0 * p.K * s.CRS * s.P * p.N, dw, [&](int64_t n0, int64_t n1, float* part) {
        for (int64_t n = n0; n < n1; ++n)
          for (int64_t oh0 = 0; oh0 < p.OH; oh0 += s.rows) {
            const int64_t oh1 = std::min(p.OH, oh0 + s.rows);
            const int64_t tp = (oh1 - oh0) * p.OW;
            for (int64_t g = 0; g < p.groups; ++g) {
              int64_t ld;
              const uint16_t* cols =
                  bf16_cols(p, s, x + (n * p.C + g * s.Cg) * s.HW, oh0, oh1, &ld);
              gemm_bf16(true, s.Kg, s.CRS, tp, dy + (n * p.K + g * s.Kg) * s.P + oh0 * p.OW, s.P,
                        cols, ld, part + g * s.Kg * s.CRS, s.CRS, n > n0 || oh0 > 0);
            }
          }
      });
}

void conv2d_backward_bias_bf16(int64_t N, int64_t K, int64_t P, const uint16_t* dy, float* db) {
  GC_PROFILE_SCOPE("conv2d_backward_bias_bf16", N * K * P, 2.0 * N * K * P + 4.0 * K, {N, K, P});
  bias_grad_sum(N, K, P, dy, db, [](const uint16_t* v) {
    const uint32_t u = static_cast<uint32_t>(*v) << 16;
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
  });
}

}  // namespace gradcore
