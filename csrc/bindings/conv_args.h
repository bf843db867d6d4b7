// Argument checks of the conv2d bindings, written once for _C (bind_conv.cpp) and its CUDA
// test driver (bind_cuda_host_conv.cpp): the arrays' ranks, sizes, channels and groups, the
// stride / padding / dilation / groups arguments and the output size, each failure a
// TypeError / ValueError naming the op and the argument. Each returns the geometry the kernels
// take (OH, OW set). `dt` is the float dtype the caller requires of every array.
#pragma once
#include <cstdint>

#include "bindings/checks.h"
#include "core/shapes.h"

namespace gradcore::bindings {

// conv2d_forward(x (N, C, H, W), weight (K, C/groups, R, S), bias (K,) or null).
Window2d conv_forward_geometry(const char* op, const py::array& x, const py::array& weight,
                               const py::array& bias, DType dt, const py::handle& stride,
                               const py::handle& padding, const py::handle& dilation,
                               int64_t groups);

// conv2d_forward's Python arguments checked at once (the float dtype from x, the optional
// bias, the geometry): the bindings of conv2d_forward and of the fused conv block share it.
struct ConvForwardArgs {
  DType dt;
  py::array bias;  // null when None
  Window2d p;
};
ConvForwardArgs conv_forward_args(const char* op, const py::array& x, const py::array& weight,
                                  const py::object& bias, const py::handle& stride,
                                  const py::handle& padding, const py::handle& dilation,
                                  int64_t groups);

// conv2d_backward_input(dy (N, K, OH, OW), weight, input_hw = (H, W)).
Window2d conv_backward_input_geometry(const char* op, const py::array& dy, const py::array& weight,
                                      const py::handle& input_hw, DType dt,
                                      const py::handle& stride, const py::handle& padding,
                                      const py::handle& dilation, int64_t groups);

// conv2d_backward_weight(dy (N, K, OH, OW), x (N, C, H, W), kernel_hw = (R, S)).
Window2d conv_backward_weight_geometry(const char* op, const py::array& dy, const py::array& x,
                                       const py::handle& kernel_hw, DType dt,
                                       const py::handle& stride, const py::handle& padding,
                                       const py::handle& dilation, int64_t groups);

// conv2d_backward_bias(dy (N, K, ...)) of dtype dt: the sizes N, K and P (the product of the
// rest) of the sum db[k] = sum over n and p of dy[n, k, p].
struct BiasGradDims {
  int64_t N, K, P;
};
BiasGradDims bias_grad_dims(const char* op, const py::array& dy, DType dt);

}  // namespace gradcore::bindings
