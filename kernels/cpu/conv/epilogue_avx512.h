// The fused epilogue at store time, AVX-512 (included by *_avx512*.cpp only): the arithmetic of
// detail::store_row_segment (conv/epilogue_avx2.h), 16 lanes at a time, straight from registers.
//
// In an anonymous namespace, so that each translation unit that includes it compiles its own
// private copy with its own flags (see conv/epilogue_avx2.h).
#pragma once
#include <immintrin.h>

#include <cstdint>

#include "cpu/cpu_kernels.h"

namespace microsr::kernels::detail {
namespace {

// y[index + i] = scale * act(sums[i] + bias) + residual[index + i] for the first n lanes of
// sums[0], sums[1], ... (lane i of sums[k] is element 16k + i); lanes from n on are neither read
// from the residual nor stored. The same operations in the same order as store_row_segment, the
// scale and the residual in one fused multiply-add (a LeakyReLU slope of 1 there multiplies by 1:
// the same bits as skipping it here).
void store_row_zmm(float* y, const __m512* sums, int n, __m512 bias, const ConvEpilogue& epi, int64_t index) {
  const __m512 scale = _mm512_set1_ps(epi.scale), slope = _mm512_set1_ps(epi.lrelu_slope);
  for (int k = 0; 16 * k < n; ++k) {
    const __mmask16 lanes = n - 16 * k >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n - 16 * k)) - 1);
    __m512 v = _mm512_add_ps(sums[k], bias);
    if (epi.has_lrelu) v = _mm512_mask_mul_ps(v, _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ), v, slope);
    if (epi.residual)  // one rounding, as store_row_segment
      v = _mm512_fmadd_ps(v, scale, _mm512_maskz_loadu_ps(lanes, epi.residual + index + 16 * k));
    else
      v = _mm512_mul_ps(v, scale);
    _mm512_mask_storeu_ps(y + index + 16 * k, lanes, v);
  }
}

}  // namespace
}  // namespace microsr::kernels::detail
