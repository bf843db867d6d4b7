// long-file: one blocking driver (loop nest, thread split, packing schedule) on shared state.
// BLIS-style blocking driver for gemm<T> (contract in gemm.h). The path (kernels, blocking,
// cache budgets) comes from the selected CPU capability (paths.cpp); the measurements behind
// the rules below are in docs/gemm_tuning.md.
//
// Loops: jc over NC columns -> pc over KC of the inner dimension -> ic over MC rows (pack
// the A block, alpha folded in) -> jr over NR (pack B micro-panels during the first ic
// block, or read B in place) -> ir over MR (micro-kernel). With several ic blocks the last
// two loops go a group of B panels at a time in row order (ir -> jr within the group), so
// that consecutive micro-kernel calls write neighbouring lines of C (block_times_group).
// Panels packed from B itself are packed a group at a time, so that each row of B is read
// as one contiguous run rather than 64 bytes per panel (B rows a power-of-two apart would
// otherwise put a panel's rows in a few cache sets); the next group's source is prefetched
// while the current one computes.
// When all of op(A) fits the A-block budget (few rows: convolutions, wide-N products) it is
// packed once, up front, and shared by the threads (PackedA does the same across calls); the
// NC block is then narrowed so that the C block stays in L2 across the KC blocks.
// Threads: with a single MC block, each thread takes an NR-aligned range of columns and
// packs its own B panels (no barriers); with several MC blocks, the threads share each
// packed B block and split the rows (gemm_shared_b). The KC partition depends on K only and
// every element of C is accumulated in the same k order whatever the thread count, so
// results are bitwise identical for any number of threads.
#include <algorithm>
#include <cstring>

#include "core/cpu_path_tuning.h"
#include "core/parallel.h"
#include "core/workspace.h"
#include "cpu/gemm/gemm.h"
#include "cpu/gemm/gemm_internal.h"
#include "cpu/gemm/gemm_isa.h"
#include "profiler/profiler.h"

