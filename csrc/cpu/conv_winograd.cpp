// Winograd F(2x2, 3x3) convolution: the driver (blocks, filter transform, GEMMs, dispatch of
// the tile transforms to the path's ISA file). The formulas: conv_winograd.h.
#include "cpu/conv_winograd.h"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <vector>

#include "core/cpu_features.h"
#include "core/cpu_path_tuning.h"
#include "core/parallel.h"
#include "core/workspace.h"
#include "cpu/gemm/gemm.h"
#include "cpu/work_units.h"

namespace gradcore {
namespace {

std::atomic<bool> g_enabled{true};

// Below this many output pixels per image the partial tiles at the edges waste too much.
// The least channel count is the path's (CpuPathTuning::winograd_min_channels).
constexpr int64_t kMinOutputPixels = 36;  // OH * OW
// A block is at least one row of tiles: a layer whose V and M for one tile row (16 x (C + K) x
// tiles floats) pass this takes the GEMM algorithm (wider than about 2000 output columns at
// 64 + 64 channels, 256 at 512 + 512).
constexpr int64_t kMaxTileRowBytes = 8 << 20;
// Blocking: a block holds whole images, about kBlockTiles tiles, and its V and M (16 x
// (Cin + Cout) x tiles floats) within kBlockBytes, so they stay in L2 between the transforms
// and the GEMMs.
constexpr int64_t kBlockTiles = 96;
// The weight gradient's GEMMs reduce over a block's tiles, so it asks for deeper blocks (still
// capped by kBlockBytes; 96-512 measured within noise of each other on (64,32,14,14,64) and
// (128,128,16,16,128)).
constexpr int64_t kWeightGradBlockTiles = 512;
constexpr int64_t kBlockBytes = 2 << 20;
constexpr int64_t kPlaneSkew = 32;  // floats (see run)
// Filters transformed (3x3 to 4x4) worth a thread of their own (estimated at about 30 us).
constexpr int64_t kFiltersPerThread = 1024;

// The transforms' signatures (conv_winograd.h, namespace avx512, for the parameters).
using InputPlaneFn = decltype(&avx512::winograd_input_plane);
using OutputPlaneFn = decltype(&avx512::winograd_output_plane);
using OutputGradPlaneFn = decltype(&avx512::winograd_output_grad_plane);

struct Transforms {
  InputPlaneFn input;
  OutputPlaneFn output;
  OutputGradPlaneFn output_grad;
};

// The selected path's tile transforms (the same additions in the same order on every path,
// and no multiplies to contract into FMAs: the same bits everywhere); none on a path that
// never takes Winograd (winograd_ok checks has_transforms).
Transforms transforms() {
#if GRADCORE_ISA_AVX512
  if (at_least(CpuCapability::kAvx512))
    return {&avx512::winograd_input_plane, &avx512::winograd_output_plane,
            &avx512::winograd_output_grad_plane};
#endif
#if GRADCORE_ISA_AVX2_FMA
  if (at_least(CpuCapability::kAvx2Fma))
    return {&avx2_fma::winograd_input_plane, &avx2_fma::winograd_output_plane,
            &avx2_fma::winograd_output_grad_plane};
#endif
  return {nullptr, nullptr, nullptr};
}

bool has_transforms() {
  return transforms().input != nullptr;
}

// U = G g G^T for one 3x3 filter g (row-major): u[xi], xi = 4*i + j.
void transform_filter(const float g[9], float u[16]) {
  float t[4][3];  // G g
  for (int s = 0; s < 3; ++s) {
    const float g0 = g[s], g1 = g[3 + s], g2 = g[6 + s];
    t[0][s] = g0;
    t[1][s] = 0.5f * (g0 + g1 + g2);
    t[2][s] = 0.5f * (g0 - g1 + g2);
    t[3][s] = g2;
  }
  for (int i = 0; i < 4; ++i) {
    const float a = t[i][0], b = t[i][1], c = t[i][2];
    u[4 * i] = a;
    u[4 * i + 1] = 0.5f * (a + b + c);
    u[4 * i + 2] = 0.5f * (a - b + c);
    u[4 * i + 3] = c;
  }
}

// dg = G^T dU G for one filter's 16 values du[xi * stride] (xi = 4*i + j): the 3x3 gradient.
void transform_filter_grad(const float* du, int64_t stride, float dg[9]) {
  float h[4][3];  // dU G
  for (int i = 0; i < 4; ++i) {
    const float a = du[(4 * i) * stride], b = du[(4 * i + 1) * stride];
    const float c = du[(4 * i + 2) * stride], d = du[(4 * i + 3) * stride];
    h[i][0] = a + 0.5f * (b + c);
    h[i][1] = 0.5f * (b - c);
    h[i][2] = 0.5f * (b + c) + d;
  }
  for (int s = 0; s < 3; ++s) {
    const float a = h[0][s], b = h[1][s], c = h[2][s], d = h[3][s];
    dg[s] = a + 0.5f * (b + c);
    dg[3 + s] = 0.5f * (b - c);
    dg[6 + s] = 0.5f * (b + c) + d;
  }
}

// Bytes of one tile's V and M: 16 floats per input and per output channel.
int64_t tile_bytes(int64_t cin, int64_t cout) {
  return 16 * (cin + cout) * int64_t(sizeof(float));
}

// One Winograd convolution: in (N, Cin, H, W) -> out (N, Cout, OH, OW), padding ph, pw.
// A block holds nb whole images, or, when one image's tiles pass the block budget, one image
// cut into bands of `band` tile rows, done one after the other (band == TH otherwise).
struct Problem {
  int64_t N, Cin, Cout, H, W, ph, pw, OH, OW;
  int64_t TH, TW, TT;  // tiles per column, per row, per image
  int64_t nb, band;    // images per block; tile rows per band
  int64_t Tb;          // tiles per block or band (the GEMMs' columns at most)
};

Problem make_problem(int64_t N, int64_t Cin, int64_t Cout, int64_t H, int64_t W, int64_t ph,
                     int64_t pw, int64_t block_tiles = kBlockTiles) {
  Problem q{N, Cin, Cout, H, W, ph, pw, H + 2 * ph - 2, W + 2 * pw - 2, 0, 0, 0, 0, 0, 0};
  q.TH = (q.OH + 1) / 2;
  q.TW = (q.OW + 1) / 2;
  q.TT = q.TH * q.TW;
  const int64_t tb = tile_bytes(Cin, Cout);
  if (q.TT * tb <= kBlockBytes) {
    q.nb = std::clamp<int64_t>((block_tiles + q.TT - 1) / q.TT, 1, std::max<int64_t>(N, 1));
    while (q.nb > 1 && q.nb * q.TT * tb > kBlockBytes) --q.nb;
    q.band = q.TH;
    q.Tb = q.nb * q.TT;
  } else {
    q.nb = 1;
    q.band = std::clamp<int64_t>(kBlockBytes / (q.TW * tb), 1, q.TH);
    q.Tb = q.band * q.TW;
  }
  return q;
}

// Calls f(n0, nn, ti0, ti1) for each piece of block b in order: its nn images' tile rows
// [ti0, ti1) (all of them, or one band of its one image).
template <class F>
void for_pieces(const Problem& q, int64_t b, const F& f) {
  const int64_t n0 = b * q.nb, nn = std::min(q.nb, q.N - n0);
  for (int64_t ti0 = 0; ti0 < q.TH; ti0 += q.band) f(n0, nn, ti0, std::min(q.TH, ti0 + q.band));
}

// The 16 transformed filters, packed for the GEMM: filters(o, i) is the 3x3 filter from input
// channel i to output channel o, read through `at` (flipped or not).
// Both loops run on the threads, a thread taking at least kFiltersPerThread filters (serial,
// they held back the 2-thread forward and input gradient by 8-19%: docs/conv_winograd.md).
template <class FilterAt>
std::vector<PackedA<float>> pack_filters(const Problem& q, const FilterAt& at) {
  std::vector<float> u(static_cast<size_t>(16 * q.Cout * q.Cin));
  const int64_t plane = q.Cout * q.Cin;
  const auto transform_rows = [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o)
      for (int64_t i = 0; i < q.Cin; ++i) {
        float g[9], t[16];
        at(o, i, g);
        transform_filter(g, t);
        for (int xi = 0; xi < 16; ++xi) u[static_cast<size_t>(xi * plane + o * q.Cin + i)] = t[xi];
      }
  };
  parallel_for(q.Cout, std::max<int64_t>(1, kFiltersPerThread / q.Cin), transform_rows);
  std::vector<PackedA<float>> packs(16);
  const auto pack_planes = [&](int64_t x0, int64_t x1) {
    for (int64_t xi = x0; xi < x1; ++xi)
      packs[static_cast<size_t>(xi)].pack(false, q.Cout, q.Cin, 1.0f, u.data() + xi * plane, q.Cin,
                                          q.Tb);
  };
  parallel_for(16, std::max<int64_t>(1, 16 * kFiltersPerThread / plane), pack_planes);
  return packs;
}

// The 16 planes of V (Cin x Tb) and of M (Cout x Tb) sit kPlaneSkew floats further apart than
// their size: a power-of-two plane stride would put the 16 streams of a transform in the same
// L1 sets (measured: 3x slower transforms at C = 128).
int64_t plane_stride(int64_t channels, const Problem& q) {
  return channels * q.Tb + kPlaneSkew;
}

// V (16 planes of ldv, row c at c * Tb) = the input transform of tile rows [ti0, ti1) of images
// [n0, n0 + nn) of in (N, Cin, H, W), image i's tiles from column i * (ti1 - ti0) * TW.
void transform_inputs(const Problem& q, const Transforms& tf, const float* in, int64_t n0,
                      int64_t nn, int64_t ti0, int64_t ti1, float* V, int64_t ldv) {
  const int64_t tiles = (ti1 - ti0) * q.TW, HW = q.H * q.W;
  for (int64_t i = 0; i < nn; ++i)
    for (int64_t c = 0; c < q.Cin; ++c)
      tf.input(in + ((n0 + i) * q.Cin + c) * HW, q.H, q.W, q.ph, q.pw, ti0, ti1, q.TW,
               V + c * q.Tb + i * tiles, ldv);
}

// Runs the blocks: per piece, V = input transform, M_xi = U_xi @ V_xi, out = output transform.
void run(const Problem& q, const float* in, const std::vector<PackedA<float>>& packs,
         const float* bias, float* out, const ImageSink<float>* sink) {
  const Transforms tf = transforms();
  const int64_t nblocks = (q.N + q.nb - 1) / q.nb, P = q.OH * q.OW;
  const int64_t ldv = plane_stride(q.Cin, q), ldm = plane_stride(q.Cout, q);
  const size_t vsize = static_cast<size_t>(16 * ldv), msize = static_cast<size_t>(16 * ldm);
  const double flops = 2.0 * 16 * q.Cout * q.Cin * q.nb * q.TT;
  for_units(nblocks, flops, [&](int64_t b0, int64_t b1) {
    float* V = thread_scratch<float>(kSlotColumns, vsize);
    float* M = thread_scratch<float>(kSlotScratch, msize);
    float* image =
        sink ? thread_scratch<float>(kSlotImageOut, static_cast<size_t>(q.Cout * P)) : nullptr;
    for (int64_t b = b0; b < b1; ++b)
      for_pieces(q, b, [&](int64_t n0, int64_t nn, int64_t ti0, int64_t ti1) {
        const int64_t tiles = (ti1 - ti0) * q.TW;  // per image of the piece
        transform_inputs(q, tf, in, n0, nn, ti0, ti1, V, ldv);
        for (int xi = 0; xi < 16; ++xi)
          gemm_packed<float>(packs[static_cast<size_t>(xi)], nn * tiles, false, V + xi * ldv, q.Tb,
                             0.0f, M + xi * ldm, q.Tb);
        for (int64_t i = 0; i < nn; ++i) {
          float* on = sink ? image : out + (n0 + i) * q.Cout * P;
          for (int64_t k = 0; k < q.Cout; ++k)
            tf.output(M + k * q.Tb + i * tiles, ldm, ti0, ti1, q.TW, bias ? bias[k] : 0.0f,
                      on + k * P, q.OH, q.OW);
          if (sink && ti1 == q.TH) sink->fn(sink->ctx, n0 + i, image);
        }
      });
  });
}

}  // namespace

