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

}  // namespace microsr::kernels
