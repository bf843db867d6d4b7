// long-file: ISA code being moved out into *_<isa>.cpp files (issue 15)
// Convolution by im2col + GEMM, forward and backward side by side.
//
// Float32 3x3 stride-1 layers with enough channels for the path (winograd_ok) run their forward
// and both gradients as Winograd F(2x2, 3x3) instead (conv_winograd.h).
//
// Stride-1 convolutions whose output is as wide as their input ("same" width, e.g. 3x3 pad 1),
// with at least 128 output pixels per image, use an implicit GEMM: the columns matrix is never
// stored; the GEMM gathers each B micro-panel straight from the input planes (see
// ImplicitTaps). This covers the forward pass, the weight gradient (cols^T panels), and the
// input gradient when there are >= 64 input channels (as a convolution of dy with the flipped
// weights). The weights are packed once per call (PackedA) and shared by all images and threads.
//
// Otherwise work is cut into blocks of output columns: one image and a band of output rows
// (sized so that its columns matrix stays in L2), or, when an image has few output pixels,
// several whole images side by side so each GEMM call stays wide. Blocks run in parallel, one
// per thread with a serial GEMM, when there are enough of them to balance the threads;
// otherwise they run in order and the GEMM uses the threads. The weight gradient is reduced
// over a fixed partition of the batch (work groups chosen from the shapes only) and the partial
// sums are added in group order, so every result is independent of the thread count.
#include "cpu/conv.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <type_traits>
#include <vector>

#include "core/cpu_path_tuning.h"
#include "core/parallel.h"
#include "core/workspace.h"
#include "cpu/bias_grad.h"
#include "cpu/conv_direct.h"
#include "cpu/conv_panels.h"
#include "cpu/conv_winograd.h"
#include "cpu/gemm/gemm.h"
#include "cpu/im2col.h"
#include "cpu/work_units.h"
#include "profiler/profiler.h"