namespace gradcore {
namespace {

using gemm_detail::GemmPath;
using gemm_detail::prefetch_rows;

// Below this many multiply-adds per thread, extra threads cost more than they save.
constexpr int64_t kMinWorkPerThread = int64_t{1} << 17;

inline int64_t round_up(int64_t x, int64_t m) {
  return (x + m - 1) / m * m;
}

// Products of up to this many rows are one row block (an A block of up to 1.5x MC rows): as
// MC rows and the rest they would stream B twice, as one block once. Taller products keep
// MC-row blocks (measurements: docs/gemm_tuning.md).
template <typename T>
int64_t single_block_rows(const GemmPath<T>& p) {
  return p.mc * 3 / 2;
}

template <typename T>
struct Problem {
  bool trans_a, trans_b;
  int64_t M, N, K;
  T alpha;
  const T* A;
  int64_t lda;
  const T* B;
  int64_t ldb;
  T beta;
  T* C;
  int64_t ldc;
  int64_t kc;  // KC block used for this K (a function of K only)
};

// Prefetches part [u0, u1) of the source of op(B)'s rows [pc, pc+kc) x columns [j, j+nr) (one
// micro-panel or a group): the units are the kc rows of B (not transposed) or its nr rows
// (transposed).
// Spread over the micro-kernel calls of the previous panel, this hides the latency of the
// strided source reads that packing the panel would otherwise wait for.
template <typename T>
inline void prefetch_b_source(const Problem<T>& pr, int64_t pc, int64_t kc, int64_t j, int64_t nr,
                              int64_t u0, int64_t u1) {
  if (!pr.trans_b)
    prefetch_rows<3>(pr.B + pc * pr.ldb + j, pr.ldb, nr, u0, u1);
  else
    prefetch_rows<3>(pr.B + j * pr.ldb + pc, pr.ldb, kc, u0, u1);
}

// Prefetches into L2 part [u0, u1) of the source of alpha*op(A)'s rows [i0, i0+mc) x columns
// [p0, p0+kc): the units are the mc rows of A (not transposed) or its kc rows (transposed).
template <typename T>
inline void prefetch_a_source(const Problem<T>& pr, int64_t i0, int64_t mc, int64_t p0, int64_t kc,
                              int64_t u0, int64_t u1) {
  if (!pr.trans_a)
    prefetch_rows<2>(pr.A + i0 * pr.lda + p0, pr.lda, kc, u0, u1);
  else
    prefetch_rows<2>(pr.A + p0 * pr.lda + i0, pr.lda, mc, u0, u1);
}

// Up to tuning.in_place_b_bytes of B per KC block (one thread's columns), reading B in place
// can beat packing it; a larger block streams from L3 or memory, and the micro-kernel's
// strided reads of it stall where packing a group at a time reads each row as one prefetched
// run (measurements: docs/gemm_tuning.md).

// Rows of C up to which B may be read in place with a panel larger than L1 allows.
constexpr int64_t kFewRowsInPlace = 36;

// Whether the micro-kernel should read op(B) = B in place instead of packed micro-panels:
// only for a single MC block (each B row segment is used by one pass of micro-tiles); then
// always for one row tile of rows unless B's rows are 4 KiB apart, and for more rows when
// the KC block of the columns [n0, n1) is small enough to be cache-resident and the rows of
// a KC x NR panel spread over enough L1 sets to stay resident (a row stride that is a
// multiple of 1 KiB maps all rows to a few sets, and packing wins).
template <typename T>
bool use_b_in_place(const GemmPath<T>& p, const Problem<T>& pr, int64_t rows, int64_t mc,
                    int64_t cols) {
  if (pr.trans_b || rows > mc) return false;
  const int64_t stride = pr.ldb * static_cast<int64_t>(sizeof(T));
  // One row tile uses each B panel once: packing would only add a copy, whatever the panel's
  // size or the rows' alignment, unless the rows are a multiple of 4 KiB apart (all in one L1
  // set, and 4K-aliased: 0.42-0.52x in place). Measurements: docs/gemm_tuning.md.
  if (rows <= p.mr) return stride % 4096 != 0;
  if (pr.kc * cols * static_cast<int64_t>(sizeof(T)) > p.tuning->in_place_b_bytes) return false;
  int64_t g = 4096;  // gcd(stride, 4096): row starts take 4096 / g positions modulo 4 KiB
  while (stride % g != 0) g /= 2;
  const int64_t l1d_lines = p.tuning->l1d_bytes / 64;  // 512 for 32 KiB
  const int64_t l1d_sets = l1d_lines / 8;              // 8-way: 64 sets of 64 B
  const int64_t sets = std::min<int64_t>(l1d_sets, 4096 / g);
  // A row segment of NR values (64 bytes or less on the AVX2 and portable paths, 128 on
  // AVX-512) takes one cache line more than its width unless rows start line-aligned; the
  // panel's lines must leave most of the L1d (3/4 of its lines) to A and C. With few rows
  // (a panel used by at most 6 row tiles) packing costs more per use, and a panel of up to
  // 9/8 of the L1d's lines, partly read from L2, still wins (docs/gemm_tuning.md).
  const int64_t width_lines = (p.nr * static_cast<int64_t>(sizeof(T)) + 63) / 64;
  const int64_t lines_per_row = width_lines + (stride % 64 == 0 ? 0 : 1);
  const int64_t max_lines = rows <= kFewRowsInPlace ? l1d_lines * 9 / 8 : l1d_lines * 3 / 4;
  return pr.kc <= 4 * sets && pr.kc * lines_per_row <= max_lines;
}

// B micro-panels (kc x nr) in one group of about tuning.group_bytes (the bytes of B panels
// packed in one pass over B's rows when each panel is used once), at least one.
template <typename T>
int64_t panels_per_group(const GemmPath<T>& p, int64_t kc, int nr) {
  const int64_t group_bytes = p.tuning->group_bytes;
  return std::max<int64_t>(1, group_bytes / (static_cast<int64_t>(sizeof(T)) * kc * nr));
}

// Up to this KC the micro-kernels are bound by writing C, not by the FMAs.
constexpr int64_t kSmallKc = 64;

// A before(q) callback that does nothing.
struct NoPrefetch {
  void operator()(int64_t) const {}
};

// C[mc x nrr] (c, row stride ldc) = the packed A block (row tile ir at ablk + ir*kc) @ one B
// micro-panel (nrr <= NR columns at b, row stride ldb) + beta*C, calling before(q) ahead of row
// tile q (the caller spreads prefetches over the calls). Edge tiles with few accumulators
// leave FMA latency exposed, so where the path has the kernels for it a panel of <= NR/4
// columns goes to the row-vectorised narrow kernel, one of <= NR/2 takes its row tiles two at
// a time (tall kernel), one of <= 3NR/4 is split into those two parts, and a short last row tile
// (<= MR/2 rows) is computed together with the full tile above it (tall kernel, which chooses how
// to split those rows).
template <typename T, typename Before>
inline void block_times_panel(const GemmPath<T>& p, int64_t kc, const T* ablk, int64_t mc,
                              const T* b, int64_t ldb, int64_t nrr, T* c, int64_t ldc, T beta,
                              Before&& before) {
  const int mr = p.mr, nr = p.nr, half = nr / 2;
  int64_t ir = 0, q = 0;
  if (p.narrow && p.tall && nrr > half && nrr <= half + nr / 4) {
    // 9-12 of 16 columns: the first 8 by the tall kernel, the rest by the narrow one, instead
    // of a full-width edge tile that computes 16 (docs/gemm_tuning.md).
    block_times_panel(p, kc, ablk, mc, b, ldb, half, c, ldc, beta, before);
    block_times_panel(p, kc, ablk, mc, b + half, ldb, nrr - half, c + half, ldc, beta,
                      NoPrefetch{});
    return;
  }
  if (p.narrow && nrr <= nr / 4) {
    while (ir < mc) {
      const int64_t rows = p.narrow(kc, ablk + ir * kc, static_cast<int>(mc - ir), b, ldb,
                                    c + ir * ldc, ldc, beta, static_cast<int>(nrr));
      for (const int64_t q1 = q + (rows + mr - 1) / mr; q < q1; ++q) before(q);
      ir += rows;
    }
    return;
  }
  if (p.tall && nrr <= half) {
    for (; ir + mr < mc; ir += 2 * mr, q += 2) {
      before(q);
      before(q + 1);
      const int m1 = static_cast<int>(std::min<int64_t>(mr, mc - ir - mr));
      p.tall(kc, ablk + ir * kc, ablk + (ir + mr) * kc, m1, b, ldb, c + ir * ldc, ldc, beta,
             static_cast<int>(nrr));
    }
  }
  const int64_t tail = mc % mr;
  const bool tall_tail = p.tall && nrr > half && tail > 0 && tail <= mr / 2 && mc > mr;
  const int64_t stop = tall_tail ? mc - tail - mr : mc;
  for (; ir < stop; ir += mr, ++q) {
    before(q);
    const int64_t mrr = std::min<int64_t>(mr, mc - ir);
    if (mrr == mr && nrr == nr)
      p.kernel(kc, ablk + ir * kc, b, ldb, c + ir * ldc, ldc, beta);
    else
      p.edge(kc, ablk + ir * kc, b, ldb, c + ir * ldc, ldc, beta, static_cast<int>(mrr),
             static_cast<int>(nrr));
  }
  if (tall_tail) {
    before(q);
    before(q + 1);
    p.tall(kc, ablk + ir * kc, ablk + (ir + mr) * kc, static_cast<int>(tail), b, ldb, c + ir * ldc,
           ldc, beta, static_cast<int>(nrr));
  }
}

// C[mc x ng] (c, row stride ldc) = the packed A block @ a group of packed B micro-panels (bg,
// ng columns, panel jp at bg + jp*nr*kc) + beta*C, in row order: each MR-row tile of A is
// swept along the group's full panels, so that consecutive micro-kernel calls write C lines
// that are adjacent in memory. (The panel order of block_times_panel writes one column of
// tiles, mc rows a row stride apart: with a row stride that is a multiple of 4 KiB all of
// them fall in one L1 set, where they evict the B panel the kernel is reading.) The A row
// tile stays in L1, the group's panels stream from L2. The rows of a partial last row tile
// and a partial last panel go through block_times_panel. before(q) as there.
template <typename T, typename Before>
inline void block_times_group(const GemmPath<T>& p, int64_t kc, const T* ablk, int64_t mc,
                              const T* bg, int64_t ng, T* c, int64_t ldc, T beta, Before&& before) {
  const int mr = p.mr, nr = p.nr;
  const int64_t full = ng / nr, tail = mc % mr;
  // A short last row tile goes with the full tile above it (block_times_panel's tall tail).
  const int64_t left = tail == 0 ? 0 : (p.tall && tail <= mr / 2 && mc > mr ? tail + mr : tail);
  const int64_t rows = mc - left;
  int64_t q = 0;
  auto next = [&](int64_t) { before(q++); };
  for (int64_t ir = 0; ir < rows; ir += mr)
    for (int64_t jp = 0; jp < full; ++jp) {
      before(q++);
      p.kernel(kc, ablk + ir * kc, bg + jp * nr * kc, nr, c + ir * ldc + jp * nr, ldc, beta);
    }
  if (left > 0)
    for (int64_t jp = 0; jp < full; ++jp)
      block_times_panel(p, kc, ablk + rows * kc, left, bg + jp * nr * kc, nr, nr,
                        c + rows * ldc + jp * nr, ldc, beta, next);
  if (ng > full * nr)
    block_times_panel(p, kc, ablk, mc, bg + full * nr * kc, nr, ng - full * nr, c + full * nr, ldc,
                      beta, next);
}

// One MC x NC block of C for a short inner dimension (kc <= kSmallKc), in strip order, a group
// of columns at a time: the group's B panels (about tuning.group_bytes, so that they stay in L2)
// are packed in one pass over B's rows (or read in place), then each MR-row strip of C is swept
// along the group. Only MR rows of C are written at a time (the panel order writes all mc rows
// at once, too many streams for the hardware prefetchers once C leaves the caches). Every
// element of C gets the same k order as in the panel order.
template <typename T>
void strip_order_block(const GemmPath<T>& p, const Problem<T>& pr, const T* ablk, int64_t mc,
                       int64_t kc, int64_t pc, int64_t ic, int64_t jc, int64_t nc, T beta,
                       bool direct_b, const PanelSource<T>* src, T* pack_b) {
  const int mr = p.mr, nr = p.nr;
  const int64_t step = panels_per_group<T>(p, kc, nr) * nr;
  for (int64_t js = jc; js < jc + nc; js += step) {
    const int64_t ns = std::min(step, jc + nc - js);
    // Read in place, B's full panels come from B itself; a partial last panel (whose rows end
    // before NR columns) is packed alone, as in gemm_block_range.
    const int64_t full = ns / nr * nr;
    if (direct_b) {
      if (full < ns)
        p.pack_b(pr.trans_b, pr.B, pr.ldb, pc, kc, js + full, ns - full, pack_b + full * kc, false);
    } else if (src) {
      for (int64_t jr = 0; jr < ns; jr += nr)
        src->pack(src->ctx, pc, kc, js + jr, std::min<int64_t>(nr, ns - jr), nr, pack_b + jr * kc);
    } else {
      p.pack_b(pr.trans_b, pr.B, pr.ldb, pc, kc, js, ns, pack_b, true);
    }
    for (int64_t ir = 0; ir < mc; ir += mr) {
      const int64_t mrr = std::min<int64_t>(mr, mc - ir);
      const T* a = ablk + ir * kc;
      for (int64_t jr = 0; jr < ns; jr += nr) {
        const int64_t nrr = std::min<int64_t>(nr, ns - jr);
        const bool in_place = direct_b && nrr == nr;
        const T* b = in_place ? pr.B + pc * pr.ldb + js + jr : pack_b + jr * kc;
        const int64_t ldbk = in_place ? pr.ldb : nr;
        T* c = pr.C + (ic + ir) * pr.ldc + js + jr;
        if (mrr == mr && nrr == nr)
          p.kernel(kc, a, b, ldbk, c, pr.ldc, beta);
        else
          p.edge(kc, a, b, ldbk, c, pr.ldc, beta, static_cast<int>(mrr), static_cast<int>(nrr));
      }
    }
  }
}

// C[m0:m1, n0:n1] of the problem, on the calling thread with its own packing buffers. With
// `packed_a` (all of alpha*op(A), KC block pc at packed_a + pc*mp, row i's panel at i*kc)
// the A blocks are read from it instead of being packed here.
// With `src`, B panels come from src->pack instead of pr.B.
template <typename T>
void gemm_block_range(const GemmPath<T>& p, const Problem<T>& pr, int64_t m0, int64_t m1,
                      int64_t n0, int64_t n1, const T* packed_a = nullptr, int64_t mp = 0,
                      const PanelSource<T>* src = nullptr) {
  const int mr = p.mr, nr = p.nr;
  // MC block, a multiple of MR (pack_a zero-fills the rows of a partial last panel): all the
  // rows up to single_block_rows, else MC (fewer than the rows).
  const int64_t mcb = m1 - m0 <= single_block_rows(p) ? round_up(m1 - m0, mr) : p.mc;
  int64_t ncb = p.nc;  // NC block
  if (packed_a && m1 - m0 <= mcb && pr.K > pr.kc) {
    const int64_t fit =
        p.tuning->c_block_bytes / (static_cast<int64_t>(sizeof(T)) * (m1 - m0)) / nr * nr;
    ncb = std::clamp<int64_t>(fit, 4 * nr, p.nc);
  }
  const int64_t nc_max = std::min(ncb, round_up(n1 - n0, nr));
  T* pack_a =
      packed_a ? nullptr : thread_scratch<T>(kSlotGemmPackA, static_cast<size_t>(mcb * pr.kc));
  T* pack_b = thread_scratch<T>(kSlotGemmPackB, static_cast<size_t>(nc_max * pr.kc));

  const bool direct_b = !src && use_b_in_place(p, pr, m1 - m0, mcb, n1 - n0);
  const bool single_ic = m1 - m0 <= mcb;
  // B micro-panels packed from B itself are packed `group` at a time (about tuning.group_bytes),
  // each row of B read once per group: during the first ic block, into the B block buffer (later ic
  // blocks reuse it), or, with a single ic block, into a buffer of one group.
  const bool grouped_b = !src && !direct_b;
  const int64_t group = std::min<int64_t>(panels_per_group<T>(p, pr.kc, nr), nc_max / nr);
  for (int64_t jc = n0; jc < n1; jc += ncb) {
    const int64_t nc = std::min(ncb, n1 - jc);
    for (int64_t pc = 0; pc < pr.K; pc += pr.kc) {
      const int64_t kc = std::min(pr.kc, pr.K - pc);
      const T beta = pc == 0 ? pr.beta : T(1);
      for (int64_t ic = m0; ic < m1; ic += mcb) {
        const int64_t mc = std::min(mcb, m1 - ic);
        const T* ablk = packed_a ? packed_a + pc * mp + ic * kc : pack_a;
        if (!packed_a) p.pack_a(pr.trans_a, pr.A, pr.lda, ic, mc, pc, kc, pr.alpha, pack_a);
        if (single_ic && kc <= kSmallKc) {
          strip_order_block(p, pr, ablk, mc, kc, pc, ic, jc, nc, beta, direct_b, src, pack_b);
          continue;
        }
        if (grouped_b && !single_ic) {
          // Several row blocks share the packed B block (the first row block packs it, a group
          // of panels at a time in one pass over B's rows, while the next group's source is
          // prefetched a slice per micro-kernel call; the others reuse it), computed in row
          // order a group at a time (docs/gemm_tuning.md).
          const int64_t step = group * nr;
          const bool first = ic == m0;
          for (int64_t jg = 0; jg < nc; jg += step) {
            const int64_t ng = std::min(step, nc - jg);
            T* pb = pack_b + jg * kc;
            if (first) p.pack_b(pr.trans_b, pr.B, pr.ldb, pc, kc, jc + jg, ng, pb, false);
            const int64_t pf_j = jg + ng, pf_w = first ? std::min(step, nc - pf_j) : 0;
            const int64_t calls = (mc + mr - 1) / mr * ((ng + nr - 1) / nr);
            const int64_t units = pr.trans_b ? pf_w : kc;
            block_times_group(p, kc, ablk, mc, pb, ng, pr.C + ic * pr.ldc + jc + jg, pr.ldc, beta,
                              [&](int64_t q) {
                                if (pf_w > 0)
                                  prefetch_b_source(pr, pc, kc, jc + pf_j, pf_w, units * q / calls,
                                                    units * (q + 1) / calls);
                              });
          }
          continue;
        }
        for (int64_t jr = 0; jr < nc; jr += nr) {
          const int64_t nrr = std::min<int64_t>(nr, nc - jr);
          const bool first = ic == m0;
          const T* b;
          int64_t ldbk;
          if (direct_b && nrr == nr) {
            b = pr.B + pc * pr.ldb + jc + jr;
            ldbk = pr.ldb;
          } else {
            // Packed during the first ic block: with a single ic block (each panel used once)
            // from B itself a group of panels in one pass over B's rows into a one-group
            // buffer, from a PanelSource one panel at a time into two slots in turn; from a
            // PanelSource with several ic blocks into the B block, which the later ic blocks
            // reuse from L2/L3; in place, the partial last panel alone.
            T* pb = !single_ic  ? pack_b + jr * kc
                    : grouped_b ? pack_b + (jr / nr % group) * kc * nr
                                : pack_b + ((jr / nr) & 1) * kc * nr;
            if (first && src)
              src->pack(src->ctx, pc, kc, jc + jr, nrr, nr, pb);
            else if (grouped_b && first && jr / nr % group == 0)
              p.pack_b(pr.trans_b, pr.B, pr.ldb, pc, kc, jc + jr,
                       std::min<int64_t>(group * nr, nc - jr), pb, true);
            else if (first && !grouped_b)
              p.pack_b(pr.trans_b, pr.B, pr.ldb, pc, kc, jc + jr, nrr, pb, false);
            b = pb;
            ldbk = nr;
          }
          // The source of what is packed next, prefetched a slice per micro-kernel call:
          // the next panel during this one, or, grouped, the next group during this group.
          int64_t pf_j = jr + nr, pf_w = std::min<int64_t>(nr, nc - jr - nr), slot = 0, slots = 1;
          if (grouped_b) {
            slot = jr / nr % group;
            slots = group;
            pf_j = jr + (group - slot) * nr;
            pf_w = std::min<int64_t>(group * nr, nc - pf_j);
          }
          if (!first || src) pf_w = 0;
          const int64_t n_ir = (mc + mr - 1) / mr, calls = slots * n_ir;
          const int64_t units = pr.trans_b ? pf_w : kc;
          // A packed here block by block: the next KC block's source is prefetched into L2
          // over the calls of this block (a_calls of them), so packing it does not wait.
          const int64_t a_call0 = jr / nr * n_ir, a_calls = (nc + nr - 1) / nr * n_ir;
          const int64_t a_next = pc + kc, a_kc = std::min(pr.kc, pr.K - a_next);
          const int64_t a_units = pr.trans_a ? a_kc : mc;
          const bool pf_a = !packed_a && a_next < pr.K && single_ic;
          block_times_panel(p, kc, ablk, mc, b, ldbk, nrr, pr.C + ic * pr.ldc + jc + jr, pr.ldc,
                            beta, [&](int64_t q) {
                              if (pf_a)
                                prefetch_a_source(pr, ic, mc, a_next, a_kc,
                                                  a_units * (a_call0 + q) / a_calls,
                                                  a_units * (a_call0 + q + 1) / a_calls);
                              q += slot * n_ir;
                              if (pf_w > 0)
                                prefetch_b_source(pr, pc, kc, jc + pf_j, pf_w, units * q / calls,
                                                  units * (q + 1) / calls);
                            });
        }
      }
    }
  }
}

// Packs all of alpha*op(A) (M x K) for gemm_block_range's packed_a: mp = M rounded up to MR.
template <typename T>
void pack_all_a(const GemmPath<T>& p, const Problem<T>& pr, int64_t mp, T* out) {
  for (int64_t pc = 0; pc < pr.K; pc += pr.kc)
    p.pack_a(pr.trans_a, pr.A, pr.lda, 0, pr.M, pc, std::min(pr.kc, pr.K - pc), pr.alpha,
             out + pc * mp);
}

// Columns of C split over up to nt threads (NR-aligned ranges), A pre-packed and shared.
template <typename T>
void gemm_split_n(const GemmPath<T>& p, const Problem<T>& pr, int nt, const T* packed_a, int64_t mp,
                  const PanelSource<T>* src = nullptr) {
  const int64_t n_tiles = (pr.N + p.nr - 1) / p.nr;
  nt = static_cast<int>(std::min<int64_t>(nt, n_tiles));
  if (nt <= 1) {
    gemm_block_range(p, pr, 0, pr.M, 0, pr.N, packed_a, mp, src);
    return;
  }
  parallel_for(nt, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t b = std::min(pr.N, n_tiles * t / nt * p.nr);
      const int64_t e = std::min(pr.N, n_tiles * (t + 1) / nt * p.nr);
      if (b < e) gemm_block_range(p, pr, 0, pr.M, b, e, packed_a, mp, src);
    }
  });
}

