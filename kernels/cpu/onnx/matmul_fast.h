// The fast path of the ONNX runtime's matrix products (MatMul, Gemm without transposes), tested
// against the reference loops of kernels/cpu/ref/onnx_matmul_ref.cpp.
#pragma once
#include <cstdint>

namespace microsr::onnx_fast {

// c [m][n] = a [m][k] · b [k][n], row-major, dense; c is overwritten. Blocks of 4 rows × 16 columns
// accumulate in AVX2 registers over the whole k (FMA); the ragged edges use scalar loops.
// OpenMP over row blocks when the product is large enough.
void matmul_f32(float* c, const float* a, const float* b, int64_t m, int64_t n, int64_t k);

// The same with plain loops: the oracle of the tests.
void matmul_f32_ref(float* c, const float* a, const float* b, int64_t m, int64_t n, int64_t k);

}  // namespace microsr::onnx_fast
