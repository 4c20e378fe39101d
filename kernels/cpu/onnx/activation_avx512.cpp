// GELU (activation.h) in AVX-512, 16 floats a step, with vector_math_avx512.h's erf.
// GCC 12's AVX-512 headers start some intrinsics from _mm512_undefined_ps(), which
// -Wuninitialized reports once inlined (GCC bug 105593): silenced here.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "cpu/onnx/activation.h"
#include "cpu/onnx/vector_math_avx512.h"

namespace microsr::onnx_fast::avx512 {

void gelu_block(float* c, int64_t ldc, int64_t rows, int64_t cols) {
  const __m512 inv_sqrt2 = _mm512_set1_ps(0.70710678f), half = _mm512_set1_ps(0.5f), one = _mm512_set1_ps(1.0f);
  for (int64_t i = 0; i < rows; ++i) {
    float* row = c + i * ldc;
    for (int64_t j = 0; j < cols; j += 16) {
      const __mmask16 m =
          cols - j >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << (cols - j)) - 1u);
      const __m512 x = _mm512_maskz_loadu_ps(m, row + j);
      const __m512 e = erf16(_mm512_mul_ps(x, inv_sqrt2));
      _mm512_mask_storeu_ps(row + j, m, _mm512_mul_ps(_mm512_mul_ps(x, _mm512_add_ps(one, e)), half));
    }
  }
}

}  // namespace microsr::onnx_fast::avx512