void set_winograd_enabled(bool enabled) {
  g_enabled.store(enabled, std::memory_order_relaxed);
}

bool winograd_enabled() {
  return g_enabled.load(std::memory_order_relaxed);
}

bool winograd_ok(const Window2d& p) {
  const int64_t min_channels = cpu_path_tuning().winograd_min_channels;
  return winograd_enabled() && min_channels > 0 && has_transforms() && p.R == 3 && p.S == 3 &&
         p.sh == 1 && p.sw == 1 && p.dh == 1 && p.dw == 1 && p.groups == 1 && p.ph <= 2 &&
         p.pw <= 2 && p.C >= min_channels && p.K >= min_channels &&
         p.OH * p.OW >= kMinOutputPixels && p.N > 0 &&
         tile_bytes(p.C, p.K) * ((std::max(p.OW, p.W) + 1) / 2) <= kMaxTileRowBytes;
}

bool winograd_input_grad_ok(const Window2d& p) {
  return winograd_ok(p) && p.H * p.W >= kMinOutputPixels;
}

void winograd_conv2d_forward(const Window2d& p, const float* x, const float* w, const float* bias,
                             float* y, const ImageSink<float>* sink) {
  const Problem q = make_problem(p.N, p.C, p.K, p.H, p.W, p.ph, p.pw);
  const auto packs = pack_filters(q, [&](int64_t k, int64_t c, float g[9]) {
    for (int rs = 0; rs < 9; ++rs) g[rs] = w[(k * p.C + c) * 9 + rs];
  });
  run(q, x, packs, bias, y, sink);
}

