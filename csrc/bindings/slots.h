// The attributes a Python class declares in __slots__, read and written from C at their
// byte offsets in the instance, as CPython's member descriptors do (no attribute lookup):
// what Function.apply's C path (bind_autograd.cpp) uses for Tensor and Function objects.
#pragma once
#include <pybind11/pybind11.h>
#include <structmember.h>

#include <string>

namespace gradcore::bindings {

// A __slots__ attribute of a class: its object pointer's byte offset inside the instance
// (raises TypeError naming `name` for anything else).
inline Py_ssize_t slot_offset(PyObject* type, const char* name) {
  PyObject* descr = PyObject_GetAttrString(type, name);
  if (descr == nullptr) throw pybind11::error_already_set();
  Py_ssize_t offset = -1;
  if (Py_TYPE(descr) == &PyMemberDescr_Type) {
    PyMemberDef* member = reinterpret_cast<PyMemberDescrObject*>(descr)->d_member;
    if (member->type == T_OBJECT_EX && !(member->flags & READONLY)) offset = member->offset;
  }
  Py_DECREF(descr);
  if (offset < 0)
    throw pybind11::type_error(std::string(name) + " must be a writable __slots__ attribute");
  return offset;
}

// An object's slot at `offset` (borrowed; nullptr when unset).
inline PyObject* get_slot(PyObject* obj, Py_ssize_t offset) {
  return *reinterpret_cast<PyObject**>(reinterpret_cast<char*>(obj) + offset);
}

// Set the slot at `offset` of an object just allocated (its slots are all null) to a new
// reference `value` (stolen).
inline void init_slot_steal(PyObject* obj, Py_ssize_t offset, PyObject* value) {
  *reinterpret_cast<PyObject**>(reinterpret_cast<char*>(obj) + offset) = value;
}

// The same for a borrowed `value`.
inline void init_slot(PyObject* obj, Py_ssize_t offset, PyObject* value) {
  Py_INCREF(value);
  init_slot_steal(obj, offset, value);
}

}  // namespace gradcore::bindings