namespace gradcore {

namespace {

// Blocking constants, measured on the 2-core AVX2 target with the packed GEMM.
constexpr int64_t kBatchBelow = 128;               // images with fewer output pixels are batched
constexpr int64_t kBatchCols = 512;                // target GEMM width when batching small images
constexpr int64_t kBatchColsBudget = 4 << 20;      // bytes of a multi-image columns matrix
constexpr int64_t kMinImplicitInputChannels = 64;  // input gradient as an implicit convolution

struct Plan {
  int64_t Cg, Kg, CRS, P;  // channels and filters per group, rows of columns, OH*OW
  bool direct;             // 1x1, stride 1, no padding: the input planes are the columns
  int64_t nb;              // images per block (> 1 only with whole-image blocks)
  int64_t rows;            // output rows per block
  int64_t nchunks, ntiles;
};

Plan make_plan(const Window2d& p, int64_t elem) {
  Plan pl;
  pl.Cg = p.C / p.groups;
  pl.Kg = p.K / p.groups;
  pl.CRS = pl.Cg * p.R * p.S;
  pl.P = p.OH * p.OW;
  pl.direct = input_is_columns(p);
  if (pl.P >= kBatchBelow || p.N == 1) {
    pl.nb = 1;
    pl.rows = pl.direct ? p.OH : band_rows(p, pl.CRS, elem);
  } else {
    int64_t nb = (kBatchCols + pl.P - 1) / pl.P;
    nb = std::min(nb, std::max<int64_t>(1, kBatchColsBudget / (elem * pl.CRS * pl.P)));
    pl.nb = std::clamp<int64_t>(nb, 1, p.N);
    pl.rows = p.OH;
  }
  pl.nchunks = (p.N + pl.nb - 1) / pl.nb;
  pl.ntiles = (p.OH + pl.rows - 1) / pl.rows;
  return pl;
}

// The columns of images [n0, n0+nn), group g, output rows [oh0, oh1): CRS x nn*tp, row stride
// *ld. The direct (1x1) case returns the input itself.
template <typename T>
const T* build_cols(const Plan& pl, const Window2d& p, const T* x, int64_t n0, int64_t nn,
                    int64_t g, int64_t oh0, int64_t oh1, int64_t* ld) {
  const int64_t HW = p.H * p.W, tp = (oh1 - oh0) * p.OW;
  if (pl.direct && nn == 1) {
    *ld = HW;
    return x + (n0 * p.C + g * pl.Cg) * HW + oh0 * p.OW;
  }
  T* cols = thread_scratch<T>(kSlotColumns, static_cast<size_t>(pl.CRS * nn * tp));
  for (int64_t i = 0; i < nn; ++i)
    im2col(p, pl.Cg, x + ((n0 + i) * p.C + g * pl.Cg) * HW, oh0, oh1, cols + i * tp, nn * tp);
  *ld = nn * tp;
  return cols;
}

// dY of images [n0, n0+nn), group g, output rows [oh0, oh1) as a Kg x nn*tp matrix (row
// stride *ld): a view for one image, a packed copy for several.
template <typename T>
const T* dy_block(const Plan& pl, const Window2d& p, const T* dy, int64_t n0, int64_t nn, int64_t g,
                  int64_t oh0, int64_t* ld) {
  const int64_t P = pl.P;
  if (nn == 1) {
    *ld = P;
    return dy + (n0 * p.K + g * pl.Kg) * P + oh0 * p.OW;
  }
  T* buf = thread_scratch<T>(kSlotScratch, static_cast<size_t>(pl.Kg * nn * P));
  for (int64_t k = 0; k < pl.Kg; ++k)
    for (int64_t i = 0; i < nn; ++i)
      std::memcpy(buf + (k * nn + i) * P, dy + ((n0 + i) * p.K + g * pl.Kg + k) * P, sizeof(T) * P);
  *ld = nn * P;
  return buf;
}

// Packed left operands, one per group: W_g (Kg x CRS) for the forward pass, W_g^T (CRS x Kg)
// for the input gradient. Packed once per call and shared by every image and thread.
template <typename T>
std::vector<PackedA<T>> pack_weights(const Plan& pl, const Window2d& p, const T* w,
                                     bool transposed) {
  std::vector<PackedA<T>> packed;
  packed.reserve(static_cast<size_t>(p.groups));
  for (int64_t g = 0; g < p.groups; ++g) {
    const T* wg = w + g * pl.Kg * pl.CRS;
    if (transposed)
      packed.emplace_back(true, pl.CRS, pl.Kg, T(1), wg, pl.CRS);
    else
      packed.emplace_back(false, pl.Kg, pl.CRS, T(1), wg, pl.CRS);
  }
  return packed;
}

// ---------------------------------------------------------------------------------------
// Implicit GEMM (stride 1, OW == W): the columns matrix is never stored. Row (c, r, s) of an
// image's columns is its input plane c shifted by off(r, s) = (r*dh - ph)*W + (s*dw - pw),
// with the pixels whose tap falls into the padding zeroed: col[(c*R + r)*S + s][p] =
// valid(r, s, p) ? x[c][p + off(r, s)] : 0. The GEMM gathers each B micro-panel straight from
// the input planes (masked loads), so no columns are written to or read back from L2.

bool implicit_ok(const Window2d& g) {
  return g.sh == 1 && g.sw == 1 && g.OW == g.W;
}

// Shifts, pixel ranges and column lane masks of the taps (conv_panels.h): 3R + S int64s and
// (S + 1)*(W + 32) int32s, one image row's worth per kernel column, whatever the image height
// (per tap and pixel, (R*S + 1) x OH*OW int32s, it took ~1 GB for a 31x31 kernel on 512x512).
struct ImplicitTaps {
  int64_t R, S, W, P;
  std::vector<int64_t> row_off, p_lo, p_hi;  // R each
  std::vector<int64_t> col_off;              // S
  std::vector<int32_t> col_ok;               // (S + 1) x (W + kColMaskPad)

