// The tile transforms of the Winograd F(2x2, 3x3) convolution (conv_winograd.cpp): the
// portable loops, which conv_winograd.cpp runs on the generic path. conv_winograd_avx2_fma.cpp
// and conv_winograd_avx512.cpp write the same transforms in intrinsics, with the additions in
// the same order (the same bits).
//
// F(2x2, 3x3) (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016): a 2x2
// output tile of a 3x3 cross-correlation is Y = A^T [(G g G^T) .* (B^T d B)] A, where d is the
// 4x4 input tile under it and g the 3x3 filter, with
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]   (input transform, V = B^T d B)
//   G   = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1]       (filter transform, U = G g G^T)
//   A^T = [1 1 1 0; 0 1 -1 -1]                       (output transform, Y = A^T M A)
// so 16 multiplies per tile and channel pair instead of 36. Summed over channels, the 16
// products are 16 independent GEMMs, M_xi = U_xi @ V_xi, xi = 4*i + j indexing the 4x4 tile.
// The weight gradient runs the chain rule through the same formula: dM = A dY A^T per output
// tile (the output-gradient transform), dU_xi = sum over tiles of dM_xi V_xi^T (16 GEMMs),
// dg = G^T dU G.
//
// Everything here has internal linkage (anonymous namespace) and uses no STL (ISA rule:
// CMakeLists.txt, "ISA files"), should an ISA file include it again.
#pragma once
#include <cstdint>
#include <cstring>

