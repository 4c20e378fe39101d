// GELU (erf form) in place over a block of rows: the epilogue of a fused MatMul + bias + GELU
// (gemm.h's GemmArgs::epilogue, run on each finished tile while it is in cache) and the body of the
// fused GELU op (fast_fused.cpp).
//
//   c[i][j] = x · (1 + erf(x / √2)) · 0.5,  x = c[i][j],  i < rows (ldc apart), j < cols
#pragma once
#include <cstdint>

namespace microsr::onnx_fast {

// AVX-512 (activation_avx512.cpp) when the CPU has it, else vector_math.h's erf_array (AVX2 or
// baseline) in chunks.
void gelu_block(float* c, int64_t ldc, int64_t rows, int64_t cols);

namespace avx512 {
void gelu_block(float* c, int64_t ldc, int64_t rows, int64_t cols);
}

}  // namespace microsr::onnx_fast