  // The columns of the image planes starting at x, inside the tensor [lo, hi).
  template <typename T>
  ImplicitCols<T> cols(const T* x, int64_t HW, const T* lo, const T* hi) const {
    return ImplicitCols<T>{
        x,  HW, W, R, S, row_off.data(), col_off.data(), p_lo.data(), p_hi.data(), col_ok.data(),
        lo, hi};
  }
};

ImplicitTaps make_taps(const Window2d& g) {
  ImplicitTaps t;
  t.R = g.R;
  t.S = g.S;
  t.W = g.W;
  t.P = g.OH * g.OW;
  const int64_t wm = g.W + kColMaskPad;
  for (int64_t r = 0; r < g.R; ++r) {
    // Output rows oh with 0 <= oh + dr < H, as a range of pixels oh * W + ow.
    const int64_t dr = r * g.dh - g.ph;
    const int64_t oh0 = std::min(g.OH, std::max<int64_t>(0, -dr));
    const int64_t oh1 = std::max(oh0, std::min(g.OH, g.H - dr));
    t.row_off.push_back(dr * g.W);
    t.p_lo.push_back(oh0 * g.W);
    t.p_hi.push_back(oh1 * g.W);
  }
  t.col_ok.assign(static_cast<size_t>((g.S + 1) * wm), 0);  // row S: all zeros
  for (int64_t s = 0; s < g.S; ++s) {
    const int64_t ds = s * g.dw - g.pw;
    t.col_off.push_back(ds);
    for (int64_t q = 0; q < wm; ++q) {
      const int64_t iw = q % g.W + ds;
      if (iw >= 0 && iw < g.W) t.col_ok[static_cast<size_t>(s * wm + q)] = -1;
    }
  }
  return t;
}

// Whether pixel p of tap (r, s) reads the input (conv_panels.h: tap_ok).
template <typename T>
bool tap_ok(const ImplicitCols<T>& ic, int64_t r, int64_t s, int64_t p) {
  return p >= ic.p_lo[r] && p < ic.p_hi[r] && ic.col_ok[s * (ic.W + kColMaskPad) + p % ic.W];
}

// PanelSource::pack for ImplicitCols: rows [p0, p0+kc) x pixels [j0, j0+nr) of the columns.
template <typename T>
void pack_cols_panel(const void* ctx, int64_t p0, int64_t kc, int64_t j0, int64_t, int nr, T* out) {
  const ImplicitCols<T>& ic = *static_cast<const ImplicitCols<T>*>(ctx);
  const int64_t RS = ic.R * ic.S;
  for (int64_t k = 0; k < kc; ++k, out += nr) {
    const int64_t c = (p0 + k) / RS, r = (p0 + k) % RS / ic.S, s = (p0 + k) % ic.S;
    const T* src = ic.x + c * ic.HW + ic.row_off[r] + ic.col_off[s];
    for (int j = 0; j < nr; ++j) out[j] = tap_ok(ic, r, s, j0 + j) ? src[j0 + j] : T(0);
  }
}

// PanelSource::pack for op(B) = cols^T (P x CRS, the weight gradient's right operand): rows
// (pixels) [p0, p0+kc) x columns (c, r, s) [j0, j0+nc), each column a masked stretch of a plane.
template <typename T>
void pack_cols_t_panel(const void* ctx, int64_t p0, int64_t kc, int64_t j0, int64_t nc, int nr,
                       T* out) {
  const ImplicitCols<T>& ic = *static_cast<const ImplicitCols<T>*>(ctx);
  const int64_t RS = ic.R * ic.S;
  for (int j = 0; j < nr; ++j) {
    if (j >= nc) {
      for (int64_t k = 0; k < kc; ++k) out[k * nr + j] = T(0);
      continue;
    }
    const int64_t c = (j0 + j) / RS, r = (j0 + j) % RS / ic.S, s = (j0 + j) % ic.S;
    const T* src = ic.x + c * ic.HW + ic.row_off[r] + ic.col_off[s];
    for (int64_t k = 0; k < kc; ++k)
      out[k * nr + j] = tap_ok(ic, r, s, p0 + k) ? src[p0 + k] : T(0);
  }
}

// The packers of the path that packed `a` (its tuning names them; they write panels as wide
// as that path's float GEMM tile).
template <typename T>
PanelSource<T> cols_t_source(const ImplicitCols<T>& ic, const PackedA<T>& a) {
  const ConvPacker packer = a.tuning().conv_packer;
#if GRADCORE_ISA_AVX512
  if constexpr (std::is_same_v<T, float>)
    if (packer == ConvPacker::kAvx512Panel32)
      return PanelSource<T>{&avx512::pack_cols_t_panel32, &ic};
#endif
#if GRADCORE_ISA_AVX2_FMA
  if constexpr (std::is_same_v<T, float>)
    if (packer == ConvPacker::kAvx2Panel16)
      return PanelSource<T>{&avx2_fma::pack_cols_t_panel16, &ic};
#endif
  (void)packer;
  return PanelSource<T>{&pack_cols_t_panel<T>, &ic};
}

template <typename T>
PanelSource<T> cols_source(const ImplicitCols<T>& ic, const PackedA<T>& a) {
  const ConvPacker packer = a.tuning().conv_packer;
#if GRADCORE_ISA_AVX512
  if constexpr (std::is_same_v<T, float>)
    if (packer == ConvPacker::kAvx512Panel32)
      return PanelSource<T>{&avx512::pack_cols_panel32, &ic};
#endif
#if GRADCORE_ISA_AVX2_FMA
  if constexpr (std::is_same_v<T, float>)
    if (packer == ConvPacker::kAvx2Panel16)
      return PanelSource<T>{&avx2_fma::pack_cols_panel16, &ic};
#endif
  (void)packer;
  return PanelSource<T>{&pack_cols_panel<T>, &ic};
}

// out (N, Cout, OH, OW) = conv(in (N, Cin, H, W)) by implicit GEMM, per image n and group g:
// out_{n,g} (Cout_g x P) = wp[g] (Cout_g x Cin_g*R*S) @ cols(in_{n,g}) (+ bias). Images run in
// parallel (serial GEMM each) when there are enough of them, otherwise the GEMM threads. With
// a sink, out is null: each image goes to this thread's kSlotImageOut scratch, then the sink.
template <typename T>
void implicit_conv(const Window2d& g, int64_t N, int64_t groups, int64_t Cin, int64_t Cout,
                   const T* in, const std::vector<PackedA<T>>& wp, const T* bias, T* out,
                   const ImageSink<T>* sink = nullptr) {
  const ImplicitTaps taps = make_taps(g);
  const int64_t HW = g.H * g.W, P = taps.P, Cin_g = Cin / groups, Cout_g = Cout / groups;
  const double flops = 2.0 * Cout * Cin_g * (taps.R * taps.S) * P;
  for_units(N, flops, [&](int64_t n0, int64_t n1) {
    T* scratch = sink ? thread_scratch<T>(kSlotImageOut, static_cast<size_t>(Cout * P)) : nullptr;
    for (int64_t n = n0; n < n1; ++n) {
      T* on = sink ? scratch : out + n * Cout * P;
      for (int64_t gi = 0; gi < groups; ++gi) {
        const ImplicitCols<T> ic =
            taps.cols(in + (n * Cin + gi * Cin_g) * HW, HW, in, in + N * Cin * HW);
        T* o = on + gi * Cout_g * P;
        T beta = T(0);
        if (bias) {
          fill_bias_rows(o, P, Cout_g, P, bias + gi * Cout_g);
          beta = T(1);
        }
        const PackedA<T>& a = wp[static_cast<size_t>(gi)];
        gemm_packed_source<T>(a, P, cols_source(ic, a), beta, o, P);
      }
      if (sink) sink->fn(sink->ctx, n, on);
    }
  });
}

// The input gradient is a stride-1 convolution of dy that the implicit GEMM can run: stride 1,
// padding at most the dilated kernel extent, OW == W, and images wide enough for one GEMM.
// It wins over W^T @ dY + col2im only with enough input channels (the GEMM's rows; measured).
bool input_grad_as_conv(const Window2d& p) {
  return p.C / p.groups >= kMinImplicitInputChannels && p.sh == 1 && p.sw == 1 && p.OW == p.W &&
         p.ph <= p.dh * (p.R - 1) && p.pw <= p.dw * (p.S - 1) &&
         (p.H * p.W >= kBatchBelow || p.N == 1) && !(p.R == 1 && p.S == 1);
}

template <typename T>
void forward_block(const Plan& pl, const Window2d& p, const T* x, const std::vector<PackedA<T>>& wp,
                   const T* bias, T* y, int64_t n0, int64_t nn, int64_t oh0, int64_t oh1) {
  const int64_t P = pl.P, Kg = pl.Kg, tp = (oh1 - oh0) * p.OW;
  for (int64_t g = 0; g < p.groups; ++g) {
    int64_t ld;
    const T* cols = build_cols(pl, p, x, n0, nn, g, oh0, oh1, &ld);
    if (nn == 1) {
      T* out = y + (n0 * p.K + g * Kg) * P + oh0 * p.OW;
      T beta = T(0);
      if (bias) {
        fill_bias_rows(out, P, Kg, tp, bias + g * Kg);
        beta = T(1);
      }
      gemm_packed<T>(wp[g], tp, false, cols, ld, beta, out, P);
    } else {
      T* tmp = thread_scratch<T>(kSlotScratch, static_cast<size_t>(Kg * nn * P));
      gemm_packed<T>(wp[g], nn * P, false, cols, ld, T(0), tmp, nn * P);
      for (int64_t i = 0; i < nn; ++i) {
        for (int64_t k = 0; k < Kg; ++k) {
          T* out = y + ((n0 + i) * p.K + g * Kg + k) * P;
          const T* src = tmp + (k * nn + i) * P;
          if (bias) {
            const T b = bias[g * Kg + k];
            for (int64_t j = 0; j < P; ++j) out[j] = src[j] + b;
          } else {
            std::memcpy(out, src, sizeof(T) * P);
          }
        }
      }
    }
  }
}

}  // namespace

template <typename T>
void conv2d_forward(const Window2d& p, const T* x, const T* w, const T* bias, T* y) {
  const int64_t Cg = p.C / p.groups;
  GC_PROFILE_SCOPE("conv2d_forward", 2.0 * p.N * p.K * p.OH * p.OW * Cg * p.R * p.S,
                   sizeof(T) * (p.N * p.C * p.H * p.W + p.K * Cg * p.R * p.S +
                                p.N * p.K * p.OH * p.OW + (bias ? p.K : 0)),
                   {p.N, p.C, p.H, p.W}, {p.K, Cg, p.R, p.S}, {p.N, p.K, p.OH, p.OW});
  if (p.N * p.K * p.OH * p.OW == 0) return;
  if constexpr (std::is_same_v<T, float>) {
    if (conv_direct_ok(p)) return conv2d_direct_forward(p, x, w, bias, y);
    if (winograd_ok(p)) return winograd_conv2d_forward(p, x, w, bias, y, nullptr);
  }
  const Plan pl = make_plan(p, sizeof(T));
  const int64_t nblocks = pl.nchunks * pl.ntiles;
  const double flops = 2.0 * p.K * pl.CRS * pl.P * pl.nb / pl.ntiles;
  const std::vector<PackedA<T>> wp = pack_weights(pl, p, w, false);
  if (!pl.direct && pl.nb == 1 && implicit_ok(p)) {
    implicit_conv(p, p.N, p.groups, p.C, p.K, x, wp, bias, y);
    return;
  }
  for_units(nblocks, flops, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t chunk = b / pl.ntiles, tile = b % pl.ntiles;
      const int64_t n0 = chunk * pl.nb, nn = std::min(pl.nb, p.N - n0);
      const int64_t oh0 = tile * pl.rows, oh1 = std::min(p.OH, oh0 + pl.rows);
      forward_block(pl, p, x, wp, bias, y, n0, nn, oh0, oh1);
    }
  });
}

