// The implicit convolution's columns as a plain view, and the packers ISA paths supply for it.
//
// Row (c, r, s) of an image's columns matrix is its input plane c shifted by off[r*S + s],
// with the pixels whose tap falls into the padding zeroed by the lane masks:
//   col[c*RS + rs][p] = valid[rs*Pp + p] ? x[c*HW + p + off[rs]] : 0.
// A plain struct of pointers: ISA files (conv_avx2_fma.cpp, conv_avx512.cpp) read it without
// any STL code.
#pragma once
#include <cstdint>

namespace gradcore {

template <typename T>
struct ImplicitCols {
  const T* x;            // the image's input planes of this group
  int64_t HW;            // plane size H*W
  int64_t RS, Pp;        // taps R*S; pixels per mask row (OH*OW rounded up to 32)
  const int64_t* off;    // RS plane shifts
  const int32_t* valid;  // (RS + 1) x Pp lane masks (-1 valid, 0 padding); row RS all zero
  const T *lo, *hi;      // the whole input tensor: vector loads stay inside it
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

namespace avx512 {
// The same for 32-wide panels (the AVX-512 GEMM tile, conv_avx512.cpp).
void pack_cols_panel32(const void* ctx, int64_t p0, int64_t kc, int64_t j0, int64_t nc, int nr,
                       float* out);
void pack_cols_t_panel32(const void* ctx, int64_t p0, int64_t kc, int64_t j0, int64_t nc, int nr,
                         float* out);
}  // namespace avx512

}  // namespace gradcore
