#include "cpu/gemm/gemm_bf16.h"

#include <algorithm>
#include <vector>

#include "core/cpu_features.h"
#include "core/parallel.h"
#include "cpu/convert.h"
#include "cpu/gemm/gemm.h"
#include "profiler/profiler.h"

namespace gradcore {
namespace {

// Rows of C per task on the AVX512_BF16 route: 96 rows of A (96 x K bfloat16, 384 KiB at
// K = 2048) stay in a Zen 4 core's 1 MiB L2 while the task sweeps its group of B panels.
constexpr int64_t kRowsPerTask = 96;
constexpr int64_t kPanel = 32;
constexpr int64_t kPanelsPerTask = 4;  // B panels a task packs and sweeps together
constexpr int64_t kStripRows = 8;      // rows of A swept across them at a time (one tile)

bool use_avx512_bf16() {
#if GRADCORE_ISA_AVX512BF16
  return at_least(CpuCapability::kAvx512) && cpu_has_avx512_bf16();
#else
  return false;
#endif
}

// dst (rows x cols, ld cols) = the float32 values of src (rows x cols, ld lds): one pass when
// src is contiguous, else one per row.
void widen(const uint16_t* src, int64_t lds, int64_t rows, int64_t cols, float* dst) {
  if (lds == cols) return bfloat16_to_float(src, dst, rows * cols);
  for (int64_t r = 0; r < rows; ++r) bfloat16_to_float(src + r * lds, dst + r * cols, cols);
}

}  // namespace

const char* gemm_bf16_route() {
  return use_avx512_bf16() ? "avx512_bf16" : "float32";
}

bool gemm_bf16_native() {
  return use_avx512_bf16();
}

void gemm_bf16(bool trans_b, int64_t M, int64_t N, int64_t K, const uint16_t* A, int64_t lda,
               const uint16_t* B, int64_t ldb, float* C, int64_t ldc, bool accumulate) {
  GC_PROFILE_SCOPE("gemm_bf16", 2.0 * M * N * K, 2.0 * (M * K + K * N) + 4.0 * M * N, {M, N, K});
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    if (accumulate) return;
    for (int64_t i = 0; i < M; ++i) std::fill(C + i * ldc, C + i * ldc + N, 0.0f);
    return;
  }
#if GRADCORE_ISA_AVX512BF16
  if (use_avx512_bf16()) {
    // Tasks: (group of kPanelsPerTask 32-column panels, block of kRowsPerTask rows); each
    // packs its group of B, then sweeps it 8 rows at a time, so a tile's rows of C are
    // written as runs of up to kPanelsPerTask * 128 bytes.
    const int64_t panels = (N + kPanel - 1) / kPanel;
    const int64_t groups = (panels + kPanelsPerTask - 1) / kPanelsPerTask;
    const int64_t blocks = (M + kRowsPerTask - 1) / kRowsPerTask;
    const size_t panel_size = static_cast<size_t>((K + 1) / 2 * 64);
    parallel_for(groups * blocks, 1, [&](int64_t t0, int64_t t1) {
      std::vector<uint16_t> packed_b(panel_size * kPanelsPerTask);
      int64_t packed = -1;
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t jg = t / blocks, ib = t % blocks;
        const int64_t p0 = jg * kPanelsPerTask, np = std::min(kPanelsPerTask, panels - p0);
        if (packed != jg) {
          for (int64_t q = 0; q < np; ++q) {
            const int64_t j0 = (p0 + q) * kPanel;
            avx512bf16::pack_b_panel(trans_b, B, ldb, K, j0, std::min(kPanel, N - j0),
                                     packed_b.data() + q * panel_size);
          }
          packed = jg;
        }
        const int64_t i0 = ib * kRowsPerTask, i1 = std::min(M, i0 + kRowsPerTask);
        for (int64_t r0 = i0; r0 < i1; r0 += kStripRows)
          for (int64_t q = 0; q < np; ++q) {
            const int64_t j0 = (p0 + q) * kPanel;
            avx512bf16::panel_rows(A, lda, K, r0, std::min(i1, r0 + kStripRows),
                                   packed_b.data() + q * panel_size, std::min(kPanel, N - j0),
                                   C + j0, ldc, accumulate);
          }
      }
    });
    return;
  }
#endif
  // Widened to float32: the float GEMM on exact products.
  std::vector<float> a(static_cast<size_t>(M * K));
  std::vector<float> b(static_cast<size_t>(K * N));
  widen(A, lda, M, K, a.data());
  if (trans_b)
    widen(B, ldb, N, K, b.data());
  else
    widen(B, ldb, K, N, b.data());
  gemm<float>(false, trans_b, M, N, K, 1.0f, a.data(), K, b.data(), trans_b ? K : N,
              accumulate ? 1.0f : 0.0f, C, ldc);
}

}  // namespace gradcore
