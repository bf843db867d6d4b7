// The implicit convolution's columns as a plain view, and the packers ISA paths supply for it.
//
// Row (c, r, s) of an image's columns matrix is its input plane c shifted by
// off = row_off[r] + col_off[s]; pixel p (output row p / W, output column p % W; the
// implicit path has OW == W) reads the input only where its tap lands inside the plane:
//   col[(c*R + r)*S + s][p] = tap_ok(r, s, p) ? x[c*HW + p + off] : 0,
//   tap_ok(r, s, p) = p_lo[r] <= p < p_hi[r] && col_ok[s*(W + kColMaskPad) + p % W] != 0.
// The input row is inside the plane for one contiguous range of pixels per kernel row, and
// the input column depends on p % W only, so the masks take (W + 16) entries per kernel
// column instead of one per tap and pixel: O(R + S*W) memory, whatever the image height.
// A plain struct of pointers: ISA files (conv_avx2_fma.cpp) read it without any STL code.
#pragma once
#include <cstdint>

namespace gradcore {

// Entries of a col_ok row past W (a repeat of its start): 16 lanes from any column q < W.
constexpr int64_t kColMaskPad = 16;

template <typename T>
struct ImplicitCols {
  const T* x;              // the image's input planes of this group
  int64_t HW, W;           // plane size H*W; plane (and output) width
  int64_t R, S;            // kernel rows and columns
  const int64_t* row_off;  // R: (r*dh - ph) * W
  const int64_t* col_off;  // S: s*dw - pw
  const int64_t* p_lo;     // R: pixels [p_lo[r], p_hi[r]) have tap row r inside the plane;
  const int64_t* p_hi;     //    p_lo[r] <= p_hi[r] <= OH*W (pixels past OH*W read nothing)
  const int32_t* col_ok;   // (S + 1) x (W + kColMaskPad): -1 where 0 <= q % W + col_off[s] < W,
                           // else 0; row S all zeros (for panel columns past the last)
  const T *lo, *hi;        // the whole input tensor: vector loads stay inside it
};

namespace avx2_fma {
// PanelSource<float>::pack for ImplicitCols<float> with 16-wide panels (the AVX2 GEMM tile):
// rows [p0, p0+kc) x pixels [j0, j0+16) of the columns (pack_cols_panel16), and of their
// transpose, rows (pixels) [p0, p0+kc) x columns (c, r, s) [j0, j0+nc) (pack_cols_t_panel16).
void pack_cols_panel16(const void* ctx, int64_t p0, int64_t kc, int64_t j0, int64_t nc, int nr,
                       float* out);
void pack_cols_t_panel16(const void* ctx, int64_t p0, int64_t kc, int64_t j0, int64_t nc, int nr,
                         float* out);
}  // namespace avx2_fma

}  // namespace gradcore
