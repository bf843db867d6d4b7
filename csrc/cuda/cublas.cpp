#include "cuda/cublas.h"

#include <dlfcn.h>

#include <climits>
#include <mutex>
#include <stdexcept>
#include <unordered_map>

#include "cuda/profiler.h"
#include "cuda/runtime.h"

namespace gradcore::cuda {
namespace {

// cuBLAS's C types, as cublas_api.h defines them.
using Handle = struct cublasContext*;
using Status = int;  // CUBLAS_STATUS_SUCCESS = 0
constexpr int kOpN = 0, kOpT = 1;
// cudaDataType_t (library_types.h): CUDA_R_32F = 0 (CUDA_R_16F = 2, CUDA_R_16BF = 14 are
// LowpType's values); cublasComputeType_t: CUBLAS_COMPUTE_32F = 68; cublasGemmAlgo_t:
// CUBLAS_GEMM_DEFAULT = -1.
constexpr int kR32F = 0, kCompute32F = 68, kGemmDefault = -1;

using CreateFn = Status (*)(Handle*);
using SetStreamFn = Status (*)(Handle, cudaStream_t);
using SgemmFn = Status (*)(Handle, int, int, int, int, int, const float*, const float*, int,
                           const float*, int, const float*, float*, int);
using SgemmBatchedFn = Status (*)(Handle, int, int, int, int, int, const float*, const float*, int,
                                  long long, const float*, int, long long, const float*, float*,
                                  int, long long, int);
// cublasGemmEx(handle, transa, transb, m, n, k, alpha, A, Atype, lda, B, Btype, ldb, beta, C,
// Ctype, ldc, computeType, algo); the enums are ints in the C ABI.
using GemmExFn = Status (*)(Handle, int, int, int, int, int, const void*, const void*, int, int,
                            const void*, int, int, const void*, void*, int, int, int, int);

struct Cublas {
  void* lib = nullptr;
  std::string path;
  CreateFn create = nullptr;
  SetStreamFn set_stream = nullptr;
  SgemmFn sgemm = nullptr;
  SgemmBatchedFn sgemm_batched = nullptr;
  GemmExFn gemm_ex = nullptr;
};

Cublas& api() {
  static Cublas c;
  return c;
}
std::mutex load_mu;

template <class F>
F symbol(void* lib, const char* name) {
  void* p = dlsym(lib, name);
  if (!p) throw CudaError(std::string("cuBLAS: symbol ") + name + " not found in the library");
  return reinterpret_cast<F>(p);
}

const char* status_name(Status s) {
  switch (s) {
    case 1:
      return "CUBLAS_STATUS_NOT_INITIALIZED";
    case 3:
      return "CUBLAS_STATUS_ALLOC_FAILED";
    case 7:
      return "CUBLAS_STATUS_INVALID_VALUE";
    case 8:
      return "CUBLAS_STATUS_ARCH_MISMATCH";
    case 11:
      return "CUBLAS_STATUS_MAPPING_ERROR";
    case 13:
      return "CUBLAS_STATUS_EXECUTION_FAILED";
    case 14:
      return "CUBLAS_STATUS_INTERNAL_ERROR";
    case 15:
      return "CUBLAS_STATUS_NOT_SUPPORTED";
    default:
      return "CUBLAS_STATUS_?";
  }
}

void check_status(Status s, const char* what) {
  if (s != 0)
    throw CudaError(std::string(what) + " failed: " + status_name(s) + " (" + std::to_string(s) +
                    ")");
}

// One handle per (thread, device), bound to the current stream at each call.
Handle handle_for_current() {
  thread_local std::unordered_map<int, Handle> handles;
  const int dev = current_device();
  auto it = handles.find(dev);
  if (it == handles.end()) {
    Handle h = nullptr;
    check_status(api().create(&h), "cublasCreate");
    it = handles.emplace(dev, h).first;
  }
  check_status(api().set_stream(it->second, current_stream()), "cublasSetStream");
  return it->second;
}

int as_int(int64_t v, const char* what) {
  if (v < 0 || v > INT_MAX)
    throw std::invalid_argument(std::string("gemm: ") + what + " out of cuBLAS's int range");
  return static_cast<int>(v);
}

}  // namespace

void load_cublas(const std::string& path) {
  std::lock_guard<std::mutex> lock(load_mu);
  Cublas& c = api();
  if (c.lib) return;
  const std::string name = path.empty() ? "libcublas.so.13" : path;
  void* lib = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib)
    throw CudaError("cuBLAS could not be loaded from '" + name + "': " + dlerror() +
                    ". Install it with: pip install 'gradcore[cuda]' (the nvidia-cublas wheel)");
  c.create = symbol<CreateFn>(lib, "cublasCreate_v2");
  c.set_stream = symbol<SetStreamFn>(lib, "cublasSetStream_v2");
  c.sgemm = symbol<SgemmFn>(lib, "cublasSgemm_v2");
  c.sgemm_batched = symbol<SgemmBatchedFn>(lib, "cublasSgemmStridedBatched");
  c.gemm_ex = symbol<GemmExFn>(lib, "cublasGemmEx");
  c.path = name;
  c.lib = lib;
}

