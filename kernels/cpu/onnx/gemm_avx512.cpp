// The AVX-512 GEMM inner kernels (gemm.h): up to 12 rows × the 32 columns of two neighbouring B
// panels in 24 zmm accumulators; per k step two loads of B and one broadcast of A per row, each
// broadcast feeding two FMAs. panel_pair_kernel reads A rows in place (lda apart);
// packed_pair_kernel reads A packed k-major (12 values per k step, one stream) and B panels with
// any row stride (the packed panels' 16, or B's own rows when it is not packed). pack_a12 and
// pack_rows16 pack A and B by register transposes.
// GCC 12's AVX-512 headers start the shuffles of transpose16 from _mm512_undefined_ps(), which
// -Wuninitialized reports once inlined (GCC bug 105593): silenced here.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "cpu/onnx/gemm.h"

namespace microsr::onnx_fast::avx512 {
namespace {

// Where the rows of a block live: `ld` floats apart from `p`, or each at its own pointer (rows
// gathered from or scattered to a permuted layout, e.g. a window partition).
template <class T>
struct StridedRows {
  T* p;
  int64_t ld;
  T* operator[](int64_t r) const { return p + r * ld; }
};
template <class T>
struct PointerRows {
  T* const* p;
  T* operator[](int64_t r) const { return p[r]; }
};

template <int R>
void block(float* c, int64_t ldc, const float* a, int64_t lda, const float* panel0, const float* panel1, int64_t cols,
           int64_t kc, bool load, const float* bias) {
  const int64_t cols0 = cols < 16 ? cols : 16, cols1 = cols > 16 ? cols - 16 : 0;
  const __mmask16 mask0 = static_cast<__mmask16>(cols0 >= 16 ? 0xFFFFu : (1u << cols0) - 1u);
  const __mmask16 mask1 = static_cast<__mmask16>(cols1 >= 16 ? 0xFFFFu : (1u << cols1) - 1u);
  const __m512 bias0 = bias ? _mm512_maskz_loadu_ps(mask0, bias) : _mm512_setzero_ps();
  const __m512 bias1 = bias ? _mm512_maskz_loadu_ps(mask1, bias + 16) : _mm512_setzero_ps();
  __m512 acc0[R], acc1[R];
  for (int r = 0; r < R; ++r) {
    acc0[r] = load ? _mm512_add_ps(_mm512_maskz_loadu_ps(mask0, c + r * ldc), bias0) : bias0;
    acc1[r] = load ? _mm512_add_ps(_mm512_maskz_loadu_ps(mask1, c + r * ldc + 16), bias1) : bias1;
  }
  for (int64_t kk = 0; kk < kc; ++kk) {
    const __m512 b0 = _mm512_loadu_ps(panel0 + kk * 16), b1 = _mm512_loadu_ps(panel1 + kk * 16);
    for (int r = 0; r < R; ++r) {
      const __m512 av = _mm512_set1_ps(a[r * lda + kk]);
      acc0[r] = _mm512_fmadd_ps(av, b0, acc0[r]);
      acc1[r] = _mm512_fmadd_ps(av, b1, acc1[r]);
    }
  }
  for (int r = 0; r < R; ++r) {
    _mm512_mask_storeu_ps(c + r * ldc, mask0, acc0[r]);
    _mm512_mask_storeu_ps(c + r * ldc + 16, mask1, acc1[r]);
  }
}

// Rows R of packed A over both panels (32 columns at most).
template <int R, class Rows>
void packed_block2(Rows c, const float* apack, const float* panel0, const float* panel1, int64_t ldb, int64_t cols,
                   int64_t kc, bool load, const float* bias) {
  const int64_t cols1 = cols - 16;
  const __mmask16 mask1 = static_cast<__mmask16>(cols1 >= 16 ? 0xFFFFu : (1u << cols1) - 1u);
  const __m512 bias0 = bias ? _mm512_loadu_ps(bias) : _mm512_setzero_ps();
  const __m512 bias1 = bias ? _mm512_maskz_loadu_ps(mask1, bias + 16) : _mm512_setzero_ps();
  __m512 acc0[R], acc1[R];
  for (int r = 0; r < R; ++r) {
    acc0[r] = load ? _mm512_add_ps(_mm512_loadu_ps(c[r]), bias0) : bias0;
    acc1[r] = load ? _mm512_add_ps(_mm512_maskz_loadu_ps(mask1, c[r] + 16), bias1) : bias1;
  }
#pragma GCC unroll 4
  for (int64_t kk = 0; kk < kc; ++kk) {
    // Unmasked loads (the panels hold 16 readable floats per step): a masked load here makes GCC
    // 12 spill the accumulators inside the loop (half the speed).
    const __m512 b0 = _mm512_loadu_ps(panel0 + kk * ldb), b1 = _mm512_loadu_ps(panel1 + kk * ldb);
    for (int r = 0; r < R; ++r) {
      const __m512 av = _mm512_set1_ps(apack[kk * 12 + r]);
      acc0[r] = _mm512_fmadd_ps(av, b0, acc0[r]);
      acc1[r] = _mm512_fmadd_ps(av, b1, acc1[r]);
    }
  }
  for (int r = 0; r < R; ++r) {
    _mm512_storeu_ps(c[r], acc0[r]);
    _mm512_mask_storeu_ps(c[r] + 16, mask1, acc1[r]);
  }
}

// Rows R of packed A over panel0 alone (16 columns at most).
template <int R, class Rows>
void packed_block1(Rows c, const float* apack, const float* panel0, const float*, int64_t ldb, int64_t cols, int64_t kc,
                   bool load, const float* bias) {
  const __mmask16 mask0 = static_cast<__mmask16>(cols >= 16 ? 0xFFFFu : (1u << cols) - 1u);
  const __m512 bias0 = bias ? _mm512_maskz_loadu_ps(mask0, bias) : _mm512_setzero_ps();
  __m512 acc0[R];
  for (int r = 0; r < R; ++r)
    acc0[r] = load ? _mm512_add_ps(_mm512_maskz_loadu_ps(mask0, c[r]), bias0) : bias0;
  for (int64_t kk = 0; kk < kc; ++kk) {
    const __m512 b0 = _mm512_loadu_ps(panel0 + kk * ldb);
    for (int r = 0; r < R; ++r) acc0[r] = _mm512_fmadd_ps(_mm512_set1_ps(apack[kk * 12 + r]), b0, acc0[r]);
  }
  for (int r = 0; r < R; ++r) _mm512_mask_storeu_ps(c[r], mask0, acc0[r]);
}

template <bool Two, class Rows>
void packed_rows(Rows c, const float* apack, const float* panel0, const float* panel1, int64_t ldb, int64_t rows,
                 int64_t cols, int64_t kc, bool load, const float* bias) {
  switch (rows) {
#define MICROSR_ROWS_CASE(n) \
  case n: (Two ? packed_block2<n, Rows> : packed_block1<n, Rows>)(c, apack, panel0, panel1, ldb, cols, kc, load, bias); break;
    MICROSR_ROWS_CASE(12) MICROSR_ROWS_CASE(11) MICROSR_ROWS_CASE(10) MICROSR_ROWS_CASE(9) MICROSR_ROWS_CASE(8)
    MICROSR_ROWS_CASE(7) MICROSR_ROWS_CASE(6) MICROSR_ROWS_CASE(5) MICROSR_ROWS_CASE(4) MICROSR_ROWS_CASE(3)
    MICROSR_ROWS_CASE(2) MICROSR_ROWS_CASE(1)
#undef MICROSR_ROWS_CASE
    default: break;
  }
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
    const __m512 y_lo = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x44),
                 y_hi = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xEE);
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

void packed_pair_kernel(float* c, int64_t ldc, const float* apack, const float* panel0, const float* panel1,
                        int64_t ldb, int64_t rows, int64_t cols, int64_t kc, bool load, const float* bias) {
  const StridedRows<float> rows_at{c, ldc};
  if (cols > 16)
    packed_rows<true>(rows_at, apack, panel0, panel1, ldb, rows, cols, kc, load, bias);
  else
    packed_rows<false>(rows_at, apack, panel0, panel1, ldb, rows, cols, kc, load, bias);
}

void packed_pair_kernel_rows(float* const* c_rows, const float* apack, const float* panel0, const float* panel1,
                             int64_t ldb, int64_t rows, int64_t cols, int64_t kc, bool load, const float* bias) {
  const PointerRows<float> rows_at{c_rows};
  if (cols > 16)
    packed_rows<true>(rows_at, apack, panel0, panel1, ldb, rows, cols, kc, load, bias);
  else
    packed_rows<false>(rows_at, apack, panel0, panel1, ldb, rows, cols, kc, load, bias);
}

namespace {

template <class Rows>
void pack_a12_from(float* dst, Rows src, int64_t rows, int64_t kc, float alpha) {
  int64_t kk = 0;
  if (rows == 12) {  // 4 × 4 transposes: 3 groups of 4 rows × 4 k steps per pass
    const __m128 scale = _mm_set1_ps(alpha);
    for (; kk + 4 <= kc; kk += 4)
      for (int64_t g = 0; g < 3; ++g) {
        __m128 r0 = _mm_loadu_ps(src[4 * g] + kk), r1 = _mm_loadu_ps(src[4 * g + 1] + kk),
               r2 = _mm_loadu_ps(src[4 * g + 2] + kk), r3 = _mm_loadu_ps(src[4 * g + 3] + kk);
        _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
        float* d = dst + kk * 12 + 4 * g;
        _mm_storeu_ps(d, _mm_mul_ps(r0, scale));
        _mm_storeu_ps(d + 12, _mm_mul_ps(r1, scale));
        _mm_storeu_ps(d + 24, _mm_mul_ps(r2, scale));
        _mm_storeu_ps(d + 36, _mm_mul_ps(r3, scale));
      }
  }
  for (; kk < kc; ++kk)
    for (int64_t r = 0; r < rows; ++r) dst[kk * 12 + r] = alpha * src[r][kk];
}

}  // namespace

void pack_a12(float* dst, const float* src, int64_t lda, int64_t rows, int64_t kc, float alpha) {
  pack_a12_from(dst, StridedRows<const float>{src, lda}, rows, kc, alpha);
}

void pack_a12_rows(float* dst, const float* const* src_rows, int64_t rows, int64_t kc, float alpha) {
  pack_a12_from(dst, PointerRows<const float>{src_rows}, rows, kc, alpha);
}

void panel_pair_kernel(float* c, int64_t ldc, const float* a, int64_t lda, const float* panel0, const float* panel1,
                       int64_t rows, int64_t cols, int64_t kc, bool load, const float* bias) {
  int64_t r = 0;
  for (; r + 12 <= rows; r += 12) block<12>(c + r * ldc, ldc, a + r * lda, lda, panel0, panel1, cols, kc, load, bias);
  float* cr = c + r * ldc;
  const float* ar = a + r * lda;
  switch (rows - r) {
#define MICROSR_ROWS_CASE(n) \
  case n: block<n>(cr, ldc, ar, lda, panel0, panel1, cols, kc, load, bias); break;
    MICROSR_ROWS_CASE(11) MICROSR_ROWS_CASE(10) MICROSR_ROWS_CASE(9) MICROSR_ROWS_CASE(8) MICROSR_ROWS_CASE(7)
    MICROSR_ROWS_CASE(6) MICROSR_ROWS_CASE(5) MICROSR_ROWS_CASE(4) MICROSR_ROWS_CASE(3) MICROSR_ROWS_CASE(2)
    MICROSR_ROWS_CASE(1)
#undef MICROSR_ROWS_CASE
    default: break;
  }
}

}  // namespace microsr::onnx_fast::avx512
