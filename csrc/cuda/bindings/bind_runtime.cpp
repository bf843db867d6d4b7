// Devices, memory and streams of gradcore.cuda.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "bindings/registry.h"
#include "cuda/runtime.h"

namespace py = pybind11;
namespace gc = gradcore::cuda;

namespace {

// A CUDA stream (non-blocking with respect to the legacy default stream).
struct Stream {
  cudaStream_t s = nullptr;
  int device = 0;
  Stream() : device(gc::current_device()) {
    gc::check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreate");
  }
  ~Stream() {
    if (s) cudaStreamDestroy(s);
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
};

// A CUDA event with timing.
struct Event {
  cudaEvent_t e = nullptr;
  Event() { gc::check(cudaEventCreate(&e), "cudaEventCreate"); }
  ~Event() {
    if (e) cudaEventDestroy(e);
  }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
};

}  // namespace

GRADCORE_BINDINGS(runtime) {
  m.def("device_count", &gc::device_count, "GPUs the CUDA runtime sees (0 without a driver).");
  m.def("current_device", &gc::current_device);
  m.def("set_device", &gc::set_device, py::arg("device"));
  m.def("get_device_name", &gc::device_name, py::arg("device"));
  m.def("get_device_capability", &gc::capability, py::arg("device"));
  m.def("synchronize", [] { gc::synchronize(); }, py::call_guard<py::gil_scoped_release>());
  m.def("memory_allocated", &gc::memory_allocated, py::arg("device"));
  m.def("memory_reserved", &gc::memory_reserved, py::arg("device"));
  m.def("empty_cache", &gc::empty_cache);
  m.def("runtime_version", [] {
    int v = 0;
    gc::check(cudaRuntimeGetVersion(&v), "cudaRuntimeGetVersion");
    return v;
  });

  py::class_<Stream>(m, "Stream", "A CUDA stream on the current device.")
      .def(py::init<>())
      .def_readonly("device", &Stream::device)
      .def(
          "synchronize",
          [](Stream& s) { gc::check(cudaStreamSynchronize(s.s), "cudaStreamSynchronize"); },
          py::call_guard<py::gil_scoped_release>())
      .def("query", [](Stream& s) { return cudaStreamQuery(s.s) == cudaSuccess; })
      .def_property_readonly("handle", [](Stream& s) { return reinterpret_cast<uintptr_t>(s.s); });
  m.def(
      "set_current_stream", [](Stream* s) { gc::set_current_stream(s ? s->s : nullptr); },
      py::arg("stream"),
      "Issue gradcore's kernels on `stream` (None: the default stream) in this thread.");
  m.def("current_stream_handle", [] { return reinterpret_cast<uintptr_t>(gc::current_stream()); });

  py::class_<Event>(m, "Event", "A CUDA event (record on a stream, wait, time).")
      .def(py::init<>())
      .def(
          "record",
          [](Event& e, Stream* s) {
            gc::check(cudaEventRecord(e.e, s ? s->s : gc::current_stream()), "cudaEventRecord");
          },
          py::arg("stream") = nullptr)
      .def(
          "synchronize",
          [](Event& e) { gc::check(cudaEventSynchronize(e.e), "cudaEventSynchronize"); },
          py::call_guard<py::gil_scoped_release>())
      .def("query", [](Event& e) { return cudaEventQuery(e.e) == cudaSuccess; })
      .def(
          "elapsed_time",
          [](Event& start, Event& end) {
            float ms = 0.f;
            gc::check(cudaEventElapsedTime(&ms, start.e, end.e), "cudaEventElapsedTime");
            return ms;
          },
          py::arg("end"), "Milliseconds from this event to `end` (both recorded).");
}
