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

// The epilogue's arithmetic on 8 sums of one output channel: act(sum + bias), then either
// scale * that + residual as one fused multiply-add (one rounding, not left to the compiler's
// contraction), or scale * that.
struct EpilogueAvx2 {
  __m256 bias, scale, slope;
  EpilogueAvx2(float bias_value, const ConvEpilogue& epi)
      : bias(_mm256_set1_ps(bias_value)),
        scale(_mm256_set1_ps(epi.scale)),
        slope(_mm256_set1_ps(epi.has_lrelu ? epi.lrelu_slope : 1.0f)) {}
  __m256 activated(__m256 sums) const {
    const __m256 v = _mm256_add_ps(sums, bias);
    return _mm256_blendv_ps(v, _mm256_mul_ps(v, slope), _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ));
  }
  __m256 with_residual(__m256 sums, __m256 residual) const { return _mm256_fmadd_ps(activated(sums), scale, residual); }
  __m256 scaled(__m256 sums) const { return _mm256_mul_ps(activated(sums), scale); }
};

// Lanes [0, count) of 8 active (count < 8): the lane numbers 0..7 compared against the count.
[[maybe_unused]] __m256i first_lanes(int count) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(count), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// Stores n consecutive conv sums of one output row through the epilogue:
//   y[index + i] = epilogue(sums[i]) for i < n, where index is the output element's flat index.
// AVX2, 8 at a time; the last n % 8 go through a masked load/store.
[[maybe_unused]] void store_row_segment(float* y, const float* sums, int n, float bias, const ConvEpilogue& epi,
                                        int64_t index) {
  const EpilogueAvx2 finish(bias, epi);
  const float* residual = epi.residual ? epi.residual + index : nullptr;
  float* out = y + index;
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 sums_v = _mm256_loadu_ps(sums + i);
    _mm256_storeu_ps(out + i,
                     residual ? finish.with_residual(sums_v, _mm256_loadu_ps(residual + i)) : finish.scaled(sums_v));
  }
  if (i < n) {
    const __m256i mask = first_lanes(n - i);
    const __m256 sums_v = _mm256_maskload_ps(sums + i, mask);
    _mm256_maskstore_ps(
        out + i, mask,
        residual ? finish.with_residual(sums_v, _mm256_maskload_ps(residual + i, mask)) : finish.scaled(sums_v));
  }
}

// The same into fp16 storage (conv/fp16.h), without a residual (epi.residual must be null):
//   y[index + i] = fp16(scale * act(sums[i] + bias)), rounded to nearest even (vcvtps2ph).
[[maybe_unused]] void store_row_segment(uint16_t* y, const float* sums, int n, float bias, const ConvEpilogue& epi,
                                        int64_t index) {
  const EpilogueAvx2 finish(bias, epi);
  uint16_t* out = y + index;
  auto halves = [&](__m256 sums_v) { return _mm256_cvtps_ph(finish.scaled(sums_v), _MM_FROUND_TO_NEAREST_INT); };
  int i = 0;
  for (; i + 8 <= n; i += 8) _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), halves(_mm256_loadu_ps(sums + i)));
  if (i < n) {  // no 16-bit masked store in AVX2: the last n % 8 halves one by one
    alignas(16) uint16_t last[8];
    _mm_store_si128(reinterpret_cast<__m128i*>(last), halves(_mm256_maskload_ps(sums + i, first_lanes(n - i))));
    for (int j = 0; i + j < n; ++j) out[i + j] = last[j];
  }
}

}  // namespace
}  // namespace microsr::kernels::detail
