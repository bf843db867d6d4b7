// Kernel launch helpers of the .cu files (nvcc only). Every launch goes on gradcore's current
// stream and is checked (cuda::check_launch names the kernel in the exception). Every launch
// is a profiler span (cuda/profiler.h): `flops` and `bytes` (default 0) are what the profiler
// reports for it, counted like the CPU kernel's GC_PROFILE_SCOPE of the same name.
#pragma once
#include "cuda/host_device.h"
#include "cuda/profiler.h"
#include "cuda/runtime.h"

namespace gradcore::cuda {

// for t in [0, n): f(t), as a grid-stride loop (grid_for(n) blocks of kBlock threads).
template <class F>
__global__ void grid_stride_kernel(int64_t n, F f) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; t < n; t += stride)
    f(t);
}

// Launch f over the index space [0, n) (nothing when n == 0). `name` is the kernel's name in
// errors and in the profiler: the CPU name of the op ("relu_forward").
template <class F>
void for_each_index(const char* name, int64_t n, F f, double flops = 0, double bytes = 0) {
  if (n <= 0) return;
  profiler::KernelScope prof(name, flops, bytes);
  grid_stride_kernel<<<grid_for(n), kBlock, 0, current_stream()>>>(n, f);
  check_launch(name);
}

// One block of kBlock threads per row r in [0, rows): partial(r, t) for each thread t, the
// fixed tree of host_device.h over the partials with combine(a, b) (tree_step for sums;
// softmax's NaN-propagating maximum), then finish(r, total) on thread 0. Partials of threads
// with no element must be combine's identity.
template <class Combine, class Partial, class Finish>
__global__ void block_reduce_with_kernel(int64_t rows, Combine combine, Partial partial,
                                         Finish finish) {
  __shared__ float buf[kBlock];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    buf[threadIdx.x] = partial(r, static_cast<int>(threadIdx.x));
    __syncthreads();
    for (int s = kBlock / 2; s > 0; s >>= 1) {
      if (static_cast<int>(threadIdx.x) < s)
        buf[threadIdx.x] = combine(buf[threadIdx.x], buf[threadIdx.x + s]);
      __syncthreads();
    }
    if (threadIdx.x == 0) finish(r, buf[0]);
    __syncthreads();
  }
}

template <class Combine, class Partial, class Finish>
void for_each_row_reduce_with(const char* name, int64_t rows, Combine combine, Partial partial,
                              Finish finish, double flops = 0, double bytes = 0) {
  if (rows <= 0) return;
  profiler::KernelScope prof(name, flops, bytes);
  const unsigned grid = static_cast<unsigned>(rows < 65535 ? rows : 65535);
  block_reduce_with_kernel<<<grid, kBlock, 0, current_stream()>>>(rows, combine, partial, finish);
  check_launch(name);
}

// The sum reduction: for_each_row_reduce_with(tree_step).
template <class Partial, class Finish>
void for_each_row_reduce(const char* name, int64_t rows, Partial partial, Finish finish,
                         double flops = 0, double bytes = 0) {
  for_each_row_reduce_with(
      name, rows, [] __device__(float a, float b) { return tree_step(a, b); }, partial, finish,
      flops, bytes);
}

}  // namespace gradcore::cuda
