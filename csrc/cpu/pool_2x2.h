// The 2x2/2 pooling planes (every window inside the plane): portable bodies shared by
// pool.cpp and the AVX2 ISA file, and the AVX2 entry points.
//
// The bodies have internal linkage (anonymous namespace): pool_avx2_fma.cpp compiles its own
// -mavx2 copies, which the linker can never merge with pool.cpp's portable ones (ISA rule:
// CMakeLists.txt, "ISA files"). They use no STL.
#pragma once
#include <cstdint>

namespace gradcore {
namespace {

template <typename T>
inline __attribute__((always_inline)) void fill_zero(T* b, T* e) {
  for (; b < e; ++b) *b = T(0);
}

// 2x2 windows, stride 2, no padding or dilation, every window inside the plane. Branch-free
// (random data would mispredict every comparison): the selects compile to blends and the
// loop vectorises in the AVX2 copy.
template <typename T>
inline __attribute__((always_inline)) void max_pool_2x2_body(const T* x, int64_t W, int64_t OH,
                                                             int64_t OW, T* y, int64_t* ind) {
  for (int64_t oh = 0; oh < OH; ++oh) {
    const T* r0 = x + 2 * oh * W;
    const T* r1 = r0 + W;
    T* yo = y + oh * OW;
    int64_t* io = ind + oh * OW;
    const int64_t row = 2 * oh * W;
    for (int64_t ow = 0; ow < OW; ++ow) {
      const T a = r0[2 * ow], b = r0[2 * ow + 1], c = r1[2 * ow], d = r1[2 * ow + 1];
      T m = a;
      int64_t k = 0;
      bool t = (b > m) | (b != b);
      m = t ? b : m;
      k = t ? 1 : k;
      t = (c > m) | (c != c);
      m = t ? c : m;
      k = t ? W : k;
      t = (d > m) | (d != d);
      m = t ? d : m;
      k = t ? W + 1 : k;
      yo[ow] = m;
      io[ow] = row + 2 * ow + k;
    }
  }
}

// dx of one plane when every index lies in its own 2x2 cell: each element written once.
// Returns false (having written part of the plane) if some index lies elsewhere.
template <typename T>
inline __attribute__((always_inline)) bool max_unpool_2x2_body(const T* g, const int64_t* ind,
                                                               int64_t H, int64_t W, int64_t OH,
                                                               int64_t OW, T* d) {
  for (int64_t oh = 0; oh < OH; ++oh) {
    T* r0 = d + 2 * oh * W;
    T* r1 = r0 + W;
    const T* go = g + oh * OW;
    const int64_t* io = ind + oh * OW;
    const int64_t row = 2 * oh * W;
    bool ok = true;
    for (int64_t ow = 0; ow < OW; ++ow) {
      const int64_t off = io[ow] - (row + 2 * ow);
      ok &= (off == 0) | (off == 1) | (off == W) | (off == W + 1);
      const T v = go[ow];
      r0[2 * ow] = off == 0 ? v : T(0);
      r0[2 * ow + 1] = off == 1 ? v : T(0);
      r1[2 * ow] = off == W ? v : T(0);
      r1[2 * ow + 1] = off == W + 1 ? v : T(0);
    }
    if (!ok) return false;
    if (W > 2 * OW) r0[W - 1] = r1[W - 1] = T(0);
  }
  if (H > 2 * OH) fill_zero(d + (H - 1) * W, d + H * W);
  return true;
}

// 2x2/2 average pooling with every window inside the plane: y = (0 + a + b + c + d) / div,
// the generic kernel's additions in its order (the leading 0 turns -0 sums into +0 as there),
// so both give identical bits; the AVX2 copy vectorises the loop.
template <typename T>
inline __attribute__((always_inline)) void avg_pool_2x2_body(const T* x, int64_t W, int64_t OH,
                                                             int64_t OW, T div, T* y) {
  for (int64_t oh = 0; oh < OH; ++oh) {
    const T* r0 = x + 2 * oh * W;
    const T* r1 = r0 + W;
    T* yo = y + oh * OW;
    for (int64_t ow = 0; ow < OW; ++ow)
      yo[ow] = (T(0) + r0[2 * ow] + r0[2 * ow + 1] + r1[2 * ow] + r1[2 * ow + 1]) / div;
  }
}
// dx of one plane: each element of a 2x2 cell gets 0 + dy / div (the generic kernel's zero
// fill plus one addition), the rows and columns outside the cells 0: every element written once.
template <typename T>
inline __attribute__((always_inline)) void avg_unpool_2x2_body(const T* g, int64_t H, int64_t W,
                                                               int64_t OH, int64_t OW, T div,
                                                               T* d) {
  for (int64_t oh = 0; oh < OH; ++oh) {
    T* r0 = d + 2 * oh * W;
    T* r1 = r0 + W;
    const T* go = g + oh * OW;
    for (int64_t ow = 0; ow < OW; ++ow) {
      const T v = T(0) + go[ow] / div;
      r0[2 * ow] = v;
      r0[2 * ow + 1] = v;
      r1[2 * ow] = v;
      r1[2 * ow + 1] = v;
    }
    if (W > 2 * OW) r0[W - 1] = r1[W - 1] = T(0);
  }
  if (H > 2 * OH) fill_zero(d + (H - 1) * W, d + H * W);
}

}  // namespace

namespace avx2_fma {
// The bodies above compiled for AVX2 (max_pool_2x2_body ... avg_unpool_2x2_body).
void max_pool_2x2(const float* x, int64_t W, int64_t OH, int64_t OW, float* y, int64_t* ind);
void max_pool_2x2(const double* x, int64_t W, int64_t OH, int64_t OW, double* y, int64_t* ind);
bool max_unpool_2x2(const float* g, const int64_t* ind, int64_t H, int64_t W, int64_t OH,
                    int64_t OW, float* d);
bool max_unpool_2x2(const double* g, const int64_t* ind, int64_t H, int64_t W, int64_t OH,
                    int64_t OW, double* d);
void avg_pool_2x2(const float* x, int64_t W, int64_t OH, int64_t OW, float div, float* y);
void avg_pool_2x2(const double* x, int64_t W, int64_t OH, int64_t OW, double div, double* y);
void avg_unpool_2x2(const float* g, int64_t H, int64_t W, int64_t OH, int64_t OW, float div,
                    float* d);
void avg_unpool_2x2(const double* g, int64_t H, int64_t W, int64_t OH, int64_t OW, double div,
                    double* d);
// float with explicit AVX2 and indices formed in 32-bit lanes: max_pool_2x2_i32 needs
// H*W < 2^31 (the caller checks); max_unpool_2x2_i32 checks its own range.
void max_pool_2x2_i32(const float* x, int64_t W, int64_t OH, int64_t OW, float* y, int64_t* ind);
bool max_unpool_2x2_i32(const float* g, const int64_t* ind, int64_t H, int64_t W, int64_t OH,
                        int64_t OW, float* d);
}  // namespace avx2_fma

}  // namespace gradcore
