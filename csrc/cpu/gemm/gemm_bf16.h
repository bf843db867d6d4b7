// bfloat16 GEMM with float32 accumulation: the products of mixed precision (gradcore.amp).
//
// C (M x N, float32) = A (M x K) @ op(B), or C += that with `accumulate`; A and B bfloat16 bit
// patterns (uint16, row-major, leading dimensions lda / ldb), op(B) = B (K x N) or, with trans_b,
// B^T for B (N x K). Where the CPU has AVX512_BF16 and the avx512 path is selected, vdpbf16ps
// multiplies pairs of bfloat16 along K into float32 accumulators (gemm_bf16_avx512bf16.cpp;
// it treats denormal inputs as zero, as the instruction does); elsewhere the operands are
// widened to float32 and the float GEMM runs (a product of two bfloat16 values is exact in
// float32, so only the order of the float32 additions differs between the two).
// Results do not depend on the thread count.
#pragma once
#include <cstdint>

namespace gradcore {

void gemm_bf16(bool trans_b, int64_t M, int64_t N, int64_t K, const uint16_t* A, int64_t lda,
               const uint16_t* B, int64_t ldb, float* C, int64_t ldc, bool accumulate = false);

// Which route gemm_bf16 takes here: "avx512_bf16" or "float32".
const char* gemm_bf16_route();
// True where gemm_bf16 multiplies with vdpbf16ps (route "avx512_bf16").
bool gemm_bf16_native();

namespace avx512bf16 {
// B micro-panel: columns [j0, j0 + nc) (nc <= 32) of op(B) for all K, as pairs along K:
// out[p * 64 + h * 32 + c * 2 + t] = op(B)[2p + t][j0 + 16h + c], zero past K or nc.
// out holds ((K + 1) / 2) * 64 values.
void pack_b_panel(bool trans_b, const uint16_t* B, int64_t ldb, int64_t K, int64_t j0, int64_t nc,
                  uint16_t* out);
// C[i0..i1) x [j0, j0 + nc) = A[i0..i1) x K @ the packed panel (or += with accumulate).
void panel_rows(const uint16_t* A, int64_t lda, int64_t K, int64_t i0, int64_t i1,
                const uint16_t* panel, int64_t nc, float* C, int64_t ldc, bool accumulate);
}  // namespace avx512bf16

}  // namespace gradcore
