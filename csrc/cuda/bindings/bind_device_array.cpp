// DeviceArray in Python: the storage type of Tensors on "cuda" (gradcore.devices registers
// it). Copies to and from numpy run on the current stream and wait for it (except
// from_numpy(..., non_blocking=True) from pinned host memory).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <memory>
#include <string>

#include "bindings/registry.h"
#include "cuda/bindings/device_checks.h"
#include "cuda/device_array.h"
#include "cuda/pinned.h"
#include "cuda/runtime.h"

namespace py = pybind11;
namespace gc = gradcore::cuda;
using gc::DeviceArray;
using gc::DType;

namespace {

DType dtype_of(const py::dtype& dt) {
  const std::string name = py::str(dt.attr("name"));
  for (DType d : {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16,
                  DType::kInt64, DType::kInt32, DType::kUInt8, DType::kBool})
    if (name == gc::dtype_name(d)) return d;
  throw py::type_error("DeviceArray: dtype " + name +
                       " is not supported on CUDA (float32, float64, float16, bfloat16, int64, "
                       "int32, uint8, bool)");
}

py::dtype numpy_dtype(DType d) {
  if (d == DType::kBFloat16)
    return py::dtype::from_args(py::module_::import("ml_dtypes").attr("bfloat16"));
  return py::dtype(gc::dtype_name(d));
}

std::vector<int64_t> shape_arg(const py::object& shape) {
  if (py::isinstance<py::int_>(shape)) return {shape.cast<int64_t>()};
  return shape.cast<std::vector<int64_t>>();
}

// Copies `src` to `device` on the current stream. Waits for the copy, unless `non_blocking`
// and the (C-order) source is pinned host memory: then the copy runs asynchronously and the
// source is held (gradcore::cuda::hold_until_done) until it is done, so that dropping the
// source early neither frees nor lets anyone reuse the memory the copy reads.
DeviceArray from_numpy(const py::array& src, int device, bool non_blocking) {
  gc::bindings::DeviceGuard guard(device);
  // C order without changing the dtype (a strided view is copied once on the host)
  py::array a = py::array::ensure(src, py::array::c_style);
  if (!a) throw py::type_error("DeviceArray.from_numpy: expected a numpy array");
  std::vector<int64_t> shape(a.shape(), a.shape() + a.ndim());
  DeviceArray d(shape, dtype_of(a.dtype()));
  if (d.nbytes()) {
    cudaStream_t s = gc::current_stream();
    const bool async = non_blocking && gc::is_pinned(a.data());
    if (async) gc::release_finished();  // drop the sources of earlier copies that are done
    {
      py::gil_scoped_release nogil;
      gc::check(cudaMemcpyAsync(d.data(), a.data(), d.nbytes(), cudaMemcpyHostToDevice, s),
                "cudaMemcpyAsync (host to device)");
      if (!async) gc::check(cudaStreamSynchronize(s), "cudaStreamSynchronize");
    }
    if (async) {
      PyObject* held = a.inc_ref().ptr();
      try {
        gc::hold_until_done(std::shared_ptr<void>(held,
                                                  [](void* o) {
                                                    py::gil_scoped_acquire gil;
                                                    Py_DECREF(static_cast<PyObject*>(o));
                                                  }),
                            s);
      } catch (...) {  // the source cannot be held: wait for the copy instead
        py::gil_scoped_release nogil;
        cudaStreamSynchronize(s);
        throw;
      }
    }
  }
  return d;
}

py::array to_numpy(const DeviceArray& d) {
  gc::bindings::DeviceGuard guard(d.device());
  py::array out(numpy_dtype(d.dtype()),
                std::vector<py::ssize_t>(d.shape().begin(), d.shape().end()));
  if (d.nbytes()) {
    cudaStream_t s = gc::current_stream();
    void* dst = out.mutable_data();
    py::gil_scoped_release nogil;
    gc::check(cudaMemcpyAsync(dst, d.data(), d.nbytes(), cudaMemcpyDeviceToHost, s),
              "cudaMemcpyAsync (device to host)");
    gc::check(cudaStreamSynchronize(s), "cudaStreamSynchronize");
  }
  return out;
}

}  // namespace