// The KC block for an inner dimension K: K itself up to 1.25 KC (the B panel and an A sliver
// still fit L1; C is written once instead of read back per block), else the fewest blocks of
// at most p.kc, of equal size (measurements: docs/gemm_tuning.md).
template <typename T>
int64_t kc_for(const GemmPath<T>& p, int64_t K) {
  if (K <= p.kc * 5 / 4) return K;
  const int64_t nk = (K + p.kc - 1) / p.kc;
  return (K + nk - 1) / nk;
}

// Multi-threaded GEMM for tall problems (several MC blocks): the threads pack each KC x NC
// block of B together into the calling thread's buffer and share it (a barrier after
// packing and one before the next), and each computes its own MR-aligned range of rows,
// packing its own A blocks. Nothing is packed twice.
template <typename T>
void gemm_shared_b(const GemmPath<T>& p, const Problem<T>& pr, int nt) {
#ifdef _OPENMP
  const int mr = p.mr, nr = p.nr;
  const int64_t nc_max = std::min(p.nc, round_up(pr.N, nr));
  T* pack_b = thread_scratch<T>(kSlotGemmPackB, static_cast<size_t>(nc_max * pr.kc));
  const int64_t m_tiles = (pr.M + mr - 1) / mr;
  std::atomic<bool> no_scratch{false};  // a thread could not get its A buffer
  parallel_region(nt, [&](int t, int team) {
    const int64_t m0 = std::min(pr.M, m_tiles * t / team * mr);
    const int64_t m1 = std::min(pr.M, m_tiles * (t + 1) / team * mr);
    const int64_t mc_max = std::max<int64_t>(mr, std::min(p.mc, round_up(m1 - m0, mr)));
    T* pack_a = nullptr;
    std::exception_ptr err;
    try {
      pack_a = thread_scratch<T>(kSlotGemmPackA, static_cast<size_t>(mc_max * pr.kc));
    } catch (...) {
      err = std::current_exception();
      no_scratch.store(true);
    }
    // The team agrees here whether every thread has its buffer, so that none throws while
    // the others wait at the barriers below; parallel_region rethrows the failure.
#pragma omp barrier
    if (err) std::rethrow_exception(err);
    if (no_scratch.load()) return;
    for (int64_t jc = 0; jc < pr.N; jc += p.nc) {
      const int64_t nc = std::min(p.nc, pr.N - jc);
      const int64_t panels = (nc + nr - 1) / nr;
      const int64_t q0 = panels * t / team, q1 = panels * (t + 1) / team;
      for (int64_t pc = 0; pc < pr.K; pc += pr.kc) {
        const int64_t kc = std::min(pr.kc, pr.K - pc);
        const int64_t step = panels_per_group<T>(p, kc, nr) * nr;  // columns of a B group
        const T beta = pc == 0 ? pr.beta : T(1);
        if (q1 > q0)
          p.pack_b(pr.trans_b, pr.B, pr.ldb, pc, kc, jc + q0 * nr, std::min(nc, q1 * nr) - q0 * nr,
                   pack_b + q0 * nr * kc, false);
#pragma omp barrier
        for (int64_t ic = m0; ic < m1; ic += p.mc) {
          const int64_t mc = std::min(p.mc, m1 - ic);
          p.pack_a(pr.trans_a, pr.A, pr.lda, ic, mc, pc, kc, pr.alpha, pack_a);
          for (int64_t jg = 0; jg < nc; jg += step)
            block_times_group(p, kc, pack_a, mc, pack_b + jg * kc, std::min(step, nc - jg),
                              pr.C + ic * pr.ldc + jc + jg, pr.ldc, beta, NoPrefetch{});
        }
#pragma omp barrier
      }
    }
  });
#else
  (void)nt;
  gemm_block_range(p, pr, 0, pr.M, 0, pr.N);
#endif
}

