// Python arguments of the array ops, read the same way by the _C_cuda bindings
// (bind_array_ops.cpp) and the CPU test driver (csrc/bindings/bind_cuda_host_array_ops.cpp):
// scalars, axes, int lists, dtypes, and plan errors as Python's TypeError / ValueError.
// pybind11 only (no CUDA headers).
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <optional>
#include <string>
#include <vector>

#include "cuda/array_plan.h"

namespace gradcore::cuda::args {

namespace py = pybind11;

// Runs f(), turning plan::TypeError into Python's TypeError (plan::ValueError is a
// std::invalid_argument, which pybind11 raises as ValueError).
template <class F>
decltype(auto) planned(F&& f) {
  try {
    return f();
  } catch (const plan::TypeError& e) {
    throw py::type_error(e.what());
  }
}

// A Python number (bool, int, float, or a numpy scalar of those kinds) as a plan::Scalar;
// nullopt for anything else.
inline std::optional<plan::Scalar> scalar_of(const py::handle& h) {
  PyObject* o = h.ptr();
  if (PyBool_Check(o)) return plan::scalar_bool(o == Py_True);
  const std::string tname = Py_TYPE(o)->tp_name;
  if (tname == "numpy.bool" || tname == "numpy.bool_") return plan::scalar_bool(PyObject_IsTrue(o));
  if (PyIndex_Check(o)) return plan::scalar_int(h.cast<int64_t>());
  if (PyFloat_Check(o) ||
      (PyNumber_Check(o) && PyObject_HasAttrString(o, "__float__") &&
       !PyObject_HasAttrString(o, "__array_interface__") && !PyObject_HasAttrString(o, "shape"))) {
    const double v = PyFloat_AsDouble(o);
    if (v == -1.0 && PyErr_Occurred()) throw py::error_already_set();
    return plan::scalar_float(v);
  }
  // numpy float scalars have a shape (()); they convert like Python floats
  if (tname.rfind("numpy.float", 0) == 0) return plan::scalar_float(h.cast<double>());
  return std::nullopt;
}

inline plan::Scalar scalar_arg(const py::handle& h, const std::string& fn, const std::string& arg) {
  auto s = scalar_of(h);
  if (!s)
    throw py::type_error(fn + ": " + arg + " must be a number (bool, int or float), got " +
                         std::string(py::str(py::type::of(h).attr("__name__"))));
  return *s;
}

// A sequence of ints (or one int).
inline std::vector<int64_t> int_list(const py::handle& h, const std::string& fn,
                                     const std::string& arg) {
  auto one = [&](const py::handle& v) {
    if (PyBool_Check(v.ptr()) || !PyIndex_Check(v.ptr()))
      throw py::type_error(fn + ": " + arg + " must be an int or a sequence of ints");
    return v.cast<int64_t>();
  };
  if (PyIndex_Check(h.ptr())) return {one(h)};
  if (!py::isinstance<py::sequence>(h) || py::isinstance<py::str>(h))
    throw py::type_error(fn + ": " + arg + " must be an int or a sequence of ints");
  std::vector<int64_t> r;
  for (const py::handle& v : py::reinterpret_borrow<py::sequence>(h)) r.push_back(one(v));
  return r;
}

// axes: None (every axis) or an int or a sequence of ints (an empty one: no axis).
inline std::optional<std::vector<int64_t>> axes_arg(const py::handle& h, const std::string& fn) {
  if (h.is_none()) return std::nullopt;
  return int_list(h, fn, "axes");
}

// numpy's name of a dtype-like object ("float32", np.float32, np.dtype("int64"), ...).
inline std::string dtype_name_of(const py::handle& dtype) {
  return py::str(py::dtype::from_args(py::reinterpret_borrow<py::object>(dtype)).attr("name"));
}

}  // namespace gradcore::cuda::args
