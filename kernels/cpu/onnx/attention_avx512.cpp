// The row pass of attention variant 2 (attention.h) in AVX-512, 16 floats a step: biases added,
// then exp(x - max) and its sum, while the score row (16 KiB for 4096 keys) sits in L1.
//
// exp is vector_math_avx512.h's (vector_math.h's polynomial on 16 lanes).
// GCC 12's AVX-512 headers start some intrinsics (set1, roundscale, shuffles) from
// _mm512_undefined_ps(), which -Wuninitialized reports once inlined (GCC bug 105593): silenced here.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <limits>

#include "cpu/onnx/attention.h"
#include "cpu/onnx/vector_math_avx512.h"

namespace microsr::onnx_fast::avx512 {
namespace {

inline __mmask16 tail_mask(int64_t count) {
  return count >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << count) - 1u);
}

// dst[0..run) += src[0..run) (step 1) or += *src (step 0).
inline void add_run(float* dst, const float* src, int64_t run, int64_t step) {
  const __m512 value = _mm512_set1_ps(*src);
  for (int64_t j = 0; j < run; j += 16) {
    const __mmask16 m = tail_mask(run - j);
    const __m512 add = step ? _mm512_maskz_loadu_ps(m, src + j) : value;
    _mm512_mask_storeu_ps(dst + j, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, dst + j), add));
  }
}

// SAM's decomposed relative positions: h repeats one value per run, w steps along it, both with
// the same run; row += h + w and the row's maximum in one pass.
inline __m512 add_rel_pos(float* row, const BiasRun& h, const BiasRun& w) {
  const __m512 lowest = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  __m512 mx = lowest;
  for (int64_t s = 0; s < h.runs; ++s) {
    const __m512 hv = _mm512_set1_ps(h.base[h.run_base[s]]);
    const float* wp = w.base + w.run_base[s];
    float* dst = row + s * h.run;
    for (int64_t j = 0; j < h.run; j += 16) {
      const __mmask16 m = tail_mask(h.run - j);
      const __m512 x =
          _mm512_add_ps(_mm512_add_ps(_mm512_maskz_loadu_ps(m, dst + j), hv), _mm512_maskz_loadu_ps(m, wp + j));
      _mm512_mask_storeu_ps(dst + j, m, x);
      mx = _mm512_mask_max_ps(mx, m, mx, x);
    }
  }
  return mx;
}

}  // namespace

float bias_exp_row(float* row, int64_t width, const BiasRun* biases, int64_t count) {
  const __m512 lowest = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  __m512 mx = lowest;
  if (count == 2 && biases[0].step == 0 && biases[1].step == 1 && biases[0].run == biases[1].run &&
      biases[0].runs * biases[0].run == width) {
    mx = add_rel_pos(row, biases[0], biases[1]);
  } else {
    for (int64_t b = 0; b < count; ++b) {
      const BiasRun& w = biases[b];
      for (int64_t s = 0; s < w.runs; ++s) add_run(row + s * w.run, w.base + w.run_base[s], w.run, w.step);
    }
    for (int64_t j = 0; j < width; j += 16)
      mx = _mm512_max_ps(mx, _mm512_mask_loadu_ps(lowest, tail_mask(width - j), row + j));
  }
  const __m512 shift = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
  __m512 sum = _mm512_setzero_ps();
  for (int64_t j = 0; j < width; j += 16) {
    const __mmask16 m = tail_mask(width - j);
    const __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, row + j), shift));
    _mm512_mask_storeu_ps(row + j, m, e);
    sum = _mm512_mask_add_ps(sum, m, sum, e);
  }
  return 1.0f / _mm512_reduce_add_ps(sum);
}

}  // namespace microsr::onnx_fast::avx512