template <typename T>
bool conv2d_forward_by_image(const Window2d& p, const T* x, const T* w, const T* bias,
                             const ImageSink<T>& sink) {
  if (p.N * p.K * p.OH * p.OW == 0) return false;
  if constexpr (std::is_same_v<T, float>) {
    if (conv_direct_ok(p)) {
      conv2d_direct_forward_by_image(p, x, w, bias, sink);
      return true;
    }
    if (winograd_ok(p)) {
      winograd_conv2d_forward(p, x, w, bias, nullptr, &sink);
      return true;
    }
  }
  const Plan pl = make_plan(p, sizeof(T));
  if (pl.direct || pl.nb != 1 || !implicit_ok(p)) return false;
  const std::vector<PackedA<T>> wp = pack_weights(pl, p, w, false);
  implicit_conv(p, p.N, p.groups, p.C, p.K, x, wp, bias, static_cast<T*>(nullptr), &sink);
  return true;
}

// dx of images [n0, n0+nn) = col2im(W_g^T @ dY_g) per group (wtp: the packed W_g^T), band by
// band; overwrites those images of dx. The explicit input gradient's unit of work.
template <typename T>
void input_grad_chunk(const Plan& pl, const Window2d& p, const std::vector<PackedA<T>>& wtp,
                      const T* dy, int64_t n0, int64_t nn, T* dx) {
  const int64_t HW = p.H * p.W;
  if (!pl.direct || nn > 1) std::fill(dx + n0 * p.C * HW, dx + (n0 + nn) * p.C * HW, T(0));
  for (int64_t g = 0; g < p.groups; ++g) {
    if (pl.direct && nn == 1) {  // dx_g = W_g^T @ dY_g, written in place
      gemm_packed<T>(wtp[g], pl.P, false, dy + (n0 * p.K + g * pl.Kg) * pl.P, pl.P, T(0),
                     dx + (n0 * p.C + g * pl.Cg) * HW, HW);
      continue;
    }
    for (int64_t tile = 0; tile < pl.ntiles; ++tile) {
      const int64_t oh0 = tile * pl.rows, oh1 = std::min(p.OH, oh0 + pl.rows);
      const int64_t ncols = nn * (oh1 - oh0) * p.OW;
      int64_t lda;
      const T* a = dy_block(pl, p, dy, n0, nn, g, oh0, &lda);
      T* dcols = thread_scratch<T>(kSlotColumns, static_cast<size_t>(pl.CRS * ncols));
      gemm_packed<T>(wtp[g], ncols, false, a, lda, T(0), dcols, ncols);
      const int64_t tp = (oh1 - oh0) * p.OW;
      for (int64_t i = 0; i < nn; ++i)
        col2im_add(p, pl.Cg, dcols + i * tp, ncols, oh0, oh1,
                   dx + ((n0 + i) * p.C + g * pl.Cg) * HW);
    }
  }
}