GRADCORE_BINDINGS(device_array) {
  py::class_<DeviceArray>(m, "DeviceArray", py::dynamic_attr(),
                          "C-contiguous device memory with a shape and a dtype: the storage "
                          "of a Tensor on a CUDA device.")
      .def_static("from_numpy", &from_numpy, py::arg("array"), py::arg("device") = 0,
                  py::arg("non_blocking") = false,
                  "Copy a numpy array to `device`: waits for the copy, unless `non_blocking` "
                  "and the array is pinned host memory (the array is then held until the copy "
                  "is done).")
      .def_static(
          "empty",
          [](py::object shape, py::object dtype, int device) {
            gc::bindings::DeviceGuard guard(device);
            return DeviceArray(shape_arg(shape), dtype_of(py::dtype::from_args(dtype)));
          },
          py::arg("shape"), py::arg("dtype") = "float32", py::arg("device") = 0)
      .def_static(
          "zeros",
          [](py::object shape, py::object dtype, int device) {
            gc::bindings::DeviceGuard guard(device);
            DeviceArray d(shape_arg(shape), dtype_of(py::dtype::from_args(dtype)));
            gc::check(cudaMemsetAsync(d.data(), 0, d.nbytes(), gc::current_stream()),
                      "cudaMemsetAsync");
            return d;
          },
          py::arg("shape"), py::arg("dtype") = "float32", py::arg("device") = 0)
      .def("numpy", &to_numpy, "Copy to a new numpy array (waits for the copy).")
      .def(
          "copy",
          [](const DeviceArray& a) {
            gc::bindings::DeviceGuard guard(a.device());
            DeviceArray d(a.shape(), a.dtype());
            gc::check(cudaMemcpyAsync(d.data(), a.data(), a.nbytes(), cudaMemcpyDeviceToDevice,
                                      gc::current_stream()),
                      "cudaMemcpyAsync (device to device)");
            return d;
          },
          "A new DeviceArray with the same contents.")
      .def(
          "reshape",
          [](py::object self, py::args shape) {
            py::object arg = shape.size() == 1 ? py::object(shape[0]) : py::object(shape);
            py::object view = py::cast(self.cast<const DeviceArray&>().reshaped(shape_arg(arg)));
            // numpy's `base`: the array that owns the memory (gradcore.versions follows it)
            py::object base = self.attr("base");
            view.attr("_base") = base.is_none() ? self : base;
            return view;
          },
          "The same storage with another shape of the same size (a view; one -1 inferred).")
      .def_property_readonly("base",
                             [](py::object self) {
                               return py::hasattr(self, "_base") ? self.attr("_base")
                                                                 : py::object(py::none());
                             })
      .def_property_readonly("shape",
                             [](const DeviceArray& a) {
                               py::tuple t(a.shape().size());
                               for (size_t i = 0; i < a.shape().size(); ++i) t[i] = a.shape()[i];
                               return t;
                             })
      .def_property_readonly("dtype", [](const DeviceArray& a) { return numpy_dtype(a.dtype()); })
      .def_property_readonly("ndim", [](const DeviceArray& a) { return a.shape().size(); })
      .def_property_readonly("size", &DeviceArray::size)
      .def_property_readonly("nbytes", &DeviceArray::nbytes)
      .def_property_readonly("device", &DeviceArray::device)
      .def_property_readonly(
          "data_ptr", [](const DeviceArray& a) { return reinterpret_cast<uintptr_t>(a.data()); })
      .def("__len__",
           [](const DeviceArray& a) {
             if (a.shape().empty()) throw py::type_error("len() of a 0-d DeviceArray");
             return a.shape()[0];
           })
      .def("__repr__", [](const DeviceArray& a) {
        return "DeviceArray(shape=" + a.shape_str() + ", dtype=" + gc::dtype_name(a.dtype()) +
               ", device=cuda:" + std::to_string(a.device()) + ")";
      });
}
