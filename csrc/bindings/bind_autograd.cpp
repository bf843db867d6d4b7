// The hot path of Function.apply (python/gradcore/autograd.py) in C: apply1, apply2, apply3.
//
// An op with one, two, or three Tensor arguments (plus constants, for apply3) calls these
// instead of the general Python path. They do what the general path does when nothing needs
// it: replace the Tensors by their arrays, record a node (the ctx) linked to the parents
// that require grad when grad mode is on, else call the op's `forward_no_grad` (or `forward`
// on a ctx that needs no gradient), and wrap the output array in a new Tensor. Everything
// else goes back to Python, to `_apply_any(cls, args)`: a profiler session (its spans), a
// Tensor subclass that overrides Tensor's attributes (nn.Parameter does not), a non-Tensor
// argument, a Tensor among apply3's constants; `_check_same_device` runs when two storages
// differ in type, and `_output` wraps anything but a plain ndarray output and runs the
// anomaly check. So the Python code stays the
// definition, and this file only skips its interpreter overhead (~0.2 us of a tiny op's
// ~0.5 us); tests/test_autograd_apply.py checks the two paths give the same Tensors and graph.
//
// Grad mode and anomaly mode are C++ thread-locals (bindings/grad_mode.h), read here
// directly. Python state read per call: gradcore.profiler's `_active` and
// gradcore.versions' COUNTERS / EPOCH (module objects the Python code updates). Tensor and
// Function are __slots__ classes; their slots are read and written at the byte offsets of
// their member descriptors, found once by `apply_configure` (called by
// autograd.register_tensor_type).
#include "bindings/grad_mode.h"
#include "bindings/registry.h"
#include "bindings/slots.h"

