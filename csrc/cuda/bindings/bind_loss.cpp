// CUDA losses on DeviceArray (float32; int64 targets): cross_entropy and mse_loss with the
// names, arguments and defaults of _C's (csrc/bindings/bind_loss.cpp). Targets are copied to
// the host and checked like the CPU binding does (a synchronising copy of N int64 values).
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "bindings/registry.h"
#include "cuda/bindings/device_checks.h"
#include "cuda/loss.h"

namespace py = pybind11;
namespace gc = gradcore::cuda;
using gc::DeviceArray;

namespace {

using namespace gradcore::cuda::bindings;

int parse_reduction(const std::string& r, const char* op) {
  if (r == "none") return 0;
  if (r == "mean") return 1;
  if (r == "sum") return 2;
  throw py::value_error(std::string(op) +
                        ": reduction must be one of 'mean', 'sum', 'none', got '" + r + "'");
}

std::string dims_str(const std::vector<int64_t>& s) {
  std::string out = "(";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + (s.size() == 1 ? ",)" : ")");
}

void check_dims(const DeviceArray& a, const std::vector<int64_t>& shape, const char* op,
                const char* arg) {
  if (a.shape() != shape)
    fail_value(op,
               std::string(arg) + " must have shape " + dims_str(shape) + ", got " + a.shape_str());
}

// float32 on the device of `ref`.
void check_f32_on(const DeviceArray& a, const DeviceArray& ref, const char* op, const char* arg,
                  const char* ref_name) {
  gc::bindings::check_float32(a, op, arg);
  gc::bindings::check_same_device(ref, a, op, ref_name, arg);
}

// int64 targets (N,) on the device of `input`, each in [0, C) or ignore_index.
void check_targets(const DeviceArray& target, const DeviceArray& input, int64_t N, int64_t C,
                   int64_t ignore_index, const char* op) {
  if (target.dtype() != gc::DType::kInt64)
    throw py::type_error(std::string(op) + ": target must be int64, got " +
                         gc::dtype_name(target.dtype()));
  check_rank(target, 1, op, "target");
  if (target.shape()[0] != N)
    fail_value(op, "target has " + std::to_string(target.shape()[0]) +
                       " entries but the input has " + std::to_string(N) + " rows (target " +
                       target.shape_str() + ")");
  gc::bindings::check_same_device(input, target, op, "logits", "target");
  if (N == 0) return;
  std::vector<int64_t> t(static_cast<size_t>(N));
  {
    py::gil_scoped_release nogil;
    cudaStream_t s = gc::current_stream();
    gc::check(cudaMemcpyAsync(t.data(), target.data(), target.nbytes(), cudaMemcpyDeviceToHost, s),
              "cudaMemcpyAsync (device to host)");
    gc::check(cudaStreamSynchronize(s), "cudaStreamSynchronize");
  }
  for (int64_t i = 0; i < N; ++i)
    if (t[i] != ignore_index && (t[i] < 0 || t[i] >= C))
      fail_value(op, "target " + std::to_string(t[i]) + " at index " + std::to_string(i) +
                         " is out of range [0, " + std::to_string(C) +
                         ") (ignore_index=" + std::to_string(ignore_index) + ")");
}

void check_label_smoothing(double ls, const char* op) {
  if (!(ls >= 0.0 && ls <= 1.0))
    fail_value(op, "label_smoothing must be in [0, 1], got " + std::to_string(ls));
}

// grad_out: one element (mean/sum) or `none_shape` (none).
void check_grad_out(const DeviceArray& g, const DeviceArray& ref, int reduction,
                    const std::vector<int64_t>& none_shape, const char* op) {
  check_f32_on(g, ref, op, "grad_out", "the input");
  if (reduction == 0) {
    if (g.shape() != none_shape)
      fail_value(op, "grad_out must have shape " + dims_str(none_shape) +
                         " for reduction='none', got " + g.shape_str());
  } else if (g.size() != 1) {
    fail_value(op, "grad_out must have one element for reduction='mean' or 'sum', got shape " +
                       g.shape_str());
  }
}

struct ClassArgs {
  int64_t N, C;
  const float* weight;
};

ClassArgs check_class_loss(const DeviceArray& logits, const DeviceArray& target,
                           const py::object& weight_o, int64_t ignore_index, const char* op) {
  gc::bindings::check_float32(logits, op, "logits");
  check_rank(logits, 2, op, "logits");
  ClassArgs a{logits.shape()[0], logits.shape()[1], nullptr};
  if (const DeviceArray* w = optional_device_array(weight_o, op, "weight")) {
    check_f32_on(*w, logits, op, "weight", "logits");
    check_dims(*w, {a.C}, op, "weight");
    a.weight = w->ptr<float>();
  }
  check_targets(target, logits, a.N, a.C, ignore_index, op);
  return a;
}

}  // namespace