// dW_g (+)= dY_{n,g} (Kg x P) @ cols(x_{n,g})^T for each group g of image n (dy_n: its K x P
// gradient), the columns gathered on the fly; beta 0 overwrites part, 1 adds. `a` is reused
// storage for the packed dY_{n,g}. The implicit weight gradient's step per image.
template <typename T>
void implicit_weight_grad_image(const Plan& pl, const Window2d& p, const ImplicitTaps& taps,
                                PackedA<T>& a, const T* dy_n, const T* x, int64_t n, T beta,
                                T* part) {
  const int64_t HW = p.H * p.W;
  for (int64_t g = 0; g < p.groups; ++g) {
    a.pack(false, pl.Kg, pl.P, T(1), dy_n + g * pl.Kg * pl.P, pl.P, pl.CRS);
    const ImplicitCols<T> ic = taps.cols(x + (n * p.C + g * pl.Cg) * HW, HW, x, x + p.N * p.C * HW);
    gemm_packed_source<T>(a, pl.CRS, cols_t_source(ic, a), beta, part + g * pl.Kg * pl.CRS, pl.CRS);
  }
}

template <typename T>
void conv2d_backward_input(const Window2d& p, const T* dy, const T* w, T* dx) {
  const int64_t Cg = p.C / p.groups;
  GC_PROFILE_SCOPE(
      "conv2d_backward_input", 2.0 * p.N * p.K * p.OH * p.OW * Cg * p.R * p.S,
      sizeof(T) * (p.N * p.C * p.H * p.W + p.K * Cg * p.R * p.S + p.N * p.K * p.OH * p.OW),
      {p.N, p.K, p.OH, p.OW}, {p.K, Cg, p.R, p.S}, {p.N, p.C, p.H, p.W});
  const int64_t HW = p.H * p.W;
  if (p.N * p.C * HW == 0) return;
  if (p.OH * p.OW == 0 || p.K == 0) {
    std::fill(dx, dx + p.N * p.C * HW, T(0));
    return;
  }
  if constexpr (std::is_same_v<T, float>)
    if (winograd_input_grad_ok(p)) return winograd_conv2d_backward_input(p, dy, w, dx);
  const Plan pl = make_plan(p, sizeof(T));
  if (input_grad_as_conv(p)) {
    // dx = conv(dy, w flipped), stride 1: the padding becomes dh*(R-1) - ph and the roles of
    // K and C swap; w'_g[c][k][R-1-r][S-1-s] = w[g*Kg + k][c][r][s].
    Window2d g;  // the input-gradient convolution: dy planes in, dx planes out
    g.H = p.OH, g.W = p.OW, g.R = p.R, g.S = p.S;
    g.ph = p.dh * (p.R - 1) - p.ph, g.pw = p.dw * (p.S - 1) - p.pw;
    g.dh = p.dh, g.dw = p.dw, g.OH = p.H, g.OW = p.W;
    const int64_t RS = p.R * p.S;
    std::vector<T> wf(static_cast<size_t>(Cg * pl.Kg * RS));
    std::vector<PackedA<T>> wfp;
    wfp.reserve(static_cast<size_t>(p.groups));
    for (int64_t gi = 0; gi < p.groups; ++gi) {
      for (int64_t c = 0; c < Cg; ++c)
        for (int64_t k = 0; k < pl.Kg; ++k)
          for (int64_t rs = 0; rs < RS; ++rs)
            wf[static_cast<size_t>((c * pl.Kg + k) * RS + rs)] =
                w[((gi * pl.Kg + k) * Cg + c) * RS + (RS - 1 - rs)];
      wfp.emplace_back(false, Cg, pl.Kg * RS, T(1), wf.data(), pl.Kg * RS);
    }
    implicit_conv(g, p.N, p.groups, p.K, p.C, dy, wfp, static_cast<const T*>(nullptr), dx);
    return;
  }
  const double flops = 2.0 * p.K * pl.CRS * pl.P * pl.nb;
  const std::vector<PackedA<T>> wtp = pack_weights(pl, p, w, true);
  // Blocks of one image accumulate into the same dx rows, so a unit is a whole image chunk.
  for_units(pl.nchunks, flops, [&](int64_t c0, int64_t c1) {
    for (int64_t chunk = c0; chunk < c1; ++chunk) {
      const int64_t n0 = chunk * pl.nb;
      input_grad_chunk(pl, p, wtp, dy, n0, std::min(pl.nb, p.N - n0), dx);
    }
  });
}