// C = beta * C (K == 0); beta == 0 writes zeros whatever C held.
template <typename T>
void scale_c(int64_t M, int64_t N, T beta, T* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i) {
    T* c = C + i * ldc;
    if (beta == T(0))
      std::fill(c, c + N, T(0));
    else
      for (int64_t j = 0; j < N; ++j) c[j] *= beta;
  }
}

// C (M x N) = packed A (pa: M x K, rows padded to mp) @ op(B) + beta * C, op(B) from B or,
// with `src`, from its panel packer: gemm_packed and gemm_packed_source.
template <typename T>
void run_packed(const GemmPath<T>& p, const T* pa, int64_t mp, int64_t M, int64_t K, int64_t N,
                bool trans_b, const T* B, int64_t ldb, const PanelSource<T>* src, T beta, T* C,
                int64_t ldc) {
  GC_PROFILE_SCOPE("gemm_packed", 2.0 * M * N * K, sizeof(T) * (M * K + K * N + 2 * M * N),
                   {M, N, K});
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    scale_c(M, N, beta, C, ldc);
    return;
  }
  const Problem<T> pr{false, trans_b, M,   N,    K, T(1), nullptr,
                      0,     B,       ldb, beta, C, ldc,  kc_for(p, K)};
  gemm_split_n(p, pr, threads_for(M * N * K, kMinWorkPerThread), pa, mp, src);
}

}  // namespace

