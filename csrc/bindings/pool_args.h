// Argument checks of the pooling bindings, written once for _C (bind_pool.cpp) and its CUDA
// test driver (bind_cuda_host_pool.cpp). Arguments follow torch.nn.functional (stride None =
// kernel_size); PyTorch's rules are checked: padding at most half the kernel, an output of at
// least one pixel, and no size or work count that overflows int64.
#pragma once
#include <cstdint>

#include "bindings/checks.h"
#include "core/shapes.h"

namespace gradcore::bindings {

// Window, stride (None: the window), padding, dilation and output size of a 2-d pooling of
// an (N, C, H, W) input; every channel is its own window (K = groups = C).
Window2d pool_params(const char* op, int64_t N, int64_t C, int64_t H, int64_t W,
                     const py::handle& kernel_size, const py::handle& stride,
                     const py::handle& padding, const py::handle& dilation, bool ceil_mode);

// `x` is a 4-d array of dtype dt with H, W > 0.
void check_input4(const py::array& x, const char* op, const char* arg, DType dt);

// avg_pool2d's divisor_override: None -> 0 (none), else an int > 0.
int64_t divisor_arg(const py::handle& h, const char* op);

// dy's shape is (N, C, OH, OW) of these pooling params.
void check_dy_shape(const py::array& dy, const Window2d& p, const char* op);

}  // namespace gradcore::bindings
