// CUDA kernels of F.linear that are not GEMMs (the GEMMs are cuda::sgemm): sum_rows, the bias
// gradient (the CPU name of csrc/cpu/elementwise.h), launched on the current stream.
#pragma once
#include <cstdint>

namespace gradcore::cuda {

// out (C) = column sums of x (R, C): one block per column, the fixed tree reduction of
// host_device.h (float accumulation; the CPU sums in double). Overwrites out.
void sum_rows(const float* x, float* out, int64_t R, int64_t C);

}  // namespace gradcore::cuda