template <typename T>
void conv2d_backward_weight(const Window2d& p, const T* dy, const T* x, T* dw) {
  const int64_t Cg = p.C / p.groups;
  GC_PROFILE_SCOPE(
      "conv2d_backward_weight", 2.0 * p.N * p.K * p.OH * p.OW * Cg * p.R * p.S,
      sizeof(T) * (p.N * p.C * p.H * p.W + p.K * Cg * p.R * p.S + p.N * p.K * p.OH * p.OW),
      {p.N, p.K, p.OH, p.OW}, {p.N, p.C, p.H, p.W}, {p.K, Cg, p.R, p.S});
  const int64_t KCRS = p.K * Cg * p.R * p.S;
  if (KCRS == 0) return;
  if (p.N * p.OH * p.OW == 0) {
    std::fill(dw, dw + KCRS, T(0));
    return;
  }
  if constexpr (std::is_same_v<T, float>) {
    if (conv_direct_ok(p)) return conv2d_direct_backward_weight(p, dy, x, dw);
    if (winograd_ok(p)) return winograd_conv2d_backward_weight(p, dy, x, dw);
  }
  const Plan pl = make_plan(p, sizeof(T));
  const double flops = 2.0 * p.K * pl.CRS * pl.P * p.N;
  if (!pl.direct && pl.nb == 1 && implicit_ok(p)) {
    // Implicit GEMM: dW_g += dY_{n,g} (Kg x P) @ cols(x_{n,g})^T, the columns gathered on the fly.
    const ImplicitTaps taps = make_taps(p);
    sum_over_work_groups(p.N, KCRS, flops, dw, [&](int64_t n0, int64_t n1, T* part) {
      PackedA<T> a;  // dY_{n,g}, repacked per image into the same storage
      for (int64_t n = n0; n < n1; ++n)
        implicit_weight_grad_image(pl, p, taps, a, dy + n * p.K * pl.P, x, n, n == n0 ? T(0) : T(1),
                                   part);
    });
    return;
  }
  sum_over_work_groups(pl.nchunks, KCRS, flops, dw, [&](int64_t c0, int64_t c1, T* part) {
    for (int64_t chunk = c0; chunk < c1; ++chunk) {
      const int64_t n0 = chunk * pl.nb, nn = std::min(pl.nb, p.N - n0);
      for (int64_t tile = 0; tile < pl.ntiles; ++tile) {
        const int64_t oh0 = tile * pl.rows, oh1 = std::min(p.OH, oh0 + pl.rows);
        const int64_t ncols = nn * (oh1 - oh0) * p.OW;
        const T beta = (chunk == c0 && tile == 0) ? T(0) : T(1);
        for (int64_t g = 0; g < p.groups; ++g) {
          int64_t ldb, lda;
          const T* cols = build_cols(pl, p, x, n0, nn, g, oh0, oh1, &ldb);
          const T* a = dy_block(pl, p, dy, n0, nn, g, oh0, &lda);
          gemm<T>(false, true, pl.Kg, pl.CRS, ncols, T(1), a, lda, cols, ldb, beta,
                  part + g * pl.Kg * pl.CRS, pl.CRS);
        }
      }
    }
  });
}

