// Per-path tuning: the numbers each ISA path supplies for itself (micro-kernel shape, cache
// blocking, the caches they were tuned for, peak FLOPs per cycle) instead of portable code
// hard-coding one CPU's. Measurements behind them: docs/gemm_tuning.md.
#pragma once
#include <cstdint>

#include "core/cpu_features.h"

namespace gradcore {

// GEMM register tile and cache blocks for one element type: mc % mr == 0, nc % nr == 0.
struct GemmBlocking {
  int mr, nr;          // micro-tile (MR x NR)
  int64_t mc, kc, nc;  // A block MC x KC (L2), B panel KC x NR (L1), B block KC x NC (L3)
};

// Which PanelSource packers an implicit convolution uses for float.
enum class ConvPacker { kGeneric, kAvx2Panel16, kAvx512Panel32 };

struct CpuPathTuning {
  const char* name;  // the capability name, e.g. "avx2_fma"
  GemmBlocking gemm_f32, gemm_f64;
  int64_t l1d_bytes, l2_bytes;  // the per-core caches the blocking was tuned for
  // The GEMM driver's cache budgets (bytes), measured on the tuning CPU:
  int64_t in_place_b_bytes;  // largest KC block of B read in place instead of packed
  int64_t c_block_bytes;     // C block kept in L2 across KC blocks (pre-packed A)
  int64_t group_bytes;       // B panels packed per pass when each panel is used once
  int flops_per_cycle_f32, flops_per_cycle_f64;  // per core: FMA units x lanes x 2
  ConvPacker conv_packer;
  // Float 3x3 stride-1 convolutions with at least this many input and output channels run
  // their forward and input gradient as Winograd F(2x2, 3x3) (cpu/conv_winograd.h); 0: never.
  // Measured per path: docs/conv_winograd.md.
  int64_t winograd_min_channels;
};

// The tuning of path c (the highest implemented path at or below c).
const CpuPathTuning& cpu_path_tuning(CpuCapability c);

// The tuning of the selected path.
inline const CpuPathTuning& cpu_path_tuning() {
  return cpu_path_tuning(cpu_capability());
}

}  // namespace gradcore
