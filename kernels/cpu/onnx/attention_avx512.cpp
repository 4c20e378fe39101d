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
      const __m512 x = _mm512_add_ps(_mm512_add_ps(_mm512_maskz_loadu_ps(m, dst + j), hv), _mm512_maskz_loadu_ps(m, wp + j));
      _mm512_mask_storeu_ps(dst + j, m, x);
      mx = _mm512_mask_max_ps(mx, m, mx, x);
    }
  }
  return mx;
}

// 16 rows of 16 floats transposed in registers: out[c] holds column c of the rows (64 shuffles).
inline void transpose16(__m512 r[16]) {
  __m512 t[16], u[16];
  for (int i = 0; i < 8; ++i) {  // lane l of t[2i]: r[2i][4l], r[2i+1][4l], r[2i][4l+1], r[2i+1][4l+1]
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int g = 0; g < 4; ++g) {  // lane l of u[4g + c]: rows 4g..4g+3 at column 4l + c
    const __m512d t0 = _mm512_castps_pd(t[4 * g]), t1 = _mm512_castps_pd(t[4 * g + 1]);
    const __m512d t2 = _mm512_castps_pd(t[4 * g + 2]), t3 = _mm512_castps_pd(t[4 * g + 3]);
    u[4 * g] = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));
    u[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2));
    u[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3));
    u[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3));
  }
  for (int c = 0; c < 4; ++c) {  // column 4l + c: lane l of u[c], u[4 + c], u[8 + c], u[12 + c]
    const __m512 x_lo = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x44), x_hi = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xEE);
    const __m512 y_lo = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x44), y_hi = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xEE);
    r[c] = _mm512_shuffle_f32x4(x_lo, y_lo, 0x88);
    r[4 + c] = _mm512_shuffle_f32x4(x_lo, y_lo, 0xDD);
    r[8 + c] = _mm512_shuffle_f32x4(x_hi, y_hi, 0x88);
    r[12 + c] = _mm512_shuffle_f32x4(x_hi, y_hi, 0xDD);
  }
}

}  // namespace

void pack_rows16(float* dst, const float* src, int64_t ld, int64_t rows, int64_t count, float alpha) {
  int64_t d = 0;
  if (rows == 16) {
    const __m512 scale = _mm512_set1_ps(alpha);
    for (; d + 16 <= count; d += 16) {
      __m512 r[16];
      for (int j = 0; j < 16; ++j) r[j] = _mm512_loadu_ps(src + j * ld + d);
      transpose16(r);
      for (int c = 0; c < 16; ++c) _mm512_storeu_ps(dst + (d + c) * 16, _mm512_mul_ps(r[c], scale));
    }
  }
  for (; d < count; ++d)
    for (int64_t j = 0; j < 16; ++j) dst[d * 16 + j] = j < rows ? alpha * src[j * ld + d] : 0.0f;
}

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
    for (int64_t j = 0; j < width; j += 16) mx = _mm512_max_ps(mx, _mm512_mask_loadu_ps(lowest, tail_mask(width - j), row + j));
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