void winograd_conv2d_backward_input(const Window2d& p, const float* dy, const float* w, float* dx) {
  // dx = conv(dy, w'), w'[c][k][r][s] = w[k][c][2-r][2-s], padding 2 - p: dy planes in.
  const Problem q = make_problem(p.N, p.K, p.C, p.OH, p.OW, 2 - p.ph, 2 - p.pw);
  const auto packs = pack_filters(q, [&](int64_t c, int64_t k, float g[9]) {
    for (int rs = 0; rs < 9; ++rs) g[rs] = w[(k * p.C + c) * 9 + (8 - rs)];
  });
  run(q, dy, packs, nullptr, dx, nullptr);
}

void winograd_conv2d_backward_weight(const Window2d& p, const float* dy, const float* x,
                                     float* dw) {
  const Problem q =
      make_problem(p.N, p.C, p.K, p.H, p.W, p.ph, p.pw, kWeightGradBlockTiles);  // x planes in
  const Transforms tf = transforms();
  const int64_t nblocks = (q.N + q.nb - 1) / q.nb, P = q.OH * q.OW;
  const int64_t ldv = plane_stride(q.Cin, q), ldm = plane_stride(q.Cout, q);
  const int64_t KC = q.Cout * q.Cin;
  std::vector<float> du(static_cast<size_t>(16 * KC));  // dU_xi (K x C), xi-major
  const double flops = 2.0 * 16 * KC * q.N * q.TT;
  sum_over_work_groups(
      nblocks, 16 * KC, flops, du.data(), [&](int64_t b0, int64_t b1, float* part) {
        float* V = thread_scratch<float>(kSlotColumns, static_cast<size_t>(16 * ldv));
        float* M = thread_scratch<float>(kSlotScratch, static_cast<size_t>(16 * ldm));
        float beta = 0.0f;  // the group's first piece overwrites its part
        for (int64_t b = b0; b < b1; ++b)
          for_pieces(q, b, [&](int64_t n0, int64_t nn, int64_t ti0, int64_t ti1) {
            const int64_t tiles = (ti1 - ti0) * q.TW;
            transform_inputs(q, tf, x, n0, nn, ti0, ti1, V, ldv);
            for (int64_t i = 0; i < nn; ++i)
              for (int64_t k = 0; k < q.Cout; ++k)
                tf.output_grad(dy + ((n0 + i) * q.Cout + k) * P, q.OH, q.OW, ti0, ti1, q.TW,
                               M + k * q.Tb + i * tiles, ldm);
            for (int xi = 0; xi < 16; ++xi)  // dU_xi (+)= dM_xi (K x tiles) @ V_xi^T (tiles x C)
              gemm<float>(false, true, q.Cout, q.Cin, nn * tiles, 1.0f, M + xi * ldm, q.Tb,
                          V + xi * ldv, q.Tb, beta, part + xi * KC, q.Cin);
            beta = 1.0f;
          });
      });
  for (int64_t kc = 0; kc < KC; ++kc) transform_filter_grad(du.data() + kc, KC, dw + kc * 9);
}

}  // namespace gradcore