bool cublas_loaded() {
  return api().lib != nullptr;
}
std::string cublas_path() {
  return api().path;
}

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
           int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc,
           int64_t batch, int64_t stride_a, int64_t stride_b, int64_t stride_c, const char* name) {
  if (!cublas_loaded()) load_cublas("");
  if (M == 0 || N == 0 || batch == 0) return;
  Handle h = handle_for_current();
  // A and B are read once per product unless shared (stride 0); C is written (and read when
  // beta != 0) once per product.
  const double nb = static_cast<double>(batch);
  profiler::KernelScope prof(name, 2.0 * M * N * K * nb,
                             4.0 * (M * K * (stride_a ? nb : 1.0) + K * N * (stride_b ? nb : 1.0) +
                                    M * N * nb * (beta != 0.f ? 2.0 : 1.0)));
  // Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: swap the operands.
  const int ta = trans_b ? kOpT : kOpN, tb = trans_a ? kOpT : kOpN;
  const int m = as_int(N, "N"), n = as_int(M, "M"), k = as_int(K, "K");
  if (batch == 1) {
    check_status(api().sgemm(h, ta, tb, m, n, k, &alpha, B, as_int(ldb, "ldb"), A,
                             as_int(lda, "lda"), &beta, C, as_int(ldc, "ldc")),
                 "cublasSgemm");
  } else {
    check_status(api().sgemm_batched(h, ta, tb, m, n, k, &alpha, B, as_int(ldb, "ldb"), stride_b, A,
                                     as_int(lda, "lda"), stride_a, &beta, C, as_int(ldc, "ldc"),
                                     stride_c, as_int(batch, "batch")),
                 "cublasSgemmStridedBatched");
  }
}

void gemm_ex(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
             const void* A, LowpType a_type, int64_t lda, const void* B, LowpType b_type,
             int64_t ldb, float beta, float* C, int64_t ldc) {
  if (!cublas_loaded()) load_cublas("");
  if (M == 0 || N == 0) return;
  Handle h = handle_for_current();
  // 2-byte A and B read once, float32 C written (and read when beta != 0) once.
  profiler::KernelScope prof("gemm_lowp", 2.0 * M * N * K,
                             2.0 * (M * K + K * N) + 4.0 * M * N * (beta != 0.f ? 2.0 : 1.0));
  // Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: swap the operands.
  const int ta = trans_b ? kOpT : kOpN, tb = trans_a ? kOpT : kOpN;
  const int m = as_int(N, "N"), n = as_int(M, "M"), k = as_int(K, "K");
  check_status(api().gemm_ex(h, ta, tb, m, n, k, &alpha, B, static_cast<int>(b_type),
                             as_int(ldb, "ldb"), A, static_cast<int>(a_type), as_int(lda, "lda"),
                             &beta, C, kR32F, as_int(ldc, "ldc"), kCompute32F, kGemmDefault),
               "cublasGemmEx");
}

}  // namespace gradcore::cuda
