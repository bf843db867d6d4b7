// The CPU test driver of the CUDA kernels: gradcore._C.cuda_host has a function per CUDA
// kernel, with _C's name and arguments, that runs the kernel's per-thread bodies
// (csrc/cuda/<stem>_threads.h) for every thread index of the kernel's index space, in order,
// on numpy arrays. Tests compare it with _C's CPU kernels, so the CUDA kernels' indexing is
// tested on machines without a GPU (and without nvcc: the bodies are plain C++ here).
// Files: bind_cuda_host_<stem>.cpp, one per CUDA stem.
#pragma once
#include <pybind11/pybind11.h>

namespace gradcore::bindings {

// gradcore._C.cuda_host, created by the first binding file that asks for it.
inline pybind11::module_ cuda_host_module(pybind11::module_& m) {
  if (pybind11::hasattr(m, "cuda_host")) return m.attr("cuda_host").cast<pybind11::module_>();
  return m.def_submodule("cuda_host",
                         "CPU test driver of the CUDA kernels: each function runs one CUDA "
                         "kernel's per-thread bodies over its whole index space");
}

// for t in [0, n): f(t), the host counterpart of cuda::for_each_index.
template <class F>
void for_each_index_host(int64_t n, F f) {
  for (int64_t t = 0; t < n; ++t) f(t);
}

}  // namespace gradcore::bindings