template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
          int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  GC_PROFILE_SCOPE("gemm", 2.0 * M * N * K, sizeof(T) * (M * K + K * N + 2 * M * N), {M, N, K});
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    scale_c(M, N, beta, C, ldc);
    return;
  }
  const GemmPath<T>& p = gemm_detail::gemm_path_for<T>(M, N);
  const Problem<T> pr{trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, kc_for(p, K)};
  const int64_t m_tiles = (M + p.mr - 1) / p.mr, mp = m_tiles * p.mr;
  const int nt = threads_for(M * N * K, kMinWorkPerThread);
  if (nt > 1 && M > single_block_rows(p) && m_tiles >= nt) {
    // Several MC blocks: share the packed B, split the rows.
    gemm_shared_b(p, pr, nt);
    return;
  }
  // One MC block (e.g. convolution: few output channels, many pixels): split the columns.
  // A small enough to be one A block is packed once and shared; otherwise each thread packs
  // its own A blocks and streams its own part of B.
  if (mp * K <= p.mc * p.kc) {
    T* pa = thread_scratch<T>(kSlotGemmPackA, static_cast<size_t>(mp * K));
    pack_all_a(p, pr, mp, pa);
    gemm_split_n(p, pr, nt, static_cast<const T*>(pa), mp);
    return;
  }
  gemm_split_n(p, pr, nt, static_cast<const T*>(nullptr), 0);
}

