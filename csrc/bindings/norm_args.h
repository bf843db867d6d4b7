// Argument checks of the batch-norm bindings, written once for _C (bind_norm.cpp) and its CUDA
// test driver (bind_cuda_host_norm.cpp): x (N, C, *), the (C,) vectors, aliasing of the
// running statistics, momentum, eps. `dt` is the float dtype the caller requires of every
// array. Each returns x's (N, C, S) and the optional arrays (null where None was passed).
#pragma once
#include <cstdint>

#include "bindings/checks.h"

namespace gradcore::bindings {

// x (N, C, *) viewed as (N, C, S).
struct NormDims {
  int64_t N, C, S;
};

struct BnTrainArgs {
  NormDims dims;
  py::array weight, bias, running_mean, running_var;
};
// batch_norm_forward_train: the running statistics are written, so they share memory with no
// other argument; momentum in [0, 1], eps > 0, more than one value per channel.
BnTrainArgs bn_train_args(const char* op, const py::array& x, DType dt, const py::object& weight,
                          const py::object& bias, const py::object& running_mean,
                          const py::object& running_var, double momentum, double eps);

struct BnEvalArgs {
  NormDims dims;
  py::array weight, bias;
};
// batch_norm_forward_eval: running_mean and running_var are required.
BnEvalArgs bn_eval_args(const char* op, const py::array& x, DType dt, const py::object& weight,
                        const py::object& bias, const py::array& running_mean,
                        const py::array& running_var, double eps);

struct BnBackwardArgs {
  NormDims dims;
  py::array weight;
  bool want_dweight, want_dbias;  // need_*_grad, None meaning "when affine"
};
BnBackwardArgs bn_backward_args(const char* op, const py::array& dy, const py::array& x, DType dt,
                                const py::object& weight, const py::array& mean,
                                const py::array& invstd, const py::object& need_weight_grad,
                                const py::object& need_bias_grad);

}  // namespace gradcore::bindings
