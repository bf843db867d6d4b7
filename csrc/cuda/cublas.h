// cuBLAS, loaded at run time (dlopen) so that building gradcore._C_cuda needs no cuBLAS
// headers or libraries: the machines' CUDA toolkit has only nvcc and cudart, and users get
// cuBLAS from the `nvidia-cublas` wheel (extra gradcore[cuda]). The few entry points gradcore
// uses are declared here with cuBLAS's documented C signatures (cublas_api.h, v2 API).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <string>

namespace gradcore::cuda {

// Load libcublas from `path` (a file, or "" for the loader's search path) once; later calls
// return at once. Throws CudaError naming every place tried when it cannot be loaded.
void load_cublas(const std::string& path);
bool cublas_loaded();
std::string cublas_path();

// Row-major C[M x N] = alpha * op(A) @ op(B) + beta * C on the current stream, float32 with
// float32 accumulation (CUBLAS_DEFAULT_MATH: no TF32, so results match the CPU to ~1e-6).
// lda/ldb/ldc are row-major leading dimensions. `batch` > 1: strided-batched, A/B/C advanced
// by stride_a/stride_b/stride_c elements per product (stride 0 reuses one operand).
// `name` (a string literal) names the call in the profiler, with 2*M*N*K*batch FLOPs.
void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
           int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc,
           int64_t batch = 1, int64_t stride_a = 0, int64_t stride_b = 0, int64_t stride_c = 0,
           const char* name = "gemm");

// The 16-bit input types of gemm_ex: cudaDataType_t values of library_types.h
// (CUDA_R_16F = 2, CUDA_R_16BF = 14).
enum class LowpType : int { kFloat16 = 2, kBFloat16 = 14 };

// Row-major C[M x N] (float32) = alpha * op(A) @ op(B) + beta * C on the current stream
// through cublasGemmEx: A and B are float16 or bfloat16 storage (a_type, b_type), products on
// tensor cores with float32 accumulation (CUBLAS_COMPUTE_32F = 68, CUBLAS_GEMM_DEFAULT = -1;
// C is CUDA_R_32F = 0). lda/ldb/ldc are row-major leading dimensions, as for sgemm.
void gemm_ex(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
             const void* A, LowpType a_type, int64_t lda, const void* B, LowpType b_type,
             int64_t ldb, float beta, float* C, int64_t ldc);

}  // namespace gradcore::cuda
