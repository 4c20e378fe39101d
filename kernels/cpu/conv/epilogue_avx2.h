// The fused epilogue at store time, AVX2 (included by *_avx2.cpp and *_avx512.cpp only).
//
// Everything here sits in an anonymous namespace: each translation unit that includes it gets its
// own private copy, compiled with that unit's flags. A plain `inline` function would be emitted
// as a weak (COMDAT) symbol, and the linker would keep ONE copy for every unit — possibly the
// AVX-512 one for an AVX2 caller. See cpu_isa.h and tools/check_isa_objects.sh.
#pragma once
#include <immintrin.h>

#include <cstdint>

#include "cpu/cpu_kernels.h"

namespace microsr::kernels::detail {
namespace {

// Stores n consecutive conv sums of one output row through the epilogue:
//   y[index + i] = epilogue(sums[i]) for i < n, where index is the output element's flat index.
// AVX2, 8 at a time; the last n % 8 go through a masked load/store.
void store_row_segment(float* y, const float* sums, int n, float bias, const ConvEpilogue& epi, int64_t index) {
  const __m256 bias_v = _mm256_set1_ps(bias), scale = _mm256_set1_ps(epi.scale);
  const __m256 slope = _mm256_set1_ps(epi.has_lrelu ? epi.lrelu_slope : 1.0f);
  const __m256 zero = _mm256_setzero_ps();
  const float* residual = epi.residual ? epi.residual + index : nullptr;
  float* out = y + index;
  // scale * act(sum + bias) + residual, the last two in one fused multiply-add (one rounding), not
  // left to the compiler's contraction.
  auto finish = [&](__m256 v, __m256 residual_v) {
    v = _mm256_add_ps(v, bias_v);
    v = _mm256_blendv_ps(v, _mm256_mul_ps(v, slope), _mm256_cmp_ps(v, zero, _CMP_LT_OQ));
    return residual ? _mm256_fmadd_ps(v, scale, residual_v) : _mm256_mul_ps(v, scale);
  };
  int i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(out + i, finish(_mm256_loadu_ps(sums + i), residual ? _mm256_loadu_ps(residual + i) : zero));
  if (i < n) {
    // Lanes [0, n - i) active: compare the lane numbers 0..7 against the count.
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(n - i), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    const __m256 residual_v = residual ? _mm256_maskload_ps(residual + i, mask) : zero;
    _mm256_maskstore_ps(out + i, mask, finish(_mm256_maskload_ps(sums + i, mask), residual_v));
  }
}

}  // namespace
}  // namespace microsr::kernels::detail
