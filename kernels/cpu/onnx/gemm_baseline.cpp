// The GEMM inner kernel for CPUs without AVX2 (gemm.h): the same blocking as gemm_avx2.cpp in
// plain C++, which the compiler vectorises with SSE2.
#include "cpu/onnx/gemm.h"

namespace microsr::onnx_fast::baseline {

void panel_kernel(float* c, int64_t ldc, const float* a, int64_t lda, const float* panel, int64_t rows,
                  int64_t cols, int64_t kc, bool load) {
  for (int64_t r = 0; r < rows; ++r) {
    float acc[16];
    for (int j = 0; j < 16; ++j) acc[j] = load && j < cols ? c[r * ldc + j] : 0.0f;
    const float* arow = a + r * lda;
    for (int64_t kk = 0; kk < kc; ++kk) {
      const float av = arow[kk];
      const float* p = panel + kk * 16;
      for (int j = 0; j < 16; ++j) acc[j] += av * p[j];
    }
    for (int64_t j = 0; j < cols; ++j) c[r * ldc + j] = acc[j];
  }
}

}  // namespace microsr::onnx_fast::baseline