template <typename T>
bool conv2d_backward_by_image(const Window2d& p, const T* x, const T* w, const ImageSource<T>& src,
                              T* dx, T* dw, T* plane_sums) {
  const int64_t Cg = p.C / p.groups, KCRS = p.K * Cg * p.R * p.S, HW = p.H * p.W;
  if (KCRS == 0 || p.N * p.OH * p.OW == 0 || p.N * p.C * HW == 0) return false;
  if constexpr (std::is_same_v<T, float>)
    if (conv_direct_ok(p)) {  // the direct weight gradient, when no dx is wanted (a first layer)
      if (dx) return false;
      conv2d_direct_backward_weight_by_image(p, x, src, dw, plane_sums);
      return true;
    }
  if constexpr (std::is_same_v<T, float>)  // the Winograd gradients need the whole dy
    if (winograd_ok(p)) return false;
  const Plan pl = make_plan(p, sizeof(T));
  if (pl.direct || pl.nb != 1 || !implicit_ok(p) || (dx && input_grad_as_conv(p))) return false;
  const ImplicitTaps taps = make_taps(p);
  const int64_t P = pl.P;
  const std::vector<PackedA<T>> wtp = dx ? pack_weights(pl, p, w, true) : std::vector<PackedA<T>>();
  const double flops = 2.0 * p.K * pl.CRS * P * p.N * (dx ? 2 : 1);
  sum_over_work_groups(p.N, KCRS, flops, dw, [&](int64_t n0, int64_t n1, T* part) {
    PackedA<T> a;  // dY_{n,g}, repacked per image into the same storage
    T* dyn = thread_scratch<T>(kSlotImageOut, static_cast<size_t>(p.K * P));
    for (int64_t n = n0; n < n1; ++n) {
      src.fn(src.ctx, n, dyn);
      implicit_weight_grad_image(pl, p, taps, a, dyn, x, n, n == n0 ? T(0) : T(1), part);
      if (plane_sums)
        for (int64_t k = 0; k < p.K; ++k) plane_sums[n * p.K + k] = plane_sum(dyn + k * P, P);
      if (dx)  // image n as the first image of dyn and of dx + n*C*HW
        input_grad_chunk(pl, p, wtp, dyn, 0, 1, dx + n * p.C * HW);
    }
  });
  return true;
}

