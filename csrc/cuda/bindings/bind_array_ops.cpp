// The numpy-like array ops on DeviceArray (the op layer's arithmetic on CUDA storage):
// binary_op / binary_op_scalar_left, unary_op, reduce, astype, fill_, strided_copy, where.
// Planned by cuda/array_plan.h (the same checks and messages as the CPU test driver
// _C.cuda_host, csrc/bindings/bind_cuda_host_array_ops.cpp); outputs are new DeviceArrays.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "bindings/registry.h"
#include "cuda/array_ops.h"
#include "cuda/array_plan.h"
#include "cuda/bindings/array_args.h"
#include "cuda/bindings/device_checks.h"

namespace py = pybind11;
namespace gc = gradcore::cuda;
namespace plan = gradcore::cuda::plan;
namespace args = gradcore::cuda::args;
using gc::DeviceArray;
using gc::DType;

namespace {

DeviceArray broadcast_binary(const char* fn, const std::string& op_name, const DeviceArray& a,
                             const DeviceArray& b) {
  const gc::BinOp op = plan::binop_from_str(op_name, fn);
  const DType out_dt = plan::binary_result(fn, op, a.dtype(), b.dtype());
  gc::bindings::check_same_device(a, b, fn, "a", "b");
  const plan::Shape out_shape = plan::broadcast_shapes({{"a", a.shape()}, {"b", b.shape()}}, fn);
  gc::bindings::DeviceGuard guard(a.device());
  DeviceArray out(out_shape, out_dt);
  const auto ix = plan::broadcast_indexers({a.shape(), b.shape()}, out_shape);
  gc::binary_op(op, a.dtype(), a.data(), ix[0], b.data(), ix[1], out.data(), out.size());
  return out;
}

DeviceArray binary_scalar(const char* fn, const std::string& op_name, const DeviceArray& a,
                          const plan::Scalar& s, bool scalar_left) {
  const gc::BinOp op = plan::binop_from_str(op_name, fn);
  const DType out_dt = plan::binary_result(fn, op, a.dtype(), a.dtype());
  plan::check_scalar(fn, op, a.dtype(), s, scalar_left ? "a" : "b");
  plan::check_rank(a.shape(), fn, scalar_left ? "b" : "a");
  gc::bindings::DeviceGuard guard(a.device());
  DeviceArray out(a.shape(), out_dt);
  gc::binary_op_scalar(op, a.dtype(), a.data(), s, scalar_left, out.data(), out.size());
  return out;
}

}  // namespace

