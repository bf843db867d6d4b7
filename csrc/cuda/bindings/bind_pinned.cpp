// Pinned host memory in Python: pinned_empty / is_pinned (gradcore.cuda wraps them), and the
// release of the sources held by asynchronous copies (DeviceArray.from_numpy(...,
// non_blocking=True) holds its pinned source until the copy is done).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <string>
#include <vector>

#include "bindings/registry.h"
#include "cuda/pinned.h"
#include "cuda/runtime.h"

namespace py = pybind11;
namespace gc = gradcore::cuda;

namespace {

std::vector<py::ssize_t> shape_of(const py::object& shape) {
  std::vector<int64_t> dims;
  if (py::isinstance<py::int_>(shape))
    dims = {shape.cast<int64_t>()};
  else
    dims = shape.cast<std::vector<int64_t>>();
  for (int64_t d : dims)
    if (d < 0)
      throw py::value_error("pinned_empty: shape must not have negative dimensions, got " +
                            std::string(py::str(shape)));
  return {dims.begin(), dims.end()};
}

py::array pinned_empty(const py::object& shape, const py::object& dtype) {
  gc::release_finished();
  const py::dtype dt = py::dtype::from_args(dtype);
  if (dt.kind() == 'O')
    throw py::type_error("pinned_empty: dtype object cannot live in pinned memory");
  const std::vector<py::ssize_t> dims = shape_of(shape);
  std::size_t bytes = static_cast<std::size_t>(dt.itemsize());
  for (py::ssize_t d : dims)
    if (__builtin_mul_overflow(bytes, static_cast<std::size_t>(d), &bytes))
      throw py::value_error("pinned_empty: shape " + std::string(py::str(shape)) + " is too large");
  void* p = gc::pinned_alloc(bytes);
  py::capsule owner;
  try {
    owner = py::capsule(p, [](void* q) { gc::pinned_free(q); });
  } catch (...) {
    gc::pinned_free(p);
    throw;
  }
  // C order; the capsule (the array's base) frees the memory when the last view is gone
  return py::array(dt, dims, p, owner);
}

}  // namespace

GRADCORE_BINDINGS(pinned) {
  m.def("pinned_empty", &pinned_empty, py::arg("shape"), py::arg("dtype") = "float32",
        "An uninitialised C-order numpy array in pinned host memory (cudaHostAlloc), freed "
        "(cudaFreeHost) when the array and its views are gone.");
  m.def(
      "is_pinned", [](const py::array& a) { return gc::is_pinned(a.data()); },
      py::arg("array").noconvert(),
      "Whether a numpy array's memory is pinned host memory (cudaHostAlloc or "
      "cudaHostRegister).");
  m.def("release_finished_copies", &gc::release_finished,
        "Drop the sources of finished asynchronous host-to-device copies; returns how many "
        "copies are still in flight.");
}
