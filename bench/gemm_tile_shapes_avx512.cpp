// Measures candidate AVX-512 float micro-tile shapes (MR x NR) on this machine: the tile kernel
// of csrc/cpu/gemm/kernel_avx512.cpp (included, so the code measured is the code shipped) run
// over a packed A block (about 144 rows x KC, or 64 or 128 rows, as convolutions have) against
// packed B panels (KC x NR, 768 columns in all), as the GEMM driver's inner loops do, the last
// partial row tile by an edge tile. Prints GFLOP/s per shape and case.
// Build and run (the results for Zen 4 are in docs/gemm_tuning.md):
//   g++ -O3 -std=c++17 -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx2 -mfma -Icsrc \
//       bench/gemm_tile_shapes_avx512.cpp -o /tmp/tile_shapes && /tmp/tile_shapes
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "cpu/gemm/kernel_avx512.cpp"

namespace {

constexpr int64_t kCols = 768;  // a multiple of every candidate NR (32, 48, 64)

// One timed pass of shape MR x 16V over an A block of M rows (M = 0: about 144, a multiple of
// MR) at this KC, a last partial row tile by the edge tile of M % MR rows: GFLOP/s.
template <int MR, int V, int M>
double gflops(int64_t kc) {
  constexpr int NR = 16 * V;
  constexpr int64_t mc = M > 0 ? M : (144 + MR - 1) / MR * MR;
  constexpr int kTail = static_cast<int>(mc % MR);
  static std::vector<float> a, b, c;
  a.assign(static_cast<size_t>((mc + MR) * kc), 0.5f);
  b.assign(static_cast<size_t>(kc * kCols), 0.25f);
  c.assign(static_cast<size_t>(mc * kCols), 0.0f);
  const double flops = 2.0 * mc * kCols * kc;
  const int reps = static_cast<int>(3e8 / flops) + 1;
  const auto t0 = std::chrono::steady_clock::now();
  for (int r = 0; r < reps; ++r)
    for (int64_t jr = 0; jr < kCols; jr += NR) {
      int64_t ir = 0;
      for (; ir + MR <= mc; ir += MR)
        gradcore::avx512::tile<gradcore::avx512::Zmm<float>, MR, MR, V>(kc, a.data() + ir * kc, b.data() + jr * kc, NR,
                                                 c.data() + ir * kCols + jr, kCols, 1.0f, NR);
      if constexpr (kTail > 0)
        gradcore::avx512::tile<gradcore::avx512::Zmm<float>, MR, kTail, V>(kc, a.data() + ir * kc, b.data() + jr * kc, NR,
                                                    c.data() + ir * kCols + jr, kCols, 1.0f, NR);
    }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return flops * reps / s / 1e9;
}

using Fn = double (*)(int64_t);
constexpr int kCases = 6;  // KC = 128, 192, 256, 384 (about 144 rows); 64 and 128 rows at KC 256
struct Shape {
  const char* name;
  Fn f[kCases];
};
template <int MR, int V>
constexpr Shape shape(const char* name) {
  return {name,
          {&gflops<MR, V, 0>, &gflops<MR, V, 0>, &gflops<MR, V, 0>, &gflops<MR, V, 0>,
           &gflops<MR, V, 64>, &gflops<MR, V, 128>}};
}
const Shape kShapes[] = {shape<6, 2>("6x32"),   shape<8, 2>("8x32"), shape<12, 2>("12x32"),
                         shape<14, 2>("14x32"), shape<6, 3>("6x48"), shape<8, 3>("8x48"),
                         shape<4, 4>("4x64"),   shape<6, 4>("6x64")};
constexpr int kShapeCount = sizeof(kShapes) / sizeof(kShapes[0]);
const int64_t kKcs[kCases] = {128, 192, 256, 384, 256, 256};

}  // namespace

// The machine is shared: shapes are timed round-robin (every shape and KC once per round) and
// each keeps its best round, the one least disturbed by other processes.
int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 20;
  double best[kShapeCount][kCases] = {};
  for (int r = 0; r < rounds; ++r)
    for (int s = 0; s < kShapeCount; ++s)
      for (int q = 0; q < kCases; ++q) best[s][q] = std::max(best[s][q], kShapes[s].f[q](kKcs[q]));
  std::printf("best of %d rounds, GFLOP/s, 1 thread\n", rounds);
  std::printf("        about 144 rows at KC = ...     KC = 256 with\n");
  std::printf("shape     128     192     256     384  64 rows 128 rows\n");
  for (int s = 0; s < kShapeCount; ++s) {
    std::printf("%-6s", kShapes[s].name);
    for (int q = 0; q < kCases; ++q) std::printf("  %6.1f", best[s][q]);
    std::printf("\n");
  }
  return 0;
}
