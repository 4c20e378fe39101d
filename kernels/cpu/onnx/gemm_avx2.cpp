// The AVX2 + FMA GEMM inner kernel (gemm.h): up to 6 rows × 16 columns of C in 12 ymm
// accumulators; per k step two loads of the packed B panel and one broadcast of A per row.
#include <immintrin.h>

#include "cpu/onnx/gemm.h"

namespace microsr::onnx_fast::avx2 {
namespace {

template <int R>
void block(float* c, int64_t ldc, const float* a, int64_t lda, const float* panel, int64_t cols, int64_t kc,
           bool load) {
  __m256 acc0[R], acc1[R];
  const bool full = cols == 16;
  for (int r = 0; r < R; ++r) {
    if (load && full) {
      acc0[r] = _mm256_loadu_ps(c + r * ldc);
      acc1[r] = _mm256_loadu_ps(c + r * ldc + 8);
    } else if (load) {
      alignas(32) float tmp[16] = {};
      for (int64_t j = 0; j < cols; ++j) tmp[j] = c[r * ldc + j];
      acc0[r] = _mm256_load_ps(tmp);
      acc1[r] = _mm256_load_ps(tmp + 8);
    } else {
      acc0[r] = acc1[r] = _mm256_setzero_ps();
    }
  }
  for (int64_t kk = 0; kk < kc; ++kk) {
    const __m256 b0 = _mm256_loadu_ps(panel + kk * 16), b1 = _mm256_loadu_ps(panel + kk * 16 + 8);
    for (int r = 0; r < R; ++r) {
      const __m256 av = _mm256_broadcast_ss(a + r * lda + kk);
      acc0[r] = _mm256_fmadd_ps(av, b0, acc0[r]);
      acc1[r] = _mm256_fmadd_ps(av, b1, acc1[r]);
    }
  }
  for (int r = 0; r < R; ++r) {
    if (full) {
      _mm256_storeu_ps(c + r * ldc, acc0[r]);
      _mm256_storeu_ps(c + r * ldc + 8, acc1[r]);
    } else {
      alignas(32) float tmp[16];
      _mm256_store_ps(tmp, acc0[r]);
      _mm256_store_ps(tmp + 8, acc1[r]);
      for (int64_t j = 0; j < cols; ++j) c[r * ldc + j] = tmp[j];
    }
  }
}

}  // namespace

void panel_kernel(float* c, int64_t ldc, const float* a, int64_t lda, const float* panel, int64_t rows,
                  int64_t cols, int64_t kc, bool load) {
  int64_t r = 0;
  for (; r + 6 <= rows; r += 6) block<6>(c + r * ldc, ldc, a + r * lda, lda, panel, cols, kc, load);
  switch (rows - r) {
    case 5: block<5>(c + r * ldc, ldc, a + r * lda, lda, panel, cols, kc, load); break;
    case 4: block<4>(c + r * ldc, ldc, a + r * lda, lda, panel, cols, kc, load); break;
    case 3: block<3>(c + r * ldc, ldc, a + r * lda, lda, panel, cols, kc, load); break;
    case 2: block<2>(c + r * ldc, ldc, a + r * lda, lda, panel, cols, kc, load); break;
    case 1: block<1>(c + r * ldc, ldc, a + r * lda, lda, panel, cols, kc, load); break;
    default: break;
  }
}

}  // namespace microsr::onnx_fast::avx2