namespace gradcore::bindings::autograd_apply {
namespace {

struct State {
  bool ready = false;
  PyTypeObject* tensor = nullptr;     // gradcore.Tensor (outputs are exactly this type)
  PyTypeObject* function = nullptr;   // gradcore.autograd.Function
  PyTypeObject* ndarray = nullptr;    // numpy.ndarray
  PyObject* profiler_dict = nullptr;  // gradcore.profiler.__dict__
  PyObject* counters = nullptr;       // versions.COUNTERS (a dict; empty: nothing written)
  PyObject* epoch = nullptr;          // versions.EPOCH ([tick])
  PyObject* general = nullptr;        // autograd._apply_any(cls, args)
  PyObject* output = nullptr;         // autograd._output(cls, ctx, out, record)
  PyObject* check_device = nullptr;   // autograd._check_same_device(cls, args)
  // slots: Tensor._data, requires_grad, grad, grad_fn; Function.next_functions, ...
  Py_ssize_t t_data = 0, t_requires_grad = 0, t_grad = 0, t_grad_fn = 0;
  Py_ssize_t f_next = 0, f_needs = 0, f_g = 0, f_retained = 0;
  // interned names
  PyObject *s_forward = nullptr, *s_forward_no_grad = nullptr, *s_active = nullptr,
           *s_saved_epoch = nullptr;
  // needs_input_grad tuples: (True,), (True, True), (True, False), (False, True); nograd[n]:
  // (False,) * n
  PyObject *needs_a = nullptr, *needs_ab = nullptr, *needs_a_ = nullptr, *needs__b = nullptr;
  PyObject* nograd[8] = {};
  // "_data", "requires_grad", "grad", "grad_fn"; Tensor subclasses that keep them (see
  // is_plain_tensor) with the version tag each had when checked
  PyObject* tensor_slot_names[4] = {};
  static constexpr int kMaxSubclasses = 8;
  struct Subclass {
    PyTypeObject* type;
    unsigned int tag;
  } subclasses[kMaxSubclasses] = {};
  int n_subclasses = 0;
};

State g;

// `_profiler._active is not None`.
bool profiling() {
  PyObject* active = PyDict_GetItemWithError(g.profiler_dict, g.s_active);
  if (active == nullptr) PyErr_Clear();  // counts as profiling: the Python path reports it
  return active != Py_None;
}

// Truth of a Tensor's requires_grad slot (-1: error or unset).
int requires_grad(PyObject* t) {
  PyObject* v = get_slot(t, g.t_requires_grad);
  if (v == Py_True) return 1;
  if (v == Py_False) return 0;
  if (v == nullptr) {
    PyErr_Format(PyExc_AttributeError, "'%.100s' object has no attribute 'requires_grad'",
                 Py_TYPE(t)->tp_name);
    return -1;
  }
  return PyObject_IsTrue(v);
}

// fn(cls, (args[0], ..., args[n-1])): the Python helpers below take an op's arguments as
// a tuple.
PyObject* call_with_tuple(PyObject* fn, PyObject* cls, PyObject* const* args, Py_ssize_t n) {
  PyObject* tuple = PyTuple_New(n);
  if (tuple == nullptr) return nullptr;
  for (Py_ssize_t i = 0; i < n; ++i) {
    Py_INCREF(args[i]);
    PyTuple_SET_ITEM(tuple, i, args[i]);
  }
  PyObject* out = PyObject_CallFunctionObjArgs(fn, cls, tuple, nullptr);
  Py_DECREF(tuple);
  return out;
}

// The general Python path: _apply_any(cls, (args...)).
PyObject* general(PyObject* cls, PyObject* const* args, Py_ssize_t n) {
  return call_with_tuple(g.general, cls, args, n);
}

// _check_same_device(cls, (ts...)), run when the Tensors' storages differ in type: false
// (the exception set) when they live on different devices.
bool same_device(PyObject* cls, PyObject* const* ts, Py_ssize_t n) {
  PyObject* ok = call_with_tuple(g.check_device, cls, ts, n);
  Py_XDECREF(ok);
  return ok != nullptr;
}

// A Function node of class cls, before forward: object.__new__(cls).
PyObject* new_node(PyObject* cls) {
  PyTypeObject* type = reinterpret_cast<PyTypeObject*>(cls);
  return type->tp_alloc(type, 0);
}

// The parent a node links for Tensor t: its grad_fn, or t itself for a leaf.
PyObject* parent_of(PyObject* t) {
  PyObject* fn = get_slot(t, g.t_grad_fn);
  return fn == nullptr || fn == Py_None ? t : fn;
}

// cls.<name>, as PyObject_GetAttr(cls, name) gives it for forward / forward_no_grad (no
// metaclass attribute has these names): the class's own cached lookup, then the attribute's
// __get__ (a staticmethod's function).
PyObject* class_attr(PyObject* cls, PyObject* name) {
  PyObject* attr = _PyType_Lookup(reinterpret_cast<PyTypeObject*>(cls), name);  // borrowed
  if (attr == nullptr) return PyObject_GetAttr(cls, name);  // raises the AttributeError
  descrgetfunc get = Py_TYPE(attr)->tp_descr_get;
  if (get != nullptr) return get(attr, nullptr, cls);
  Py_INCREF(attr);
  return attr;
}

// cls.<name>(args...) (forward or forward_no_grad looked up on the class); steals nothing.
PyObject* call_static(PyObject* fn, PyObject* const* args, Py_ssize_t n) {
  return PyObject_Vectorcall(fn, args, static_cast<size_t>(n), nullptr);
}

// Note the write clock on a recorded node (autograd: `if _counters: ctx._saved_epoch = ...`).
int stamp_epoch(PyObject* ctx) {
  if (PyDict_GET_SIZE(g.counters) == 0) return 0;
  return PyObject_SetAttr(ctx, g.s_saved_epoch, PyList_GET_ITEM(g.epoch, 0));
}

// The op's output Tensor for forward's result `out` (a new reference, stolen); `ctx` (or
// nullptr) is stolen too and becomes the grad_fn when `record`.
PyObject* finish(PyObject* cls, PyObject* ctx, PyObject* out, bool record) {
  if (Py_TYPE(out) != g.ndarray || tls_anomaly) {
    PyObject* res = PyObject_CallFunctionObjArgs(g.output, cls, ctx ? ctx : Py_None, out,
                                                 record ? Py_True : Py_False, nullptr);
    Py_XDECREF(ctx);
    Py_DECREF(out);
    return res;
  }
  PyObject* t = g.tensor->tp_alloc(g.tensor, 0);
  if (t == nullptr) {
    Py_XDECREF(ctx);
    Py_DECREF(out);
    return nullptr;
  }
  init_slot_steal(t, g.t_data, out);
  init_slot(t, g.t_requires_grad, record ? Py_True : Py_False);
  init_slot(t, g.t_grad, Py_None);
  init_slot(t, g.t_grad_fn, record ? ctx : Py_None);
  Py_XDECREF(ctx);
  return t;
}

// The unrecorded output of cls on arrays `raw`: forward_no_grad(*raw) where the op has one,
// else forward on a ctx whose needs_input_grad is all False.
PyObject* unrecorded(PyObject* cls, PyObject** raw, Py_ssize_t n) {
  PyObject* fn = class_attr(cls, g.s_forward_no_grad);
  if (fn == nullptr) return nullptr;
  PyObject* ctx = nullptr;
  PyObject* out;
  if (fn != Py_None) {
    out = call_static(fn, raw + 1, n);
    Py_DECREF(fn);
  } else {
    Py_DECREF(fn);
    fn = class_attr(cls, g.s_forward);
    if (fn == nullptr) return nullptr;
    ctx = new_node(cls);
    if (ctx == nullptr) {
      Py_DECREF(fn);
      return nullptr;
    }
    PyObject* needs = n < 8 ? g.nograd[n] : nullptr;
    if (needs == nullptr) {
      needs = PyTuple_New(n);
      for (Py_ssize_t i = 0; needs && i < n; ++i) {
        Py_INCREF(Py_False);
        PyTuple_SET_ITEM(needs, i, Py_False);
      }
    } else {
      Py_INCREF(needs);
    }
    if (needs == nullptr) {
      Py_DECREF(fn);
      Py_DECREF(ctx);
      return nullptr;
    }
    init_slot_steal(ctx, g.f_needs, needs);
    raw[0] = ctx;
    out = call_static(fn, raw, n + 1);
    Py_DECREF(fn);
  }
  if (out == nullptr) {
    Py_XDECREF(ctx);
    return nullptr;
  }
  return finish(cls, ctx, out, false);
}

// A recorded call of cls on Tensors `ts` (all Tensors, at least one requiring grad): a node
// linked to the parents that require grad, forward(ctx, *arrays), the output Tensor.
PyObject* recorded(PyObject* cls, PyObject* const* ts, PyObject** raw, Py_ssize_t n, const int* req,
                   PyObject* needs) {
  PyObject* fn = class_attr(cls, g.s_forward);
  if (fn == nullptr) return nullptr;
  PyObject* ctx = new_node(cls);
  PyObject* next = ctx ? PyTuple_New(n) : nullptr;
  if (next == nullptr) {
    Py_DECREF(fn);
    Py_XDECREF(ctx);
    return nullptr;
  }
  for (Py_ssize_t i = 0; i < n; ++i) {
    PyObject* p = req[i] ? parent_of(ts[i]) : Py_None;
    Py_INCREF(p);
    PyTuple_SET_ITEM(next, i, p);
  }
  init_slot_steal(ctx, g.f_next, next);
  init_slot(ctx, g.f_needs, needs);
  init_slot(ctx, g.f_g, Py_None);
  init_slot(ctx, g.f_retained, Py_None);
  raw[0] = ctx;
  PyObject* out = call_static(fn, raw, n + 1);
  Py_DECREF(fn);
  if (out == nullptr || stamp_epoch(ctx) < 0) {
    Py_XDECREF(out);
    Py_DECREF(ctx);
    return nullptr;
  }
  return finish(cls, ctx, out, true);
}

// Strong references to the arrays of one call, held until it returns (forward may rebind a
// Tensor's _data, e.g. an in-place op on its input).
struct HeldArrays {
  PyObject** arrays;
  Py_ssize_t n = 0;
  void hold(Py_ssize_t i, PyObject* a) {
    Py_INCREF(a);
    arrays[i] = a;
    n = i + 1;
  }
  ~HeldArrays() {
    for (Py_ssize_t i = 1; i < n; ++i) Py_XDECREF(arrays[i]);
  }
};

// Whether `type` reads and writes Tensor's attributes as Tensor does: Tensor itself, or a
// subclass (nn.Parameter) that overrides none of _data, requires_grad, grad, grad_fn and no
// attribute access hook. Others take the general path, which honours their overrides.
bool keeps_tensor_slots(PyTypeObject* type) {
  if (!PyType_IsSubtype(type, g.tensor) || type->tp_getattro != g.tensor->tp_getattro ||
      type->tp_setattro != g.tensor->tp_setattro)
    return false;
  for (PyObject* name : g.tensor_slot_names)
    if (_PyType_Lookup(type, name) != _PyType_Lookup(g.tensor, name)) return false;
  return true;
}

// Tensor or a subclass that keeps its slots (above). Subclasses seen are remembered with the
// version tag CPython gives a class until its attributes change: a class changed since is
// checked again. They are kept alive (a freed class's address could be reused).
bool is_plain_tensor(PyObject* t) {
  PyTypeObject* type = Py_TYPE(t);
  if (type == g.tensor) return true;
  for (int i = 0; i < g.n_subclasses; ++i) {
    if (g.subclasses[i].type != type) continue;
    if (type->tp_version_tag != 0 && type->tp_version_tag == g.subclasses[i].tag) return true;
    const bool keeps = keeps_tensor_slots(type);
    g.subclasses[i].tag = keeps ? type->tp_version_tag : 0;
    return keeps;
  }
  if (!keeps_tensor_slots(type)) return false;
  if (g.n_subclasses < State::kMaxSubclasses && type->tp_version_tag != 0) {
    Py_INCREF(type);
    g.subclasses[g.n_subclasses++] = {type, type->tp_version_tag};
  }
  return true;
}

bool is_op_class(PyObject* cls) {
  return PyType_Check(cls) &&
         PyType_IsSubtype(reinterpret_cast<PyTypeObject*>(cls), g.function) != 0;
}

bool check_ready() {
  if (g.ready) return true;
  PyErr_SetString(PyExc_RuntimeError,
                  "gradcore._C.apply*: call apply_configure first (gradcore.autograd does)");
  return false;
}

// Shared by apply1 and apply2: n (1 or 2) Tensors ts of op cls.
PyObject* apply_tensors(PyObject* cls, PyObject* const* ts, Py_ssize_t n) {
  if (profiling() || !is_op_class(cls)) return general(cls, ts, n);
  for (Py_ssize_t i = 0; i < n; ++i)
    if (!is_plain_tensor(ts[i]) || get_slot(ts[i], g.t_data) == nullptr)
      return general(cls, ts, n);  // (an unset _data: Python raises its AttributeError)
  PyObject* raw[3] = {nullptr, nullptr, nullptr};  // raw[0]: the ctx slot of forward's args
  HeldArrays held{raw};
  for (Py_ssize_t i = 0; i < n; ++i) held.hold(i + 1, get_slot(ts[i], g.t_data));
  int req[2] = {0, 0};
  if (n == 2 && Py_TYPE(raw[1]) != Py_TYPE(raw[2]) && !same_device(cls, ts, 2)) return nullptr;
  bool any = false;
  for (Py_ssize_t i = 0; i < n; ++i) {
    req[i] = requires_grad(ts[i]);
    if (req[i] < 0) return nullptr;
    any = any || req[i];
  }
  if (any && tls_grad_enabled) {
    PyObject* needs = n == 1 ? g.needs_a : req[0] ? (req[1] ? g.needs_ab : g.needs_a_) : g.needs__b;
    return recorded(cls, ts, raw, n, req, needs);
  }
  return unrecorded(cls, raw, n);
}

// apply1(cls, a) and apply2(cls, a, b): cls.apply(...) for N Tensor arguments.
template <Py_ssize_t N>
PyObject* apply_n(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs != N + 1) {
    PyErr_Format(PyExc_TypeError, "%s takes %zd arguments (%zd given)",
                 N == 1 ? "apply1(cls, a)" : "apply2(cls, a, b)", N + 1, nargs);
    return nullptr;
  }
  if (!check_ready()) return nullptr;
  return apply_tensors(args[0], args + 1, N);
}

// Arguments apply3 takes in C (ctx slot + a, b, c + constants); more go the general path.
constexpr Py_ssize_t kMaxApply3Args = 16;

// apply3(cls, a, b, c, *constants): two Tensors, a third Tensor or None (a bias), and
// constants (conv2d, linear). Constants are passed to forward as they are; a Tensor among
// them sends the call to the general path (which would make it a parent).
PyObject* apply3(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs < 4) {
    PyErr_Format(PyExc_TypeError,
                 "apply3(cls, a, b, c, *constants) takes at least 4 arguments (%zd given)", nargs);
    return nullptr;
  }
  if (!check_ready()) return nullptr;
  PyObject* cls = args[0];
  PyObject* const* ops = args + 1;  // a, b, c, constants...
  const Py_ssize_t n = nargs - 1;
  PyObject* c = ops[2];
  const bool has_c = c != Py_None;
  const int tensors = has_c ? 3 : 2;
  if (profiling() || !is_op_class(cls) || n + 1 > kMaxApply3Args || !is_plain_tensor(ops[0]) ||
      !is_plain_tensor(ops[1]) || (has_c && !is_plain_tensor(c)))
    return general(cls, ops, n);
  for (int i = 0; i < tensors; ++i)
    if (get_slot(ops[i], g.t_data) == nullptr) return general(cls, ops, n);
  for (Py_ssize_t i = 3; i < n; ++i)
    if (PyObject_TypeCheck(ops[i], g.tensor)) return general(cls, ops, n);
  int req[kMaxApply3Args] = {};  // requires_grad of each argument (0 for None, constants)
  bool any = false;
  for (int i = 0; i < tensors; ++i) {
    req[i] = requires_grad(ops[i]);
    if (req[i] < 0) return nullptr;
    any = any || req[i];
  }
  // raw: [ctx slot, da, db, dc or None, constants...]; the arrays held, the rest borrowed
  PyObject* raw[kMaxApply3Args];
  raw[0] = nullptr;
  for (Py_ssize_t i = 0; i < n; ++i) raw[i + 1] = ops[i];
  HeldArrays held{raw};
  for (int i = 0; i < tensors; ++i) held.hold(i + 1, get_slot(ops[i], g.t_data));
  const bool mixed =
      Py_TYPE(raw[1]) != Py_TYPE(raw[2]) || (has_c && Py_TYPE(raw[3]) != Py_TYPE(raw[1]));
  if (mixed && !same_device(cls, ops, 3)) return nullptr;
  if (!(any && tls_grad_enabled)) return unrecorded(cls, raw, n);
  PyObject* needs = PyTuple_New(n);
  if (needs == nullptr) return nullptr;
  for (Py_ssize_t i = 0; i < n; ++i) {
    PyObject* b = req[i] ? Py_True : Py_False;
    Py_INCREF(b);
    PyTuple_SET_ITEM(needs, i, b);
  }
  PyObject* res = recorded(cls, ops, raw, n, req, needs);
  Py_DECREF(needs);
  return res;
}

