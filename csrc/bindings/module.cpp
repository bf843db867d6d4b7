#include "bindings/registry.h"
#include "core/malloc_tuning.h"

PYBIND11_MODULE(_C, m) {
  m.doc() = "gradcore native kernels (C++17/OpenMP)";
  gradcore::tune_malloc();  // before any array of a training step is allocated
  gradcore::bindings::bind_all(m);
}