template <typename T>
void PackedA<T>::pack(bool trans_a, int64_t M, int64_t K, T alpha, const T* A, int64_t lda,
                      int64_t n_hint) {
  M_ = std::max<int64_t>(M, 0);
  K_ = std::max<int64_t>(K, 0);
  const GemmPath<T>& p = gemm_detail::gemm_path_for<T>(M_, n_hint);
  path_ = &p;
  mp_ = round_up(M_, p.mr);
  data_.resize(static_cast<size_t>(mp_ * K_));
  if (M_ == 0 || K_ == 0) return;
  const Problem<T> pr{trans_a, false,   M_, K_,   K_,      alpha, A,
                      lda,     nullptr, 0,  T(0), nullptr, 0,     kc_for(p, K_)};
  pack_all_a(p, pr, mp_, data_.data());
}

template <typename T>
void gemm_packed(const PackedA<T>& a, int64_t N, bool trans_b, const T* B, int64_t ldb, T beta,
                 T* C, int64_t ldc) {
  run_packed(*static_cast<const GemmPath<T>*>(a.path_), a.data_.data(), a.mp_, a.M_, a.K_, N,
             trans_b, B, ldb, static_cast<const PanelSource<T>*>(nullptr), beta, C, ldc);
}

template <typename T>
int PackedA<T>::panel_width() const {
  return static_cast<const GemmPath<T>*>(path_)->nr;
}

