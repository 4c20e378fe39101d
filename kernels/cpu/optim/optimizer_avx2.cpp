// AVX2 versions of the optimizer's flat loops (see optimizer.h).
#include "cpu/optim/optimizer.h"

#include <immintrin.h>

#include "cpu/cpu_kernels.h"
#include "microsr/backend.h"

namespace microsr::kernels {

void adam_step_avx2(float* param, float* m, float* v, const float* grad, int64_t n, const AdamStep& step) {
  const AdamScalars s = adam_scalars(step);
  const __m256 decay = _mm256_set1_ps(s.decay), coupled_wd = _mm256_set1_ps(s.coupled_wd);
  const __m256 beta1 = _mm256_set1_ps(s.beta1), beta2 = _mm256_set1_ps(s.beta2);
  const __m256 one_minus_beta1 = _mm256_set1_ps(s.one_minus_beta1);
  const __m256 one_minus_beta2 = _mm256_set1_ps(s.one_minus_beta2);
  const __m256 correction2_sqrt = _mm256_set1_ps(s.correction2_sqrt), eps = _mm256_set1_ps(s.eps);
  const __m256 step_size = _mm256_set1_ps(s.step_size);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 p = _mm256_mul_ps(_mm256_loadu_ps(param + i), decay);
    const __m256 g = _mm256_add_ps(_mm256_loadu_ps(grad + i), _mm256_mul_ps(coupled_wd, p));
    const __m256 mi = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(m + i), beta1), _mm256_mul_ps(one_minus_beta1, g));
    const __m256 vi = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(v + i), beta2),
                                    _mm256_mul_ps(_mm256_mul_ps(one_minus_beta2, g), g));
    const __m256 denom = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(vi), correction2_sqrt), eps);
    _mm256_storeu_ps(m + i, mi);
    _mm256_storeu_ps(v + i, vi);
    _mm256_storeu_ps(param + i, _mm256_sub_ps(p, _mm256_mul_ps(step_size, _mm256_div_ps(mi, denom))));
  }
  if (i < n) adam_step_ref(param + i, m + i, v + i, grad + i, n - i, step);
}

double sum_squares_avx2(const float* x, int64_t n) {
  __m256d sum0 = _mm256_setzero_pd(), sum1 = _mm256_setzero_pd();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256d lo = _mm256_cvtps_pd(_mm_loadu_ps(x + i));
    const __m256d hi = _mm256_cvtps_pd(_mm_loadu_ps(x + i + 4));
    sum0 = _mm256_fmadd_pd(lo, lo, sum0);
    sum1 = _mm256_fmadd_pd(hi, hi, sum1);
  }
  alignas(32) double lanes[4];
  _mm256_store_pd(lanes, _mm256_add_pd(sum0, sum1));
  return (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]) + sum_squares_ref(x + i, n - i);
}

}  // namespace microsr::kernels
