// Self-registering binding files: each csrc/bindings/bind_*.cpp defines
//
//   GRADCORE_BINDINGS(conv) { m.def("conv2d_forward", ...); }
//
// and module.cpp runs every registered function when gradcore._C is imported, so adding
// an op never edits a shared list.
#pragma once
#include <pybind11/pybind11.h>

namespace gradcore::bindings {

using BindFn = void (*)(pybind11::module_&);

struct Registrar {
  Registrar(const char* name, BindFn fn);
};

void bind_all(pybind11::module_& m);

}  // namespace gradcore::bindings

#define GRADCORE_BINDINGS(NAME)                                                                  \
  static void gradcore_bind_##NAME(pybind11::module_& m);                                        \
  static ::gradcore::bindings::Registrar gradcore_registrar_##NAME(#NAME, gradcore_bind_##NAME); \
  static void gradcore_bind_##NAME(pybind11::module_& m)