template <typename T>
const CpuPathTuning& PackedA<T>::tuning() const {
  return *static_cast<const GemmPath<T>*>(path_)->tuning;
}

template <typename T>
void gemm_packed_source(const PackedA<T>& a, int64_t N, const PanelSource<T>& b, T beta, T* C,
                        int64_t ldc) {
  run_packed(*static_cast<const GemmPath<T>*>(a.path_), a.data_.data(), a.mp_, a.M_, a.K_, N, false,
             static_cast<const T*>(nullptr), 0, &b, beta, C, ldc);
}

template void gemm<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                          const float*, int64_t, float, float*, int64_t);
template void gemm<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t,
                           const double*, int64_t, double, double*, int64_t);
template class PackedA<float>;
template class PackedA<double>;
template void gemm_packed<float>(const PackedA<float>&, int64_t, bool, const float*, int64_t, float,
                                 float*, int64_t);
template void gemm_packed_source<float>(const PackedA<float>&, int64_t, const PanelSource<float>&,
                                        float, float*, int64_t);
template void gemm_packed_source<double>(const PackedA<double>&, int64_t,
                                         const PanelSource<double>&, double, double*, int64_t);
template void gemm_packed<double>(const PackedA<double>&, int64_t, bool, const double*, int64_t,
                                  double, double*, int64_t);

}  // namespace gradcore
