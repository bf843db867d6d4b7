// gradcore._C_cuda: the CUDA kernels, device runtime and DeviceArray. Imported lazily by
// gradcore.cuda, never by `import gradcore`.
#include "bindings/registry.h"
#include "cuda/runtime.h"

PYBIND11_MODULE(_C_cuda, m) {
  m.doc() = "gradcore CUDA kernels (the CPU names of gradcore._C on DeviceArray storage)";
  pybind11::register_exception<gradcore::cuda::CudaError>(m, "CudaError", PyExc_RuntimeError);
  gradcore::bindings::bind_all(m);
}
