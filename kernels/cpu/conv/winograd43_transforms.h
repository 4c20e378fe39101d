// Winograd F(4x4, 3x3) transforms (Lavin & Gray, interpolation points 0, ±1, ±2), used by
// conv/v3_winograd43.cpp and the wgrad family:  Y = A^T [ (G g G^T) ⊙ (B^T d B) ] A  for a 3x3 kernel g, a 6x6 input
// window d and a 4x4 output tile Y. The data transforms work on 8 horizontally adjacent tiles at
// once, one tile per ymm lane.
#pragma once
#include <immintrin.h>

#include <cstdint>

#include "cpu/conv/winograd43_weights.h"

namespace microsr::kernels::winograd43 {
// Anonymous: every ISA translation unit compiles its own private copy (see conv/epilogue_avx2.h).
namespace {

// ---- 1-D transforms on vectors of 8 tiles
// --------------------------------------------------------- o = B^T d:  B^T = [4 0 -5 0 1 0; 0 -4
// -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
inline void input_transform_1d(__m256 o[6], const __m256 d[6]) {
  const __m256 four = _mm256_set1_ps(4.0f), minus5 = _mm256_set1_ps(-5.0f), two = _mm256_set1_ps(2.0f);
  o[0] = _mm256_fmadd_ps(four, d[0], _mm256_fmadd_ps(minus5, d[2], d[4]));
  const __m256 a = _mm256_fnmadd_ps(four, d[2], d[4]);  // d4 - 4 d2
  const __m256 b = _mm256_fnmadd_ps(four, d[1], d[3]);  // d3 - 4 d1
  o[1] = _mm256_add_ps(a, b);
  o[2] = _mm256_sub_ps(a, b);
  const __m256 c = _mm256_sub_ps(d[4], d[2]);                      // d4 - d2
  const __m256 e = _mm256_mul_ps(two, _mm256_sub_ps(d[3], d[1]));  // 2 (d3 - d1)
  o[3] = _mm256_add_ps(c, e);
  o[4] = _mm256_sub_ps(c, e);
  o[5] = _mm256_fmadd_ps(four, d[1], _mm256_fmadd_ps(minus5, d[3], d[5]));
}

// y = A^T m:  A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
inline void output_transform_1d(__m256 y[4], const __m256 m[6]) {
  const __m256 s1 = _mm256_add_ps(m[1], m[2]), d1 = _mm256_sub_ps(m[1], m[2]);
  const __m256 s2 = _mm256_add_ps(m[3], m[4]), d2 = _mm256_sub_ps(m[3], m[4]);
  y[0] = _mm256_add_ps(_mm256_add_ps(m[0], s1), s2);
  y[1] = _mm256_fmadd_ps(_mm256_set1_ps(2.0f), d2, d1);
  y[2] = _mm256_fmadd_ps(_mm256_set1_ps(4.0f), s2, s1);
  y[3] = _mm256_add_ps(_mm256_fmadd_ps(_mm256_set1_ps(8.0f), d2, d1), m[5]);
}

// 32 consecutive values p[0..31], held as a = p[0..7], b = p[8..15], e = p[16..23], f = p[24..31],
// viewed as 8 rows of 4: returns column j in c[j] (c[j][t] = p[4t+j]).
inline void deinterleave4(__m256 c[4], __m256 a, __m256 b, __m256 e, __m256 f) {
  const __m256 p0 = _mm256_permute2f128_ps(a, e, 0x20), p1 = _mm256_permute2f128_ps(a, e, 0x31);
  const __m256 p2 = _mm256_permute2f128_ps(b, f, 0x20), p3 = _mm256_permute2f128_ps(b, f, 0x31);
  const __m256 t0 = _mm256_unpacklo_ps(p0, p1), t1 = _mm256_unpackhi_ps(p0, p1);
  const __m256 t2 = _mm256_unpacklo_ps(p2, p3), t3 = _mm256_unpackhi_ps(p2, p3);
  c[0] = _mm256_shuffle_ps(t0, t2, 0x44), c[1] = _mm256_shuffle_ps(t0, t2, 0xEE);
  c[2] = _mm256_shuffle_ps(t1, t3, 0x44), c[3] = _mm256_shuffle_ps(t1, t3, 0xEE);
}

// The same on 32 consecutive floats in memory.
inline void deinterleave4(__m256 c[4], const float* p) {
  deinterleave4(c, _mm256_loadu_ps(p), _mm256_loadu_ps(p + 8), _mm256_loadu_ps(p + 16), _mm256_loadu_ps(p + 24));
}

// A 6x6 window row of 8 tiles from its 36 values: a, b, e, f hold values 0..31 as above and g's
// low half values 32..35. d[c][t] = value 4t + c for c < 6 (columns 4 and 5 are the next tile's
// columns 0 and 1). Columns 0..3 are deinterleave4's; for 4 and 5, deinterleave4 of values 4..35
// would start from 128-bit halves that are mostly the ones already made (see p0..p3): one more
// permute instead of four more loads and four permutes.
inline void deinterleave_window_row(__m256 d[6], __m256 a, __m256 b, __m256 e, __m256 f, __m256 g) {
  // Pairs of 128-bit halves (low | high): p0 values 0..3 | 16..19, p1 4..7 | 20..23, p2 8..11 |
  // 24..27, p3 12..15 | 28..31, p4 16..19 | 32..35.
  const __m256 p0 = _mm256_permute2f128_ps(a, e, 0x20), p1 = _mm256_permute2f128_ps(a, e, 0x31);
  const __m256 p2 = _mm256_permute2f128_ps(b, f, 0x20), p3 = _mm256_permute2f128_ps(b, f, 0x31);
  const __m256 p4 = _mm256_permute2f128_ps(e, g, 0x20);
  const __m256 t0 = _mm256_unpacklo_ps(p0, p1), t1 = _mm256_unpackhi_ps(p0, p1);
  const __m256 t2 = _mm256_unpacklo_ps(p2, p3), t3 = _mm256_unpackhi_ps(p2, p3);
  d[0] = _mm256_shuffle_ps(t0, t2, 0x44), d[1] = _mm256_shuffle_ps(t0, t2, 0xEE);
  d[2] = _mm256_shuffle_ps(t1, t3, 0x44), d[3] = _mm256_shuffle_ps(t1, t3, 0xEE);
  // Values 4..35 in the same pairs of halves are p1, p2, p3, p4: deinterleave4's first steps on them.
  const __m256 s0 = _mm256_unpacklo_ps(p1, p2), s2 = _mm256_unpacklo_ps(p3, p4);
  d[4] = _mm256_shuffle_ps(s0, s2, 0x44), d[5] = _mm256_shuffle_ps(s0, s2, 0xEE);
}

// Inverse of deinterleave4: out[4t+j] = c[j][t] for t < 8, j < 4 (32 floats).
inline void interleave4(float out[32], const __m256 c[4]) {
  const __m256 t0 = _mm256_unpacklo_ps(c[0], c[1]), t1 = _mm256_unpackhi_ps(c[0], c[1]);
  const __m256 t2 = _mm256_unpacklo_ps(c[2], c[3]), t3 = _mm256_unpackhi_ps(c[2], c[3]);
  const __m256 q0 = _mm256_shuffle_ps(t0, t2, 0x44), q1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 q2 = _mm256_shuffle_ps(t1, t3, 0x44), q3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  _mm256_storeu_ps(out, _mm256_permute2f128_ps(q0, q1, 0x20));
  _mm256_storeu_ps(out + 8, _mm256_permute2f128_ps(q2, q3, 0x20));
  _mm256_storeu_ps(out + 16, _mm256_permute2f128_ps(q0, q1, 0x31));
  _mm256_storeu_ps(out + 24, _mm256_permute2f128_ps(q2, q3, 0x31));
}

// V[ξ][8 tiles] = B^T d B for 8 horizontally adjacent tiles of one channel, v: V + ξ*v_stride.
// load_row(r, d) supplies window row r as 6 vectors, d[c][t] = column c of tile t's window (the
// row's values 4t + c): the fp32 form below reads them from floats, conv_v3's fp16 storage
// (conv/winograd43_f16_avx2.h) converts them from halves.
template <class LoadRow>
inline void input_transform_8_tiles_rows(float* v, int64_t v_stride, LoadRow load_row) {
  __m256 rows[6][6];  // rows[r][c]: (B applied along columns) for window row r
  for (int r = 0; r < kWindow; ++r) {
    __m256 d[6];
    load_row(r, d);
    input_transform_1d(rows[r], d);
  }
  for (int c = 0; c < kWindow; ++c) {
    const __m256 column[6] = {rows[0][c], rows[1][c], rows[2][c], rows[3][c], rows[4][c], rows[5][c]};
    __m256 out[6];
    input_transform_1d(out, column);
    for (int r = 0; r < kWindow; ++r) _mm256_store_ps(v + (r * 6 + c) * v_stride, out[r]);
  }
}

//   window: padded input at the top-left of the first tile's 6x6 window, rows row_stride floats
//   apart; each row's first 36 floats are read.
inline void input_transform_8_tiles(float* v, int64_t v_stride, const float* window, int row_stride) {
  input_transform_8_tiles_rows(v, v_stride, [&](int r, __m256 d[6]) {
    const float* p = window + static_cast<int64_t>(r) * row_stride;
    deinterleave_window_row(d, _mm256_loadu_ps(p), _mm256_loadu_ps(p + 8), _mm256_loadu_ps(p + 16),
                            _mm256_loadu_ps(p + 24), _mm256_castps128_ps256(_mm_loadu_ps(p + 32)));
  });
}

// m [kPositions][m_stride] floats for 8 tiles of one output channel -> out [4 rows][32 pixels].
inline void output_transform_8_tiles(float out[4][32], const float* m, int64_t m_stride) {
  __m256 cols[6][4];  // cols[c][i]: A^T applied along rows, for window column c
  for (int c = 0; c < kWindow; ++c) {
    __m256 column[6];
    for (int r = 0; r < kWindow; ++r) column[r] = _mm256_load_ps(m + (r * 6 + c) * m_stride);
    output_transform_1d(cols[c], column);
  }
  for (int i = 0; i < kTile; ++i) {
    const __m256 row[6] = {cols[0][i], cols[1][i], cols[2][i], cols[3][i], cols[4][i], cols[5][i]};
    __m256 y[4];
    output_transform_1d(y, row);
    interleave4(out[i], y);
  }
}

}  // namespace
}  // namespace microsr::kernels::winograd43
