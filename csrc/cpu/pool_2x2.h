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

// The integer of T's width, for selects on bit patterns.
template <typename T>
struct SameWidthInt;
template <>
struct SameWidthInt<float> {
  using I = int32_t;
  static constexpr I kNegInf = static_cast<I>(0xFF800000u);
};
template <>
struct SameWidthInt<double> {
  using I = int64_t;
  static constexpr I kNegInf = static_cast<I>(0xFFF0000000000000ull);
};

template <typename T>
inline __attribute__((always_inline)) typename SameWidthInt<T>::I bits(T v) {
  typename SameWidthInt<T>::I i;
  __builtin_memcpy(&i, &v, sizeof i);
  return i;
}

// *p = the value with bit pattern i (one store of T's width: a wider store of several such
// values built on the stack would stall on store forwarding).
template <typename T>
inline __attribute__((always_inline)) void put_bits(T* p, typename SameWidthInt<T>::I i) {
  __builtin_memcpy(p, &i, sizeof i);
}

// 2x2 windows, stride 2, no padding or dilation, every window inside the plane. Branch-free
// (random data would mispredict every comparison): the selects compile to blends and the
// loop vectorises in the AVX2 copy.
template <typename T>
inline __attribute__((always_inline)) void max_pool_2x2_body(const T* x, int64_t W, int64_t OH,
                                                             int64_t OW, T* y, int64_t* ind) {
  using I = typename SameWidthInt<T>::I;
  for (int64_t oh = 0; oh < OH; ++oh) {
    const T* r0 = x + 2 * oh * W;
    const T* r1 = r0 + W;
    T* yo = y + oh * OW;
    int64_t* io = ind + oh * OW;
    const int64_t row = 2 * oh * W;
    for (int64_t ow = 0; ow < OW; ++ow) {
      const T v[4] = {r0[2 * ow], r0[2 * ow + 1], r1[2 * ow], r1[2 * ow + 1]};
      const int64_t off[4] = {0, 1, W, W + 1};
      T m = v[0];
      int64_t k = 0;
      for (int j = 1; j < 4; ++j) {  // masks on the bits: ternaries compiled to branches
        const bool t = (v[j] > m) | (v[j] != v[j]);
        const I mask = -static_cast<I>(t);
        const I mb = (bits(m) & ~mask) | (bits(v[j]) & mask);
        __builtin_memcpy(&m, &mb, sizeof m);
        const int64_t kmask = -static_cast<int64_t>(t);
        k = (k & ~kmask) | (off[j] & kmask);
      }
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
    using I = typename SameWidthInt<T>::I;
    for (int64_t ow = 0; ow < OW; ++ow) {
      const int64_t off = io[ow] - (row + 2 * ow);
      ok &= (off == 0) | (off == 1) | (off == W) | (off == W + 1);
      const I v = bits(go[ow]);  // masks on the bits: ternaries compiled to branches
      put_bits(r0 + 2 * ow, v & -static_cast<I>(off == 0));
      put_bits(r0 + 2 * ow + 1, v & -static_cast<I>(off == 1));
      put_bits(r1 + 2 * ow, v & -static_cast<I>(off == W));
      put_bits(r1 + 2 * ow + 1, v & -static_cast<I>(off == W + 1));
    }
    if (!ok) return false;
    if (W > 2 * OW) r0[W - 1] = r1[W - 1] = T(0);
  }
  if (H > 2 * OH) fill_zero(d + (H - 1) * W, d + H * W);
  return true;
}

// The CNN block's max pool and ReLU in one pass (2x2 cells, every window inside the plane):
// y = relu(max of the cell), the maximum chosen as in max_pool_2x2_body (NaN wins, the first
// of a, b, c, d on ties), and cell = its place (0 a, 1 b, 2 c, 3 d) or kNoGrad where relu
// passes no gradient. Equal, bit for bit, to max_pool_2x2_body followed by relu, whose bit
// rules it applies (activation_bodies.h: a negative non-NaN maximum gives +0, -0 stays -0,
// NaN stays NaN; the gradient passes unless the output is +-0 or negative). The selects are
// masks on bit patterns: ternaries compiled to branches here, which random data mispredicts.
constexpr uint8_t kNoGrad = 4;

template <typename T>
inline __attribute__((always_inline)) void max_pool_relu_2x2_body(const T* x, int64_t W, int64_t OH,
                                                                  int64_t OW, T* y, uint8_t* cell) {
  using I = typename SameWidthInt<T>::I;
  constexpr I kMin = I(1) << (8 * sizeof(I) - 1), kNegInf = SameWidthInt<T>::kNegInf;
  for (int64_t oh = 0; oh < OH; ++oh) {
    const T* r0 = x + 2 * oh * W;
    const T* r1 = r0 + W;
    T* yo = y + oh * OW;
    uint8_t* co = cell + oh * OW;
    for (int64_t ow = 0; ow < OW; ++ow) {
      const T v[4] = {r0[2 * ow], r0[2 * ow + 1], r1[2 * ow], r1[2 * ow + 1]};
      I m = bits(v[0]), k = 0;
      for (int j = 1; j < 4; ++j) {
        T cur;
        __builtin_memcpy(&cur, &m, sizeof cur);
        const I t = -static_cast<I>((v[j] > cur) | (v[j] != v[j]));  // all ones: v[j] wins
        m = (m & ~t) | (bits(v[j]) & t);
        k = (k & ~t) | (I(j) & t);
      }
      m &= ~(-static_cast<I>((m != kMin) & (m <= kNegInf)));  // relu: negative -> +0
      const I no_grad = -static_cast<I>((m == 0) | (m <= kNegInf));
      __builtin_memcpy(yo + ow, &m, sizeof m);
      co[ow] = static_cast<uint8_t>((k & ~no_grad) | (I(kNoGrad) & no_grad));
    }
  }
}

// dx of one plane from max_pool_relu_2x2_body's cells: the cell's chosen element gets g, the
// others (all four where relu passed no gradient) and the rows and columns outside the cells
// +0; every element written once.
template <typename T>
inline __attribute__((always_inline)) void max_unpool_relu_2x2_body(const T* g, const uint8_t* cell,
                                                                    int64_t H, int64_t W,
                                                                    int64_t OH, int64_t OW, T* d) {
  for (int64_t oh = 0; oh < OH; ++oh) {
    T* r0 = d + 2 * oh * W;
    T* r1 = r0 + W;
    const T* go = g + oh * OW;
    const uint8_t* co = cell + oh * OW;
    for (int64_t ow = 0; ow < OW; ++ow) {
      using I = typename SameWidthInt<T>::I;
      const I k = co[ow], gv = bits(go[ow]);  // masks on the bits: no branches
      const I put[4] = {gv & -static_cast<I>(k == 0), gv & -static_cast<I>(k == 1),
                        gv & -static_cast<I>(k == 2), gv & -static_cast<I>(k == 3)};
      __builtin_memcpy(r0 + 2 * ow, put, 2 * sizeof(I));  // measured faster here than put_bits
      __builtin_memcpy(r1 + 2 * ow, put + 2, 2 * sizeof(I));
    }
    if (W > 2 * OW) r0[W - 1] = r1[W - 1] = T(0);
  }
  if (H > 2 * OH) fill_zero(d + (H - 1) * W, d + H * W);
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
void max_pool_relu_2x2(const float* x, int64_t W, int64_t OH, int64_t OW, float* y, uint8_t* cell);
void max_pool_relu_2x2(const double* x, int64_t W, int64_t OH, int64_t OW, double* y,
                       uint8_t* cell);
void max_unpool_relu_2x2(const float* g, const uint8_t* cell, int64_t H, int64_t W, int64_t OH,
                         int64_t OW, float* d);
void max_unpool_relu_2x2(const double* g, const uint8_t* cell, int64_t H, int64_t W, int64_t OH,
                         int64_t OW, double* d);
// float with explicit AVX2 and indices formed in 32-bit lanes: max_pool_2x2_i32 needs
// H*W < 2^31 (the caller checks); max_unpool_2x2_i32 checks its own range.
void max_pool_2x2_i32(const float* x, int64_t W, int64_t OH, int64_t OW, float* y, int64_t* ind);
bool max_unpool_2x2_i32(const float* g, const int64_t* ind, int64_t H, int64_t W, int64_t OH,
                        int64_t OW, float* d);
}  // namespace avx2_fma

}  // namespace gradcore
