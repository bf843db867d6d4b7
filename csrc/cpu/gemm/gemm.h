// General matrix multiply, the engine under convolution and linear layers.
//
//   C (M x N) = alpha * op(A) @ op(B) + beta * C
//   op(A) is M x K: A is stored M x K (lda >= K) or, with trans_a, K x M (lda >= M).
//   op(B) is K x N: B is stored K x N (ldb >= N) or, with trans_b, N x K (ldb >= K).
//   C is row-major M x N with ldc >= N. beta == 0 overwrites C (NaNs in C are ignored).
//
// Row-major throughout. Uses up to get_num_threads() threads; runs on the calling
// thread alone when called from inside a parallel region (e.g. per-image convolution).
// Results are bitwise identical for any thread count.
#pragma once
#include <cstdint>
#include <vector>

namespace gradcore {

struct CpuPathTuning;  // core/cpu_path_tuning.h

template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
          int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

// alpha * op(A) (M x K, stored as for gemm) packed once into the GEMM's internal layout, so that
// several products with the same left operand (a convolution's weights applied to every image)
// skip repacking it. Read-only after construction: threads may share it.
template <typename T>
struct PanelSource;

template <typename T>
class PackedA {
 public:
  PackedA() = default;
  PackedA(bool trans_a, int64_t M, int64_t K, T alpha, const T* A, int64_t lda,
          int64_t n_hint = 0) {
    pack(trans_a, M, K, alpha, A, lda, n_hint);
  }
  // (Re)packs a new operand, reusing the storage. `n_hint`: the N of the products it will
  // take part in, when known and small (it may choose a path with narrower tiles); 0: wide.
  void pack(bool trans_a, int64_t M, int64_t K, T alpha, const T* A, int64_t lda,
            int64_t n_hint = 0);
  int64_t rows() const { return M_; }
  int64_t depth() const { return K_; }
  int panel_width() const;  // NR: the width of the B micro-panels a PanelSource must write
  // The tuning of the path that packed it (a PanelSource must use that path's packers).
  const CpuPathTuning& tuning() const;

 private:
  template <typename U>
  friend void gemm_packed(const PackedA<U>&, int64_t, bool, const U*, int64_t, U, U*, int64_t);
  template <typename U>
  friend void gemm_packed_source(const PackedA<U>&, int64_t, const PanelSource<U>&, U, U*, int64_t);
  const void* path_ = nullptr;  // the GemmPath<T> that packed it (and must multiply it)
  int64_t M_ = 0, K_ = 0, mp_ = 0;
  std::vector<T> data_;
};

// Which CPU path and micro-tile multiply an M x N product (n = 0: N unknown, taken as wide):
// the selected path, or a lower one whose tiles fit the shape better (gemm/paths.cpp).
struct GemmTile {
  const char* path;  // the capability name, e.g. "avx2_fma"
  int mr, nr;
};
template <typename T>
GemmTile gemm_tile_for(int64_t m, int64_t n);

namespace gemm_detail {
// Tests: false makes every product use the selected path's own tiles (default true).
void set_narrow_route(bool enabled);
}  // namespace gemm_detail

// C (M x N) = packed alpha*op(A) @ op(B) + beta * C, with M, K from `a`; otherwise as gemm
// (threads split the columns; bitwise identical to gemm with the same operands).
template <typename T>
void gemm_packed(const PackedA<T>& a, int64_t N, bool trans_b, const T* B, int64_t ldb, T beta,
                 T* C, int64_t ldc);

// A right operand that is never stored whole (e.g. a convolution's columns, gathered from the
// input on the fly): pack(ctx, p0, kc, j0, nc, nr, out) writes rows [p0, p0+kc) x columns
// [j0, j0+nc) of op(B) as one micro-panel out[k*nr + j] (k < kc, j < nr), zero for j >= nc.
template <typename T>
struct PanelSource {
  void (*pack)(const void* ctx, int64_t p0, int64_t kc, int64_t j0, int64_t nc, int nr, T* out);
  const void* ctx;
};

// C (M x N) = packed alpha*op(A) @ op(B) + beta * C with op(B) (K x N) from `b`; as gemm_packed.
template <typename T>
void gemm_packed_source(const PackedA<T>& a, int64_t N, const PanelSource<T>& b, T beta, T* C,
                        int64_t ldc);

}  // namespace gradcore