GRADCORE_BINDINGS(loss) {
  m.def(
      "cross_entropy_forward",
      [](const DeviceArray& logits, const DeviceArray& target, py::object weight,
         int64_t ignore_index, double label_smoothing, const std::string& reduction) {
        const char* op = "cross_entropy_forward";
        const int red = parse_reduction(reduction, op);
        check_label_smoothing(label_smoothing, op);
        const ClassArgs a = check_class_loss(logits, target, weight, ignore_index, op);
        gc::bindings::DeviceGuard guard(logits.device());
        DeviceArray loss(red == 0 ? std::vector<int64_t>{a.N} : std::vector<int64_t>{},
                         gc::DType::kFloat32);
        DeviceArray lse({a.N}, gc::DType::kFloat32);
        gc::cross_entropy_forward(logits.ptr<float>(), target.ptr<int64_t>(), a.weight, a.N, a.C,
                                  ignore_index, label_smoothing, red, loss.ptr<float>(),
                                  lse.ptr<float>());
        return py::make_tuple(loss, lse);
      },
      py::arg("logits"), py::arg("target"), py::arg("weight") = py::none(),
      py::arg("ignore_index") = -100, py::arg("label_smoothing") = 0.0,
      py::arg("reduction") = "mean",
      "Fused log-softmax + NLL over logits (N, C); returns (loss, lse (N,)).");
  m.def(
      "cross_entropy_backward",
      [](const DeviceArray& grad_out, const DeviceArray& logits, const DeviceArray& target,
         const DeviceArray& lse, py::object weight, int64_t ignore_index, double label_smoothing,
         const std::string& reduction) {
        const char* op = "cross_entropy_backward";
        const int red = parse_reduction(reduction, op);
        check_label_smoothing(label_smoothing, op);
        const ClassArgs a = check_class_loss(logits, target, weight, ignore_index, op);
        check_f32_on(lse, logits, op, "lse", "logits");
        check_dims(lse, {a.N}, op, "lse");
        check_grad_out(grad_out, logits, red, {a.N}, op);
        gc::bindings::DeviceGuard guard(logits.device());
        DeviceArray dx({a.N, a.C}, gc::DType::kFloat32);
        gc::cross_entropy_backward(grad_out.ptr<float>(), logits.ptr<float>(),
                                   target.ptr<int64_t>(), lse.ptr<float>(), a.weight, a.N, a.C,
                                   ignore_index, label_smoothing, red, dx.ptr<float>());
        return dx;
      },
      py::arg("grad_out"), py::arg("logits"), py::arg("target"), py::arg("lse"),
      py::arg("weight") = py::none(), py::arg("ignore_index") = -100,
      py::arg("label_smoothing") = 0.0, py::arg("reduction") = "mean",
      "Gradient of cross_entropy_forward with respect to the logits.");
  m.def(
      "mse_loss_forward",
      [](const DeviceArray& input, const DeviceArray& target, const std::string& reduction) {
        const char* op = "mse_loss_forward";
        const int red = parse_reduction(reduction, op);
        gc::bindings::check_float32(input, op, "input");
        check_f32_on(target, input, op, "target", "input");
        gc::bindings::check_same_shape(input, target, op, "input", "target");
        gc::bindings::DeviceGuard guard(input.device());
        DeviceArray loss(red == 0 ? input.shape() : std::vector<int64_t>{}, gc::DType::kFloat32);
        gc::mse_loss_forward(input.ptr<float>(), target.ptr<float>(), input.size(), red,
                             loss.ptr<float>());
        return loss;
      },
      py::arg("input"), py::arg("target"), py::arg("reduction") = "mean",
      "Squared error (input - target)^2 with a reduction.");
  m.def(
      "mse_loss_backward",
      [](const DeviceArray& grad_out, const DeviceArray& input, const DeviceArray& target,
         const std::string& reduction) {
        const char* op = "mse_loss_backward";
        const int red = parse_reduction(reduction, op);
        gc::bindings::check_float32(input, op, "input");
        check_f32_on(target, input, op, "target", "input");
        gc::bindings::check_same_shape(input, target, op, "input", "target");
        check_grad_out(grad_out, input, red, input.shape(), op);
        gc::bindings::DeviceGuard guard(input.device());
        DeviceArray dx(input.shape(), gc::DType::kFloat32);
        gc::mse_loss_backward(grad_out.ptr<float>(), input.ptr<float>(), target.ptr<float>(),
                              input.size(), red, dx.ptr<float>());
        return dx;
      },
      py::arg("grad_out"), py::arg("input"), py::arg("target"), py::arg("reduction") = "mean",
      "Gradient with respect to the input (the target's gradient is its negative).");
}
