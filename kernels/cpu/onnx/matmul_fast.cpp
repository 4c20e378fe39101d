// AVX2 matrix product for the ONNX runtime (matmul_fast.h).
#include "cpu/onnx/matmul_fast.h"

#include <immintrin.h>

namespace microsr::onnx_fast {
namespace {

// c[0..4)[0..16) for rows i..i+3 and columns j..j+15: 8 accumulators (4 rows × 2 vectors of 8).
inline void block_4x16(float* c, const float* a, const float* b, int64_t n, int64_t k, int64_t i, int64_t j) {
  __m256 acc[4][2];
  for (auto& row : acc) row[0] = row[1] = _mm256_setzero_ps();
  for (int64_t kk = 0; kk < k; ++kk) {
    const __m256 b0 = _mm256_loadu_ps(b + kk * n + j), b1 = _mm256_loadu_ps(b + kk * n + j + 8);
    for (int r = 0; r < 4; ++r) {
      const __m256 av = _mm256_broadcast_ss(a + (i + r) * k + kk);
      acc[r][0] = _mm256_fmadd_ps(av, b0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(av, b1, acc[r][1]);
    }
  }
  for (int r = 0; r < 4; ++r) {
    _mm256_storeu_ps(c + (i + r) * n + j, acc[r][0]);
    _mm256_storeu_ps(c + (i + r) * n + j + 8, acc[r][1]);
  }
}

// c[i][j] for one element, scalar.
inline float dot(const float* a, const float* b, int64_t n, int64_t k, int64_t i, int64_t j) {
  float s = 0.0f;
  for (int64_t kk = 0; kk < k; ++kk) s += a[i * k + kk] * b[kk * n + j];
  return s;
}

}  // namespace

void matmul_f32(float* c, const float* a, const float* b, int64_t m, int64_t n, int64_t k) {
  const int64_t row_blocks = m / 4, col_end = n / 16 * 16;
#pragma omp parallel for if (m * n * k > 200000) schedule(static)
  for (int64_t rb = 0; rb < row_blocks; ++rb) {
    const int64_t i = rb * 4;
    for (int64_t j = 0; j < col_end; j += 16) block_4x16(c, a, b, n, k, i, j);
    for (int64_t r = i; r < i + 4; ++r)
      for (int64_t j = col_end; j < n; ++j) c[r * n + j] = dot(a, b, n, k, r, j);
  }
  for (int64_t r = row_blocks * 4; r < m; ++r)  // the last m % 4 rows
    for (int64_t j = 0; j < n; ++j) c[r * n + j] = dot(a, b, n, k, r, j);
}

void matmul_f32_ref(float* c, const float* a, const float* b, int64_t m, int64_t n, int64_t k) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) c[i * n + j] = dot(a, b, n, k, i, j);
}

}  // namespace microsr::onnx_fast