namespace gradcore {
namespace {

// The 16 input-transform planes of tile rows [ti0, ti1) of one channel plane x (H x W): tile
// (ti, tj), tj < TW, covers input rows 2*ti - ph .. 2*ti - ph + 3 and columns 2*tj - pw .. + 3
// (zero outside the plane); its V = B^T d B goes to v[xi * ldxi + (ti - ti0) * TW + tj]. Needs
// pw + W <= 2*TW + 2 (true when TW = ceil(OW / 2) and OW = W + 2*pw - 2). Overwrites v.
// Order of the arithmetic (every path's copy keeps it, so they give the same bits): each input
// row first (R_j = d B, along the row), then the rows of a tile (V_{4i+j} = B^T R_j).
// rows: scratch of (2*TW + 2) + 16 * TW floats.
inline void winograd_input_plane_body(const float* x, int64_t H, int64_t W, int64_t ph, int64_t pw,
                                      int64_t ti0, int64_t ti1, int64_t TW, float* v, int64_t ldxi,
                                      float* rows) {
  const int64_t Wp = 2 * TW + 2;
  float* d = rows;       // one zero-padded input row
  float* R = rows + Wp;  // R[(r * 4 + j) * TW + tj]: d B of the tile row's 4 input rows
  for (int64_t ti = ti0; ti < ti1; ++ti) {
    for (int64_t r = 0; r < 4; ++r) {
      const int64_t ih = 2 * ti - ph + r;
      if (ih < 0 || ih >= H) {
        for (int64_t u = 0; u < Wp; ++u) d[u] = 0.0f;
      } else {
        for (int64_t u = 0; u < pw; ++u) d[u] = 0.0f;
        std::memcpy(d + pw, x + ih * W, sizeof(float) * static_cast<size_t>(W));
        for (int64_t u = pw + W; u < Wp; ++u) d[u] = 0.0f;
      }
      float* R0 = R + (r * 4) * TW;
      float* R1 = R0 + TW;
      float* R2 = R1 + TW;
      float* R3 = R2 + TW;
      for (int64_t tj = 0; tj < TW; ++tj) {
        const float e0 = d[2 * tj], o0 = d[2 * tj + 1], e1 = d[2 * tj + 2], o1 = d[2 * tj + 3];
        R0[tj] = e0 - e1;
        R1[tj] = o0 + e1;
        R2[tj] = e1 - o0;
        R3[tj] = o0 - o1;
      }
    }
    for (int64_t j = 0; j < 4; ++j) {
      const float* q0 = R + j * TW;  // R_j of input rows 0..3 of the tile
      const float* q1 = q0 + 4 * TW;
      const float* q2 = q1 + 4 * TW;
      const float* q3 = q2 + 4 * TW;
      float* v0 = v + j * ldxi + (ti - ti0) * TW;
      float* v1 = v0 + 4 * ldxi;
      float* v2 = v1 + 4 * ldxi;
      float* v3 = v2 + 4 * ldxi;
      for (int64_t tj = 0; tj < TW; ++tj) {
        v0[tj] = q0[tj] - q2[tj];
        v1[tj] = q1[tj] + q2[tj];
        v2[tj] = q2[tj] - q1[tj];
        v3[tj] = q1[tj] - q3[tj];
      }
    }
  }
}

// Output rows 2*ti0 .. 2*ti1 - 1 of one plane y (OH x OW) from its 16 GEMM-result planes
// m[xi * ldxi + (ti - ti0) * TW + tj]: each 2x2 tile is A^T M A + bias, clipped to the plane.
// Overwrites y. rows: scratch of 4 * TW floats.
inline void winograd_output_plane_body(const float* m, int64_t ldxi, int64_t ti0, int64_t ti1,
                                       int64_t TW, float bias, float* y, int64_t OH, int64_t OW,
                                       float* rows) {
  float* r0 = rows;           // output row 2*ti, 2*TW wide
  float* r1 = rows + 2 * TW;  // output row 2*ti + 1
  for (int64_t ti = ti0; ti < ti1; ++ti) {
    const float* mt = m + (ti - ti0) * TW;
    for (int64_t tj = 0; tj < TW; ++tj) {
      float s0[4], s1[4];  // rows of A^T M
      for (int j = 0; j < 4; ++j) {
        const float m0 = mt[j * ldxi + tj], m1 = mt[(4 + j) * ldxi + tj];
        const float m2 = mt[(8 + j) * ldxi + tj], m3 = mt[(12 + j) * ldxi + tj];
        s0[j] = m0 + m1 + m2;
        s1[j] = m1 - m2 - m3;
      }
      r0[2 * tj] = s0[0] + s0[1] + s0[2] + bias;
      r0[2 * tj + 1] = s0[1] - s0[2] - s0[3] + bias;
      r1[2 * tj] = s1[0] + s1[1] + s1[2] + bias;
      r1[2 * tj + 1] = s1[1] - s1[2] - s1[3] + bias;
    }
    std::memcpy(y + 2 * ti * OW, r0, sizeof(float) * static_cast<size_t>(OW));
    if (2 * ti + 1 < OH)
      std::memcpy(y + (2 * ti + 1) * OW, r1, sizeof(float) * static_cast<size_t>(OW));
  }
}

// The 16 output-gradient planes of tile rows [ti0, ti1) of one plane dy (OH x OW): tile
// (ti, tj) holds dy rows 2*ti, 2*ti + 1 and columns 2*tj, 2*tj + 1 (zero outside the plane);
// its dM = A dY A^T goes to dm[xi * ldxi + (ti - ti0) * TW + tj]. Overwrites dm. Order of the
// arithmetic (every path's copy keeps it): along each row first, then down the two rows. rows:
// scratch of 2*TW floats.
inline void winograd_output_grad_plane_body(const float* dy, int64_t OH, int64_t OW, int64_t ti0,
                                            int64_t ti1, int64_t TW, float* dm, int64_t ldxi,
                                            float* rows) {
  float* r = rows;    // one dy row, zero-padded to 2*TW
  float z[2][4][64];  // A dY along the row, for up to 64 tiles at a time, of the two rows
  for (int64_t ti = ti0; ti < ti1; ++ti) {
    for (int64_t tj0 = 0; tj0 < TW; tj0 += 64) {
      const int64_t nt = TW - tj0 < 64 ? TW - tj0 : 64;
      for (int a = 0; a < 2; ++a) {
        const int64_t oh = 2 * ti + a;
        for (int64_t u = 0; u < 2 * TW; ++u) r[u] = 0.0f;
        if (oh < OH) std::memcpy(r, dy + oh * OW, sizeof(float) * static_cast<size_t>(OW));
        for (int64_t t = 0; t < nt; ++t) {
          const float e = r[2 * (tj0 + t)], o = r[2 * (tj0 + t) + 1];
          z[a][0][t] = e;
          z[a][1][t] = e + o;
          z[a][2][t] = e - o;
          z[a][3][t] = -o;
        }
      }
      for (int j = 0; j < 4; ++j) {
        float* d0 = dm + j * ldxi + (ti - ti0) * TW + tj0;
        float* d1 = d0 + 4 * ldxi;
        float* d2 = d1 + 4 * ldxi;
        float* d3 = d2 + 4 * ldxi;
        for (int64_t t = 0; t < nt; ++t) {
          d0[t] = z[0][j][t];
          d1[t] = z[0][j][t] + z[1][j][t];
          d2[t] = z[0][j][t] - z[1][j][t];
          d3[t] = -z[1][j][t];
        }
      }
    }
  }
}

}  // namespace
}  // namespace gradcore
