// Python's access to the per-thread grad and anomaly modes (bindings/grad_mode.h), in the
// CPython API (METH_O / METH_NOARGS: a few tens of ns a call; backward switches grad mode
// twice): gradcore.autograd's no_grad, enable_grad, set_grad_enabled, is_grad_enabled,
// detect_anomaly, ... call these.
#include "bindings/grad_mode.h"
#include "bindings/registry.h"

namespace gradcore::bindings::grad_mode_functions {
namespace {

// Set this thread's mode `flag` to the truth of `mode`; returns the previous mode.
PyObject* set_mode(bool& flag, PyObject* mode) {
  int m = PyObject_IsTrue(mode);
  if (m < 0) return nullptr;
  bool prev = flag;
  flag = m != 0;
  return PyBool_FromLong(prev);
}

PyObject* set_grad_mode(PyObject*, PyObject* mode) {
  return set_mode(tls_grad_enabled, mode);
}
PyObject* set_anomaly_mode(PyObject*, PyObject* mode) {
  return set_mode(tls_anomaly, mode);
}
PyObject* grad_mode(PyObject*, PyObject*) {
  return PyBool_FromLong(tls_grad_enabled);
}
PyObject* anomaly_mode(PyObject*, PyObject*) {
  return PyBool_FromLong(tls_anomaly);
}

PyMethodDef kModeMethods[] = {
    {"set_grad_mode", set_grad_mode, METH_O,
     "set_grad_mode(mode) -> previous: set the calling thread's grad mode."},
    {"grad_mode", grad_mode, METH_NOARGS, "Whether ops record a graph in the calling thread."},
    {"set_anomaly_mode", set_anomaly_mode, METH_O,
     "set_anomaly_mode(mode) -> previous: set the calling thread's anomaly mode."},
    {"anomaly_mode", anomaly_mode, METH_NOARGS,
     "Whether anomaly detection is on in the calling thread."},
    {nullptr, nullptr, 0, nullptr}};

}  // namespace
}  // namespace gradcore::bindings::grad_mode_functions

GRADCORE_BINDINGS(grad_mode) {
  if (PyModule_AddFunctions(m.ptr(), gradcore::bindings::grad_mode_functions::kModeMethods) < 0)
    throw pybind11::error_already_set();
}
