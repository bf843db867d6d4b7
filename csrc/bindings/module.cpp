#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "bindings/registry.h"
#include "core/malloc_tuning.h"

namespace gradcore::bindings {
namespace {
std::vector<std::pair<std::string, BindFn>>& registered() {
  static std::vector<std::pair<std::string, BindFn>> fns;
  return fns;
}
}  // namespace

Registrar::Registrar(const char* name, BindFn fn) {
  registered().emplace_back(name, fn);
}

void bind_all(pybind11::module_& m) {
  auto fns = registered();
  // Static initialisation order across files is unspecified: bind in name order.
  std::sort(fns.begin(), fns.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [name, fn] : fns) fn(m);
}

}  // namespace gradcore::bindings

PYBIND11_MODULE(_C, m) {
  m.doc() = "gradcore native kernels (C++17/OpenMP)";
  gradcore::tune_malloc();  // before any array of a training step is allocated
  gradcore::bindings::bind_all(m);
}