PyMethodDef kMethods[] = {
    {"apply1", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(apply_n<1>)),
     METH_FASTCALL,
     "apply1(cls, a): Function.apply for one Tensor argument (see gradcore.autograd)."},
    {"apply2", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(apply_n<2>)),
     METH_FASTCALL, "apply2(cls, a, b): Function.apply for two Tensor arguments."},
    {"apply3", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(apply3)), METH_FASTCALL,
     "apply3(cls, a, b, c, *constants): Function.apply for two Tensors, a Tensor or None, and "
     "constants."},
    {nullptr, nullptr, 0, nullptr}};

PyObject* intern(const char* s) {
  PyObject* o = PyUnicode_InternFromString(s);
  if (o == nullptr) throw pybind11::error_already_set();
  return o;
}

PyObject* keep(const pybind11::handle& h) {
  return h.inc_ref().ptr();
}

}  // namespace
}  // namespace gradcore::bindings::autograd_apply

GRADCORE_BINDINGS(autograd) {
  namespace py = pybind11;
  using namespace gradcore::bindings;
  using namespace gradcore::bindings::autograd_apply;
  if (PyModule_AddFunctions(m.ptr(), kMethods) < 0) throw py::error_already_set();
  m.def(
      "apply_configure",
      [](py::object tensor, py::object function, py::object ndarray, py::dict profiler_dict,
         py::dict counters, py::list epoch, py::object general_path, py::object output,
         py::object check_device) {
        for (const py::object* t : {&tensor, &function, &ndarray})
          if (!PyType_Check(t->ptr())) throw py::type_error("apply_configure: expected a class");
        if (epoch.size() != 1) throw py::value_error("apply_configure: epoch must be [tick]");
        State s;
        s.tensor = reinterpret_cast<PyTypeObject*>(keep(tensor));
        s.function = reinterpret_cast<PyTypeObject*>(keep(function));
        s.ndarray = reinterpret_cast<PyTypeObject*>(keep(ndarray));
        s.t_data = slot_offset(tensor.ptr(), "_data");
        s.t_requires_grad = slot_offset(tensor.ptr(), "requires_grad");
        s.t_grad = slot_offset(tensor.ptr(), "grad");
        s.t_grad_fn = slot_offset(tensor.ptr(), "grad_fn");
        s.f_next = slot_offset(function.ptr(), "next_functions");
        s.f_needs = slot_offset(function.ptr(), "needs_input_grad");
        s.f_g = slot_offset(function.ptr(), "_g");
        s.f_retained = slot_offset(function.ptr(), "_retained");
        s.profiler_dict = keep(profiler_dict);
        s.counters = keep(counters);
        s.epoch = keep(epoch);
        s.general = keep(general_path);
        s.output = keep(output);
        s.check_device = keep(check_device);
        s.s_forward = intern("forward");
        s.s_forward_no_grad = intern("forward_no_grad");
        s.s_active = intern("_active");
        const char* slot_names[4] = {"_data", "requires_grad", "grad", "grad_fn"};
        for (int i = 0; i < 4; ++i) s.tensor_slot_names[i] = intern(slot_names[i]);
        s.s_saved_epoch = intern("_saved_epoch");
        s.needs_a = keep(py::make_tuple(true));
        s.needs_ab = keep(py::make_tuple(true, true));
        s.needs_a_ = keep(py::make_tuple(true, false));
        s.needs__b = keep(py::make_tuple(false, true));
        for (int n = 0; n < 8; ++n) {
          py::tuple t(n);
          for (int i = 0; i < n; ++i) t[i] = py::bool_(false);
          s.nograd[n] = keep(t);
        }
        s.ready = true;
        g = s;  // the previous state's references are kept: configuring happens once
      },
      py::arg("tensor"), py::arg("function"), py::arg("ndarray"), py::arg("profiler_dict"),
      py::arg("counters"), py::arg("epoch"), py::arg("general"), py::arg("output"),
      py::arg("check_device"),
      "Set up apply1/apply2/apply3 (gradcore.autograd.register_tensor_type calls this).");
}
