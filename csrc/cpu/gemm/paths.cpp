// The GEMM paths and their tuning, one table per ISA path, and the choice between them by the
// selected capability (core/cpu_features.h). Portable code: it only takes the addresses of the
// ISA functions declared in gemm_isa.h. How the numbers were measured: docs/gemm_tuning.md.
#include <atomic>
#include <type_traits>

#include "core/cpu_features.h"
#include "core/cpu_path_tuning.h"
#include "cpu/gemm/gemm.h"
#include "cpu/gemm/gemm_internal.h"
#include "cpu/gemm/gemm_isa.h"

namespace gradcore {
namespace {

using gemm_detail::GemmPath;
using gemm_detail::pack_a_generic;
using gemm_detail::pack_b_generic;

// Portable path (any CPU; tuned on the same Zen 3 as AVX2). Peak: SSE2, 4 float lanes x
// (1 add + 1 mul) x 2 pipes = 8 float / 4 double FLOPs per cycle.
const CpuPathTuning kGenericTuning{"generic",
                                   {generic::kGemmMrF32, generic::kGemmNrF32, 128, 256, 4096},
                                   {generic::kGemmMrF64, generic::kGemmNrF64, 64, 256, 4096},
                                   32 * 1024,   // L1d
                                   512 * 1024,  // L2
                                   256 * 1024,  // in_place_b_bytes
                                   128 * 1024,  // c_block_bytes
                                   128 * 1024,  // group_bytes
                                   8,
                                   4,
                                   ConvPacker::kGeneric,
                                   0};  // Winograd: off (portable transforms)

const GemmPath<float> kGenericF32{kGenericTuning.gemm_f32.mr,
                                  kGenericTuning.gemm_f32.nr,
                                  kGenericTuning.gemm_f32.mc,
                                  kGenericTuning.gemm_f32.kc,
                                  kGenericTuning.gemm_f32.nc,
                                  &generic::sgemm_kernel,
                                  &generic::sgemm_edge_tile,
                                  &pack_a_generic<float, generic::kGemmMrF32>,
                                  &pack_b_generic<float, generic::kGemmNrF32>,
                                  nullptr,
                                  nullptr,
                                  &kGenericTuning};

const GemmPath<double> kGenericF64{kGenericTuning.gemm_f64.mr,
                                   kGenericTuning.gemm_f64.nr,
                                   kGenericTuning.gemm_f64.mc,
                                   kGenericTuning.gemm_f64.kc,
                                   kGenericTuning.gemm_f64.nc,
                                   &generic::dgemm_kernel,
                                   &generic::dgemm_edge_tile,
                                   &pack_a_generic<double, generic::kGemmMrF64>,
                                   &pack_b_generic<double, generic::kGemmNrF64>,
                                   nullptr,
                                   nullptr,
                                   &kGenericTuning};

#if GRADCORE_ISA_AVX2_FMA
// AVX2 + FMA, tuned on Zen 3 (32 KiB L1d, 512 KiB L2 per core): a 16 KiB B micro-panel
// (256 x 16 floats) in L1d, a 144 KiB A block (144 x 256) in L2, the B block (256 x 4080,
// 4 MiB) in L3. Peak: 2 FMA units x 8 float lanes x 2 = 32 float / 16 double FLOPs per cycle.
const CpuPathTuning kAvx2FmaTuning{"avx2_fma",
                                   {avx2_fma::kGemmMrF32, avx2_fma::kGemmNrF32, 144, 256, 4080},
                                   {avx2_fma::kGemmMrF64, avx2_fma::kGemmNrF64, 96, 256, 4080},
                                   32 * 1024,   // L1d
                                   512 * 1024,  // L2
                                   256 * 1024,  // in_place_b_bytes
                                   128 * 1024,  // c_block_bytes
                                   128 * 1024,  // group_bytes
                                   32,
                                   16,
                                   ConvPacker::kAvx2Panel16,
                                   64};  // Winograd from 64 channels

const GemmPath<float> kAvx2FmaF32{
    kAvx2FmaTuning.gemm_f32.mr,  kAvx2FmaTuning.gemm_f32.nr,    kAvx2FmaTuning.gemm_f32.mc,
    kAvx2FmaTuning.gemm_f32.kc,  kAvx2FmaTuning.gemm_f32.nc,    &avx2_fma::sgemm_kernel,
    &avx2_fma::sgemm_edge_tile,  &avx2_fma::sgemm_pack_a,       &avx2_fma::sgemm_pack_b,
    &avx2_fma::sgemm_tall_tiles, &avx2_fma::sgemm_narrow_panel, &kAvx2FmaTuning};

// double packs A with the portable packer (compiled here, for the baseline ISA).
const GemmPath<double> kAvx2FmaF64{kAvx2FmaTuning.gemm_f64.mr,
                                   kAvx2FmaTuning.gemm_f64.nr,
                                   kAvx2FmaTuning.gemm_f64.mc,
                                   kAvx2FmaTuning.gemm_f64.kc,
                                   kAvx2FmaTuning.gemm_f64.nc,
                                   &avx2_fma::dgemm_kernel,
                                   &avx2_fma::dgemm_edge_tile,
                                   &pack_a_generic<double, avx2_fma::kGemmMrF64>,
                                   &avx2_fma::dgemm_pack_b,
                                   nullptr,
                                   nullptr,
                                   &kAvx2FmaTuning};
#endif

#if GRADCORE_ISA_AVX512
// AVX-512 F+BW+VL+DQ, tuned on Zen 4 (32 KiB L1d, 1 MiB L2 per core): 8x32 float tiles (16
// zmm accumulators); a 32 KiB B micro-panel (256 x 32 floats) through L1d, a 144 KiB A block
// (144 x 256) in L2, the B block (256 x 4096, 4 MiB) in L3. Double: 8x16 tiles, MC = 112,
// KC = 256. Peak: Zen 4 executes a 512-bit FMA as two 256-bit halves on its two FMA
// units, so 32 float / 16 double FLOPs per cycle per core, as with AVX2 (a CPU with two
// 512-bit FMA units would do twice that; this table is Zen 4's). The driver's cache budgets
// are those of the AVX2 path. Measurements: docs/gemm_tuning.md.
const CpuPathTuning kAvx512Tuning{"avx512",
                                  {avx512::kGemmMrF32, avx512::kGemmNrF32, 144, 256, 4096},
                                  {avx512::kGemmMrF64, avx512::kGemmNrF64, 112, 256, 4096},
                                  32 * 1024,    // L1d
                                  1024 * 1024,  // L2
                                  256 * 1024,   // in_place_b_bytes
                                  128 * 1024,   // c_block_bytes
                                  128 * 1024,   // group_bytes
                                  32,
                                  16,
                                  ConvPacker::kAvx512Panel32,
                                  16};  // Winograd from 16 channels

const GemmPath<float> kAvx512F32{kAvx512Tuning.gemm_f32.mr,
                                 kAvx512Tuning.gemm_f32.nr,
                                 kAvx512Tuning.gemm_f32.mc,
                                 kAvx512Tuning.gemm_f32.kc,
                                 kAvx512Tuning.gemm_f32.nc,
                                 &avx512::sgemm_kernel,
                                 &avx512::sgemm_edge_tile,
                                 &avx512::sgemm_pack_a,
                                 &avx512::sgemm_pack_b,
                                 nullptr,
                                 nullptr,
                                 &kAvx512Tuning};

const GemmPath<double> kAvx512F64{kAvx512Tuning.gemm_f64.mr,
                                  kAvx512Tuning.gemm_f64.nr,
                                  kAvx512Tuning.gemm_f64.mc,
                                  kAvx512Tuning.gemm_f64.kc,
                                  kAvx512Tuning.gemm_f64.nc,
                                  &avx512::dgemm_kernel,
                                  &avx512::dgemm_edge_tile,
                                  &avx512::dgemm_pack_a,
                                  &avx512::dgemm_pack_b,
                                  nullptr,
                                  nullptr,
                                  &kAvx512Tuning};
#endif

}  // namespace

const CpuPathTuning& cpu_path_tuning(CpuCapability c) {
#if GRADCORE_ISA_AVX512
  if (static_cast<int>(c) >= static_cast<int>(CpuCapability::kAvx512)) return kAvx512Tuning;
#endif
#if GRADCORE_ISA_AVX2_FMA
  if (static_cast<int>(c) >= static_cast<int>(CpuCapability::kAvx2Fma)) return kAvx2FmaTuning;
#endif
  (void)c;
  return kGenericTuning;
}

namespace gemm_detail {

template <>
const GemmPath<float>& selected_gemm_path<float>() {
#if GRADCORE_ISA_AVX512
  if (at_least(CpuCapability::kAvx512)) return kAvx512F32;
#endif
#if GRADCORE_ISA_AVX2_FMA
  if (at_least(CpuCapability::kAvx2Fma)) return kAvx2FmaF32;
#endif
  return kGenericF32;
}

template <>
const GemmPath<double>& selected_gemm_path<double>() {
#if GRADCORE_ISA_AVX512
  if (at_least(CpuCapability::kAvx512)) return kAvx512F64;
#endif
#if GRADCORE_ISA_AVX2_FMA
  if (at_least(CpuCapability::kAvx2Fma)) return kAvx2FmaF64;
#endif
  return kGenericF64;
}

namespace {

// The fraction of a path's tile lanes an M x N product uses, times the path's peak:
// (M / M rounded up to MR) * (N / N rounded up to NR) * FLOPs per cycle. n = 0: N is wide.
template <typename T>
double useful_flops_per_cycle(const GemmPath<T>& p, int64_t m, int64_t n) {
  const auto used = [](int64_t v, int tile) {
    return v <= 0 ? 1.0
                  : static_cast<double>(v) / static_cast<double>((v + tile - 1) / tile * tile);
  };
  const int peak =
      std::is_same_v<T, float> ? p.tuning->flops_per_cycle_f32 : p.tuning->flops_per_cycle_f64;
  return used(m, p.mr) * used(n, p.nr) * peak;
}

std::atomic<bool> g_narrow_route{true};

}  // namespace

void set_narrow_route(bool enabled) {
  g_narrow_route.store(enabled);
}

// AVX-512's 8x32 float tile wastes most of its lanes on a product with few rows or columns
// (a 1-channel conv's 9-row input-gradient GEMM, its 9-column weight-gradient GEMM), where the
// AVX2 6x16 tile wastes fewer; on Zen 4 both paths peak at 32 FLOPs per cycle, so the AVX2
// path multiplies those products up to 1.6x faster. The AVX2 path is taken when its useful
// FLOPs per cycle beat the selected path's by more than 10%. Both paths accumulate each
// element of C in the same order, so the choice does not change results.
template <typename T>
const GemmPath<T>& gemm_path_for(int64_t m, int64_t n) {
  const GemmPath<T>& p = selected_gemm_path<T>();
#if GRADCORE_ISA_AVX512 && GRADCORE_ISA_AVX2_FMA
  if (g_narrow_route.load(std::memory_order_relaxed) &&
      (&p == static_cast<const void*>(&kAvx512F32) ||
       &p == static_cast<const void*>(&kAvx512F64))) {
    const GemmPath<T>* narrow;
    if constexpr (std::is_same_v<T, float>)
      narrow = &kAvx2FmaF32;
    else
      narrow = &kAvx2FmaF64;
    if (useful_flops_per_cycle(*narrow, m, n) > 1.1 * useful_flops_per_cycle(p, m, n))
      return *narrow;
  }
#endif
  (void)m;
  (void)n;
  return p;
}

template const GemmPath<float>& gemm_path_for<float>(int64_t, int64_t);
template const GemmPath<double>& gemm_path_for<double>(int64_t, int64_t);

}  // namespace gemm_detail

template <typename T>
GemmTile gemm_tile_for(int64_t m, int64_t n) {
  const gemm_detail::GemmPath<T>& p = gemm_detail::gemm_path_for<T>(m, n);
  return GemmTile{p.tuning->name, p.mr, p.nr};
}

template GemmTile gemm_tile_for<float>(int64_t, int64_t);
template GemmTile gemm_tile_for<double>(int64_t, int64_t);

}  // namespace gradcore
