// CUDA pooling on DeviceArray (float32): the names, arguments and defaults of _C's
// (csrc/bindings/bind_pool.cpp). max_pool2d_backward also takes the forward's window geometry
// as optional keywords: with kernel_size it runs one thread per input element (a gather);
// without, one thread per plane (the CPU's loop).
#include <pybind11/pybind11.h>

#include <string>

#include "bindings/registry.h"
#include "cuda/bindings/device_checks.h"
#include "cuda/bindings/window_args.h"
#include "cuda/pool.h"
#include "cuda/runtime.h"

namespace py = pybind11;
namespace gc = gradcore::cuda;
using gc::DeviceArray;
using gradcore::Window2d;

namespace {

using namespace gradcore::cuda::bindings;

std::array<int64_t, 4> shape4(const DeviceArray& a) {
  return {a.shape()[0], a.shape()[1], a.shape()[2], a.shape()[3]};
}

int64_t divisor_arg(const py::handle& h, const char* op) {
  if (h.is_none()) return 0;
  if (!is_index(h)) fail_type(op, "divisor_override must be an int or None");
  const int64_t v = index_value(h);
  if (v < 0)
    fail_value(op, "divisor_override must be > 0 (or 0/None for none), got " + std::to_string(v));
  return v;
}

void check_dy_shape(const DeviceArray& dy, const Window2d& p, const char* op) {
  const auto& s = dy.shape();
  if (s.size() != 4 || s[0] != p.N || s[1] != p.C || s[2] != p.OH || s[3] != p.OW)
    fail_value(op, "dy must have shape (" + std::to_string(p.N) + ", " + std::to_string(p.C) +
                       ", " + std::to_string(p.OH) + ", " + std::to_string(p.OW) +
                       ") for input_shape (" + std::to_string(p.N) + ", " + std::to_string(p.C) +
                       ", " + std::to_string(p.H) + ", " + std::to_string(p.W) + "), got " +
                       dy.shape_str());
}

}  // namespace