template <typename T>
void conv2d_backward_bias(int64_t N, int64_t K, int64_t P, const T* dy, T* db) {
  GC_PROFILE_SCOPE("conv2d_backward_bias", N * K * P, sizeof(T) * (N * K * P + K), {N, K, P});
  bias_grad_sum(N, K, P, dy, db, [](const T* v) { return *v; });
}

#define GRADCORE_INSTANTIATE_CONV(T)                                                      \
  template void conv2d_forward<T>(const Window2d&, const T*, const T*, const T*, T*);     \
  template void conv2d_backward_input<T>(const Window2d&, const T*, const T*, T*);        \
  template void conv2d_backward_weight<T>(const Window2d&, const T*, const T*, T*);       \
  template void conv2d_backward_bias<T>(int64_t, int64_t, int64_t, const T*, T*);         \
  template bool conv2d_forward_by_image<T>(const Window2d&, const T*, const T*, const T*, \
                                           const ImageSink<T>&);                          \
  template bool conv2d_backward_by_image<T>(const Window2d&, const T*, const T*,          \
                                            const ImageSource<T>&, T*, T*, T*);
GRADCORE_INSTANTIATE_CONV(float)
GRADCORE_INSTANTIATE_CONV(double)
#undef GRADCORE_INSTANTIATE_CONV

}  // namespace gradcore
