// AVX2 bodies of the CPU backend's flat elementwise loops (cpu_kernels.h; kernels/cpu/elementwise.cpp
// splits them among threads and picks them by instruction set).
#include <immintrin.h>

#include "cpu/cpu_kernels.h"

namespace microsr::kernels {

// y = fma(a, s, b), 8 at a time: one rounding per element, as std::fma in scaled_add_ref (the same
// bits). y may alias a or b: each element is read before its one store.
void scaled_add_avx2(float* y, const float* a, float s, const float* b, int64_t n) {
  const __m256 scale = _mm256_set1_ps(s);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(_mm256_loadu_ps(a + i), scale, _mm256_loadu_ps(b + i)));
  if (i < n) scaled_add_ref(y + i, a + i, s, b + i, n - i);
}

// y = fp16(x), 8 at a time (vcvtps2ph, round to nearest even: float_to_half's bits).
void floats_to_fp16_avx2(uint16_t* y, const float* x, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
  if (i < n) floats_to_fp16_ref(y + i, x + i, n - i);
}

}  // namespace microsr::kernels