GRADCORE_BINDINGS(pool) {
  m.def(
      "max_pool2d_forward",
      [](const DeviceArray& x, py::object kernel_size, py::object stride, py::object padding,
         py::object dilation, bool ceil_mode) {
        const char* op = "max_pool2d_forward";
        check_float32(x, op, "x");
        check_image4(x, op, "x");
        const Window2d p = window_params(op, shape4(x), kernel_size, stride, padding, dilation,
                                         ceil_mode, /*pooling=*/true, "kernel_size");
        DeviceGuard guard(x.device());
        DeviceArray y({p.N, p.C, p.OH, p.OW}, gc::DType::kFloat32);
        DeviceArray idx({p.N, p.C, p.OH, p.OW}, gc::DType::kInt64);
        gc::max_pool2d_forward(p, x.ptr<float>(), y.ptr<float>(), idx.ptr<int64_t>());
        return py::make_tuple(y, idx);
      },
      py::arg("x"), py::arg("kernel_size"), py::arg("stride") = py::none(),
      py::arg("padding") = py::make_tuple(0, 0), py::arg("dilation") = py::make_tuple(1, 1),
      py::arg("ceil_mode") = false,
      "(y, indices): max over each window; indices (int64) are flat h*W+w positions in the "
      "input plane.");

  m.def(
      "max_pool2d_backward",
      [](const DeviceArray& dy, const DeviceArray& indices, py::object input_shape,
         py::object kernel_size, py::object stride, py::object padding, py::object dilation,
         bool ceil_mode) {
        const char* op = "max_pool2d_backward";
        check_float32(dy, op, "dy");
        check_rank(dy, 4, op, "dy");
        if (indices.dtype() != gc::DType::kInt64)
          fail_type(op,
                    std::string("indices must be int64, got ") + gc::dtype_name(indices.dtype()));
        check_rank(indices, 4, op, "indices");
        check_same_shape(indices, dy, op, "indices", "dy");
        check_same_device(indices, dy, op, "indices", "dy");
        const auto s = shape4_arg(input_shape, op, "input_shape");
        if (s[0] != dy.shape()[0] || s[1] != dy.shape()[1])
          fail_value(op, "input_shape (" + std::to_string(s[0]) + ", " + std::to_string(s[1]) +
                             ", ...) must have the batch and channels of dy " + dy.shape_str());
        Window2d p;
        const bool gather = !kernel_size.is_none();
        if (gather) {
          p = window_params(op, s, kernel_size, stride, padding, dilation, ceil_mode,
                            /*pooling=*/true, "kernel_size");
          check_dy_shape(dy, p, op);
        }
        DeviceGuard guard(dy.device());
        DeviceArray dx({s[0], s[1], s[2], s[3]}, gc::DType::kFloat32);
        const int64_t OH = dy.shape()[2], OW = dy.shape()[3];
        if (gather)
          gc::max_pool2d_backward(p, dy.ptr<float>(), indices.ptr<int64_t>(), dx.ptr<float>());
        else
          gc::max_pool2d_backward_planes(s[0] * s[1], s[2], s[3], OH, OW, dy.ptr<float>(),
                                         indices.ptr<int64_t>(), dx.ptr<float>());
        if (indices.size() > 0) {
          DeviceArray bad({1}, gc::DType::kFloat32);
          gc::count_bad_indices(indices.size(), s[2] * s[3], indices.ptr<int64_t>(),
                                bad.ptr<float>());
          float nbad = 0.f;
          gc::check(cudaMemcpyAsync(&nbad, bad.ptr<float>(), sizeof(float), cudaMemcpyDeviceToHost,
                                    gc::current_stream()),
                    "max_pool2d_backward: cudaMemcpyAsync");
          gc::check(cudaStreamSynchronize(gc::current_stream()),
                    "max_pool2d_backward: cudaStreamSynchronize");
          if (nbad > 0.f)
            fail_value(op, std::to_string(static_cast<int64_t>(nbad)) +
                               " indices lie outside the input plane [0, " +
                               std::to_string(s[2] * s[3]) + ")");
        }
        return dx;
      },
      py::arg("dy"), py::arg("indices"), py::arg("input_shape"),
      py::arg("kernel_size") = py::none(), py::arg("stride") = py::none(),
      py::arg("padding") = py::make_tuple(0, 0), py::arg("dilation") = py::make_tuple(1, 1),
      py::arg("ceil_mode") = false,
      "dx: dy scattered (added) to the argmax positions saved by max_pool2d_forward. With the "
      "forward's kernel_size (stride, padding, dilation, ceil_mode), one thread per input "
      "element gathers; without it, one thread per plane.");

  m.def(
      "avg_pool2d_forward",
      [](const DeviceArray& x, py::object kernel_size, py::object stride, py::object padding,
         bool ceil_mode, bool count_include_pad, py::object divisor_override) {
        const char* op = "avg_pool2d_forward";
        check_float32(x, op, "x");
        check_image4(x, op, "x");
        const int64_t div = divisor_arg(divisor_override, op);
        const Window2d p = window_params(op, shape4(x), kernel_size, stride, padding, py::int_(1),
                                         ceil_mode, /*pooling=*/true, "kernel_size");
        DeviceGuard guard(x.device());
        DeviceArray y({p.N, p.C, p.OH, p.OW}, gc::DType::kFloat32);
        gc::avg_pool2d_forward(p, count_include_pad, div, x.ptr<float>(), y.ptr<float>());
        return y;
      },
      py::arg("x"), py::arg("kernel_size"), py::arg("stride") = py::none(),
      py::arg("padding") = py::make_tuple(0, 0), py::arg("ceil_mode") = false,
      py::arg("count_include_pad") = true, py::arg("divisor_override") = 0,
      "y: mean over each window (PyTorch's count_include_pad / divisor_override rules).");

  m.def(
      "avg_pool2d_backward",
      [](const DeviceArray& dy, py::object input_shape, py::object kernel_size, py::object stride,
         py::object padding, bool ceil_mode, bool count_include_pad, py::object divisor_override) {
        const char* op = "avg_pool2d_backward";
        check_float32(dy, op, "dy");
        check_rank(dy, 4, op, "dy");
        const auto s = shape4_arg(input_shape, op, "input_shape");
        const int64_t div = divisor_arg(divisor_override, op);
        const Window2d p = window_params(op, s, kernel_size, stride, padding, py::int_(1),
                                         ceil_mode, /*pooling=*/true, "kernel_size");
        check_dy_shape(dy, p, op);
        DeviceGuard guard(dy.device());
        DeviceArray dx({s[0], s[1], s[2], s[3]}, gc::DType::kFloat32);
        gc::avg_pool2d_backward(p, count_include_pad, div, dy.ptr<float>(), dx.ptr<float>());
        return dx;
      },
      py::arg("dy"), py::arg("input_shape"), py::arg("kernel_size"), py::arg("stride") = py::none(),
      py::arg("padding") = py::make_tuple(0, 0), py::arg("ceil_mode") = false,
      py::arg("count_include_pad") = true, py::arg("divisor_override") = 0,
      "dx: gradient of avg_pool2d_forward.");

  m.def(
      "adaptive_avg_pool2d_forward",
      [](const DeviceArray& x, py::object output_size) {
        const char* op = "adaptive_avg_pool2d_forward";
        check_float32(x, op, "x");
        check_image4(x, op, "x");
        const auto o = pair_arg(output_size, op, "output_size");
        check_pair(o, op, "output_size");
        const auto s = shape4(x);
        DeviceGuard guard(x.device());
        DeviceArray y({s[0], s[1], o.first, o.second}, gc::DType::kFloat32);
        gc::adaptive_avg_pool2d_forward(s[0] * s[1], s[2], s[3], o.first, o.second, x.ptr<float>(),
                                        y.ptr<float>());
        return y;
      },
      py::arg("x"), py::arg("output_size"),
      "y (N, C, OH, OW): mean over the windows [floor(i*H/OH), ceil((i+1)*H/OH)).");

  m.def(
      "adaptive_avg_pool2d_backward",
      [](const DeviceArray& dy, py::object input_shape) {
        const char* op = "adaptive_avg_pool2d_backward";
        check_float32(dy, op, "dy");
        check_rank(dy, 4, op, "dy");
        const auto s = shape4_arg(input_shape, op, "input_shape");
        const auto& d = dy.shape();
        if (s[0] != d[0] || s[1] != d[1] || d[2] < 1 || d[3] < 1)
          fail_value(op, "dy " + dy.shape_str() + " must have the batch and channels of " +
                             "input_shape and a positive output size");
        DeviceGuard guard(dy.device());
        DeviceArray dx({s[0], s[1], s[2], s[3]}, gc::DType::kFloat32);
        gc::adaptive_avg_pool2d_backward(s[0] * s[1], s[2], s[3], d[2], d[3], dy.ptr<float>(),
                                         dx.ptr<float>());
        return dx;
      },
      py::arg("dy"), py::arg("input_shape"), "dx: gradient of adaptive_avg_pool2d_forward.");
}