GRADCORE_BINDINGS(array_ops) {
  m.def(
      "binary_op",
      [](const std::string& op, const DeviceArray& a, const py::object& b) {
        return args::planned([&] {
          if (py::isinstance<DeviceArray>(b))
            return broadcast_binary("binary_op", op, a, b.cast<const DeviceArray&>());
          return binary_scalar("binary_op", op, a, args::scalar_arg(b, "binary_op", "b"), false);
        });
      },
      py::arg("op"), py::arg("a"), py::arg("b"),
      "a op b with numpy broadcasting (b: a DeviceArray or a Python number); op: add, sub, "
      "mul, div, maximum, minimum, pow, eq, ne, lt, le, gt, ge.");
  m.def(
      "binary_op_scalar_left",
      [](const std::string& op, const py::object& a, const DeviceArray& b) {
        return args::planned([&] {
          return binary_scalar("binary_op_scalar_left", op, b,
                               args::scalar_arg(a, "binary_op_scalar_left", "a"), true);
        });
      },
      py::arg("op"), py::arg("a"), py::arg("b"), "a op b for a Python number a (rsub, rdiv).");
  m.def(
      "unary_op",
      [](const std::string& op_name, const DeviceArray& a) {
        return args::planned([&] {
          const gc::UnOp op = plan::unop_from_str(op_name, "unary_op");
          plan::check_unary("unary_op", op, a.dtype());
          gc::bindings::DeviceGuard guard(a.device());
          DeviceArray out(a.shape(), a.dtype());
          gc::unary_op(op, a.ptr<float>(), out.ptr<float>(), a.size());
          return out;
        });
      },
      py::arg("op"), py::arg("a"),
      "op(a), float32; op: neg, abs, exp, log, sqrt, square, sign, reciprocal.");
  m.def(
      "reduce",
      [](const std::string& op, const DeviceArray& a, const py::object& axes, bool keepdims) {
        return args::planned([&] {
          const plan::ReducePlan p = plan::plan_reduce("reduce", op, a.dtype(), a.shape(),
                                                       args::axes_arg(axes, "reduce"), keepdims);
          gc::bindings::DeviceGuard guard(a.device());
          DeviceArray out(p.out_shape, p.out_dtype);
          gc::reduce(p, a.dtype(), a.data(), out.data());
          return out;
        });
      },
      py::arg("op"), py::arg("a"), py::arg("axes") = py::none(), py::arg("keepdims") = false,
      "a.<op>(axis=axes, keepdims=keepdims) as numpy (op: sum, mean, max, min; float32, and "
      "int64 for sum/max/min); deterministic.");
  m.def(
      "astype",
      [](const DeviceArray& a, const py::object& dtype) {
        return args::planned([&] {
          const DType to = plan::dtype_from_str(args::dtype_name_of(dtype), "astype", "dtype");
          plan::dispatch_cast_dtype(a.dtype(), "astype", "a", [](auto) {});
          plan::dispatch_cast_dtype(to, "astype", "dtype", [](auto) {});
          gc::bindings::DeviceGuard guard(a.device());
          DeviceArray out(a.shape(), to);
          gc::astype(a.dtype(), to, a.data(), out.data(), a.size());
          return out;
        });
      },
      py::arg("a"), py::arg("dtype"),
      "a copy of a as dtype (float32, float64, int64, int32, uint8, bool), numpy's casts.");
  m.def(
      "fill_",
      [](DeviceArray& a, const py::object& value) {
        args::planned([&] {
          const plan::Scalar s = args::scalar_arg(value, "fill_", "value");
          plan::dispatch_cast_dtype(a.dtype(), "fill_", "a", [](auto) {});
          gc::bindings::DeviceGuard guard(a.device());
          gc::fill(a.dtype(), a.data(), s, a.size());
        });
      },
      py::arg("a"), py::arg("value"), "Set every element of a to value (in place).");
  m.def(
      "strided_copy",
      [](const DeviceArray& a, const py::object& shape, const py::object& strides, int64_t offset) {
        return args::planned([&] {
          const plan::Shape sh = args::int_list(shape, "strided_copy", "shape");
          const gc::Indexer ix =
              plan::plan_strided("strided_copy", a.size(), sh,
                                 args::int_list(strides, "strided_copy", "strides"), offset);
          gc::bindings::DeviceGuard guard(a.device());
          DeviceArray out(sh, a.dtype());
          gc::strided_copy(plan::itemsize(a.dtype()), a.data(), ix, out.data(), out.size());
          return out;
        });
      },
      py::arg("a"), py::arg("shape"), py::arg("strides"), py::arg("offset") = 0,
      "A C-contiguous array of `shape` gathered from a's storage at element `offset` with "
      "element `strides` (transpose, permute, slices, expand).");
  m.def(
      "where",
      [](const DeviceArray& cond, const DeviceArray& a, const DeviceArray& b) {
        return args::planned([&] {
          if (cond.dtype() != DType::kBool)
            plan::fail_type(
                "where", std::string("cond must be bool, got ") + plan::dtype_name(cond.dtype()));
          if (a.dtype() != b.dtype())
            plan::fail_type("where", std::string("a (") + plan::dtype_name(a.dtype()) +
                                         ") and b (" + plan::dtype_name(b.dtype()) +
                                         ") must have the same dtype on CUDA");
          gc::bindings::check_same_device(cond, a, "where", "cond", "a");
          gc::bindings::check_same_device(a, b, "where", "a", "b");
          const plan::Shape s = plan::broadcast_shapes(
              {{"cond", cond.shape()}, {"a", a.shape()}, {"b", b.shape()}}, "where");
          gc::bindings::DeviceGuard guard(a.device());
          DeviceArray out(s, a.dtype());
          const auto ix = plan::broadcast_indexers({cond.shape(), a.shape(), b.shape()}, s);
          gc::where(cond.ptr<bool>(), ix[0], plan::itemsize(a.dtype()), a.data(), ix[1], b.data(),
                    ix[2], out.data(), out.size());
          return out;
        });
      },
      py::arg("cond"), py::arg("a"), py::arg("b"),
      "numpy.where(cond, a, b) with broadcasting (cond bool; a, b of one dtype).");
}
