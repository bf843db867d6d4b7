// What the CUDA kernels and the CPU test driver share. Every CUDA kernel is a thin __global__
// wrapper around per-thread functions marked GC_HD (`__host__ __device__` under nvcc, plain
// inline under the host compiler) that live in csrc/cuda/<stem>_threads.h. The wrapper maps
// (blockIdx, threadIdx) to a thread index t and calls the function; the CPU test driver
// (csrc/bindings/bind_cuda_host.cpp, built into gradcore._C) calls the same functions for
// every t of the same index space, so CI tests the indexing of every kernel without a GPU.
//
// Floating-point: nvcc contracts a * b + c into an FMA by default and g++ on x86-64 does not,
// so thread functions that must agree bitwise spell their multiply-adds as fmaf().
#pragma once
#include <cstdint>

#if defined(__CUDACC__)
#define GC_HD __host__ __device__ __forceinline__
#else
#define GC_HD inline
#endif

namespace gradcore::cuda {

// Threads per block of the elementwise (grid-stride) kernels, and of the block reductions.
constexpr int kBlock = 256;

// The reduction every block-reducing kernel uses, written once for both sides: `buf` holds
// kBlock partials (thread t's at buf[t]); pairs (t, t + s) are added for s = kBlock/2, ..., 1,
// so the sum's association is fixed by kBlock alone (deterministic, no atomics). On the GPU
// each step runs in parallel between __syncthreads(); the host driver runs the same steps.
GC_HD float tree_step(float a, float b) {
  return a + b;
}

#if !defined(__CUDACC__)
// Host emulation of the block reduction above: buf[0] becomes the sum, with the GPU's order.
inline float tree_reduce_host(float* buf) {
  for (int s = kBlock / 2; s > 0; s >>= 1)
    for (int t = 0; t < s; ++t) buf[t] = tree_step(buf[t], buf[t + s]);
  return buf[0];
}

// Host emulations of cuda::for_each_row_reduce_with / for_each_row_reduce (launch.cuh): per
// row r, the kBlock partials partial(r, t), the fixed tree with `combine` (same pairs and
// order as the GPU), then finish(r, total).
template <class Combine, class Partial, class Finish>
void for_each_row_reduce_with_host(int64_t rows, Combine combine, Partial partial, Finish finish) {
  float buf[kBlock];
  for (int64_t r = 0; r < rows; ++r) {
    for (int t = 0; t < kBlock; ++t) buf[t] = partial(r, t);
    for (int s = kBlock / 2; s > 0; s >>= 1)
      for (int t = 0; t < s; ++t) buf[t] = combine(buf[t], buf[t + s]);
    finish(r, buf[0]);
  }
}
template <class Partial, class Finish>
void for_each_row_reduce_host(int64_t rows, Partial partial, Finish finish) {
  for_each_row_reduce_with_host(rows, tree_step, partial, finish);
}
#endif

}  // namespace gradcore::cuda
