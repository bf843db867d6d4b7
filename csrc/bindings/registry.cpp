// The registry of GRADCORE_BINDINGS functions (registry.h), shared by gradcore._C and
// gradcore._C_cuda: each module's binding files register themselves, module.cpp binds them.
#include "bindings/registry.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

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
