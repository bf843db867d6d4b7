// Dropout with a counter-based mask: element i is kept iff u(seed, i) >= p, where u is a
// 53-bit uniform in [0, 1) from a SplitMix64 hash of (seed, i). The mask therefore depends
// only on (seed, i): reproducible, and identical for any thread count or chunking.
#pragma once
#include <cstdint>

namespace gradcore {

// The keep decision for element `index` under `seed` and drop probability p in [0, 1].
bool dropout_keep(uint64_t seed, int64_t index, double p);

// x, y (n,), mask (n,) uint8: mask[i] = keep(seed, i), y = x * mask / (1 - p)
// (p == 1: every element dropped, y = x * 0). Overwrites y and mask.
template <typename T>
void dropout_forward(const T* x, T* y, uint8_t* mask, int64_t n, double p, uint64_t seed);

// dx = dy * mask / (1 - p). Overwrites dx.
template <typename T>
void dropout_backward(const T* dy, const uint8_t* mask, T* dx, int64_t n, double p);

}  // namespace gradcore
