// conv_v5_winograd43_avx512: Winograd F(4x4, 3x3) as conv_v3 (conv/v3_winograd43_avx2.cpp has
// the math and the layouts; conv/winograd43_driver.h the batching and the transforms), with the 36
// products in the transformed domain — most of the time — on AVX-512: 16 tiles per zmm register.
//
// Micro-kernel: CO output channels x 16*NV tiles, m [CO][m_stride] = Σ_ci u[ci][CO] v[ci][tiles].
//   8 x 48 (CO = 8, NV = 3): 24 zmm accumulators + 3 tile vectors + 1 broadcast of the 32 zmm
//   registers; per input channel 3 aligned V loads + 8 U broadcasts for 24 FMAs of 16 lanes, so
//   two 512-bit FMA pipes stay busy (24 independent accumulators cover 4-cycle latency x 2 pipes).
//   Weights are packed with co_block 8 (ConvWeightFormat::kWinograd43Avx512); layers with at most
//   4 outputs (conv_last) are packed with co_block 4 and run 4 x 96 (24 accumulators + 6 + 1).
// Batches are 48 tiles (8 x 48) or 96 tiles (4 x 96). The input transform works on 16 tiles per
// zmm and reads its windows straight from the activations [cin][h][w]: masked loads where a window
// overhangs the image, zero rows above and below it, so no padded copy of the input is made (the
// copy cost a read, a write and a second read of the whole input per convolution: at a 440x440
// tile 12% of the time in memmove alone). The output transform also works on 16 tiles per zmm
// and applies the epilogue from registers (output_groups_16: 1-5% faster per convolution at 440²
// than the AVX2 one with its trip through a stack buffer; the same bits).
//
// This file is compiled with -mavx512f -mavx512bw -mavx512vl -mavx512dq (CMakeLists.txt: the
// *_avx512.cpp rule) and only called when active_cpu_isa() >= avx512 (conv/dispatch.cpp).
#include <immintrin.h>

#include "cpu/conv/epilogue_avx512.h"
#include "cpu/conv/isa_kernels.h"
#include "cpu/conv/window_masks_avx512.h"
#include "cpu/conv/winograd43_driver.h"

namespace microsr::kernels {
namespace {

using namespace winograd43;

template <int CO, int NV>
__attribute__((noinline)) void batch_product_zmm(float* m, int64_t m_stride, const float* u, const float* v,
                                                 int64_t v_stride, int cin) {
  __m512 acc[CO][NV];
#pragma GCC unroll 8
  for (int c = 0; c < CO; ++c)
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) acc[c][j] = _mm512_setzero_ps();
  for (int ci = 0; ci < cin; ++ci) {
    __m512 t[NV];
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) {
      t[j] = _mm512_load_ps(v + 16 * j);
      __asm__("" : "+v"(t[j]));  // keep it in a register: stops gcc re-loading it per FMA
    }
#pragma GCC unroll 8
    for (int c = 0; c < CO; ++c) {
      const __m512 ub = _mm512_set1_ps(u[c]);
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) acc[c][j] = _mm512_fmadd_ps(ub, t[j], acc[c][j]);
    }
    u += CO;
    v += v_stride;
  }
#pragma GCC unroll 8
  for (int c = 0; c < CO; ++c)
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) _mm512_store_ps(m + c * m_stride + 16 * j, acc[c][j]);
}

// o = B^T d on vectors of 16 tiles (input_transform_1d of conv/winograd43_transforms.h on zmm).
void input_transform_1d_zmm(__m512 o[6], const __m512 d[6]) {
  const __m512 four = _mm512_set1_ps(4.0f), minus5 = _mm512_set1_ps(-5.0f), two = _mm512_set1_ps(2.0f);
  o[0] = _mm512_fmadd_ps(four, d[0], _mm512_fmadd_ps(minus5, d[2], d[4]));
  const __m512 a = _mm512_fnmadd_ps(four, d[2], d[4]);  // d4 - 4 d2
  const __m512 b = _mm512_fnmadd_ps(four, d[1], d[3]);  // d3 - 4 d1
  o[1] = _mm512_add_ps(a, b);
  o[2] = _mm512_sub_ps(a, b);
  const __m512 c = _mm512_sub_ps(d[4], d[2]);                      // d4 - d2
  const __m512 e = _mm512_mul_ps(two, _mm512_sub_ps(d[3], d[1]));  // 2 (d3 - d1)
  o[3] = _mm512_add_ps(c, e);
  o[4] = _mm512_sub_ps(c, e);
  o[5] = _mm512_fmadd_ps(four, d[1], _mm512_fmadd_ps(minus5, d[3], d[5]));
}

// V[ξ][16 tiles] = B^T d B for 16 horizontally adjacent tiles of one channel, from the six rows
// of their windows: row r's 66 floats p[0..65] start at rows[r] (null: a row of zeros, above or
// below the image), column j of tile t at p[4t + j]; lanes outside masks[k] (floats 16k .. 16k+15,
// k < 4; masks[4]: p[64], p[65]) read as zeros and are never touched, so the windows may hang over
// the image's left and right edges. Four masked loads + one of 2 floats per row, then per column
// j < 4 two 2-source permutes (tiles 0-7 from p[0..31], 8-15 from p[32..63]) joined by one blend;
// columns 4 and 5 are columns 0 and 1 moved down one tile, with p[64], p[65] for the last tile.
// 14 shuffles per row of 16 tiles, against 48 for two calls of the AVX2 input_transform_8_tiles.
void input_transform_16_tiles_rows(float* v, int64_t v_stride, const float* const rows_in[6],
                                   const __mmask16 masks[5]) {
  const __m512i take[4] = {_mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 0, 4, 8, 12, 16, 20, 24, 28),
                           _mm512_setr_epi32(1, 5, 9, 13, 17, 21, 25, 29, 1, 5, 9, 13, 17, 21, 25, 29),
                           _mm512_setr_epi32(2, 6, 10, 14, 18, 22, 26, 30, 2, 6, 10, 14, 18, 22, 26, 30),
                           _mm512_setr_epi32(3, 7, 11, 15, 19, 23, 27, 31, 3, 7, 11, 15, 19, 23, 27, 31)};
  const __m512i next_tile = _mm512_setr_epi32(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16);
  const __m512i next_tile_1 = _mm512_setr_epi32(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 17);
  __m512 rows[6][6];  // rows[r][c]: (B applied along columns) for window row r
  for (int r = 0; r < kWindow; ++r) {
    const float* p = rows_in[r];
    if (!p) {  // B^T 0 = 0
      for (int c = 0; c < kWindow; ++c) rows[r][c] = _mm512_setzero_ps();
      continue;
    }
    const __m512 a = _mm512_maskz_loadu_ps(masks[0], p), b = _mm512_maskz_loadu_ps(masks[1], p + 16);
    const __m512 c = _mm512_maskz_loadu_ps(masks[2], p + 32), e = _mm512_maskz_loadu_ps(masks[3], p + 48);
    const __m512 tail = _mm512_maskz_loadu_ps(masks[4], p + 64);  // p[64], p[65] in lanes 0, 1
    __m512 d[6];
    for (int j = 0; j < 4; ++j) {
      // take[j] repeats its 8 indices in both halves, so each permute holds its 8 tiles twice.
      const __m512 low = _mm512_permutex2var_ps(a, take[j], b);   // tiles 0-7 (twice)
      const __m512 high = _mm512_permutex2var_ps(c, take[j], e);  // tiles 8-15 (twice)
      d[j] = _mm512_mask_blend_ps(0xFF00, low, high);             // tiles 0-7 | 8-15
    }
    d[4] = _mm512_permutex2var_ps(d[0], next_tile, tail);    // lane 15 <- p[64]
    d[5] = _mm512_permutex2var_ps(d[1], next_tile_1, tail);  // lane 15 <- p[65]
    input_transform_1d_zmm(rows[r], d);
  }
  for (int c = 0; c < kWindow; ++c) {
    const __m512 column[6] = {rows[0][c], rows[1][c], rows[2][c], rows[3][c], rows[4][c], rows[5][c]};
    __m512 out[6];
    input_transform_1d_zmm(out, column);
    for (int r = 0; r < kWindow; ++r) _mm512_store_ps(v + (r * 6 + c) * v_stride, out[r]);
  }
}

// From a padded copy (window: the first tile's 6x6 window; the padded rows have 4 floats of slack).
void input_transform_16_tiles(float* v, int64_t v_stride, const float* window, int row_stride) {
  const float* rows[6];
  for (int r = 0; r < kWindow; ++r) rows[r] = window + static_cast<int64_t>(r) * row_stride;
  const __mmask16 all[5] = {0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0x3};
  input_transform_16_tiles_rows(v, v_stride, rows, all);
}

// Straight from the unpadded channel plane [h][w], no copy: the windows' top-left corner is
// (row0, col0) (one row above and one column left of the first tile), zeros outside the image.
void input_transform_16_tiles_direct(float* v, int64_t v_stride, const float* plane, int h, int w, int row0, int col0) {
  __mmask16 masks[5];
  detail::window_masks<5>(masks, col0, w);
  const float* rows[6];
  for (int r = 0; r < kWindow; ++r) {
    const int iy = row0 + r;
    rows[r] = iy >= 0 && iy < h ? plane + static_cast<int64_t>(iy) * w + col0 : nullptr;
  }
  input_transform_16_tiles_rows(v, v_stride, rows, masks);
}

// y = A^T m on vectors of 16 tiles (output_transform_1d of conv/winograd43_transforms.h on zmm).
void output_transform_1d_zmm(__m512 y[4], const __m512 m[6]) {
  const __m512 s1 = _mm512_add_ps(m[1], m[2]), d1 = _mm512_sub_ps(m[1], m[2]);
  const __m512 s2 = _mm512_add_ps(m[3], m[4]), d2 = _mm512_sub_ps(m[3], m[4]);
  y[0] = _mm512_add_ps(_mm512_add_ps(m[0], s1), s2);
  y[1] = _mm512_fmadd_ps(_mm512_set1_ps(2.0f), d2, d1);
  y[2] = _mm512_fmadd_ps(_mm512_set1_ps(4.0f), s2, s1);
  y[3] = _mm512_add_ps(_mm512_fmadd_ps(_mm512_set1_ps(8.0f), d2, d1), m[5]);
}

// M [36 ξ][16 tiles] of one output channel (ξ stride m_stride) -> out[i][q]: output row i of the
// 16 tiles, pixels 16q .. 16q + 15 (tiles 4q .. 4q + 3, pixel 4t + j = column j of tile t). The
// arithmetic of output_transform_8_tiles, lane for lane (the same bits); the columns are then
// interleaved in registers, 8 two-source permutes per row, instead of through memory.
void output_transform_16_tiles(__m512 out[kTile][4], const float* m, int64_t m_stride) {
  // Pairs (column 0, column 1) of tiles 0-7 / 8-15, then the pairs' quads of 4 tiles.
  const __m512i pairs_low = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i pairs_high = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const __m512i quads_low = _mm512_setr_epi32(0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
  const __m512i quads_high = _mm512_setr_epi32(8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
  __m512 cols[kWindow][kTile];  // cols[c][i]: A^T applied along rows, for window column c
  for (int c = 0; c < kWindow; ++c) {
    __m512 column[kWindow];
    for (int r = 0; r < kWindow; ++r) column[r] = _mm512_load_ps(m + (r * 6 + c) * m_stride);
    output_transform_1d_zmm(cols[c], column);
  }
  for (int i = 0; i < kTile; ++i) {
    const __m512 row[kWindow] = {cols[0][i], cols[1][i], cols[2][i], cols[3][i], cols[4][i], cols[5][i]};
    __m512 y[kTile];  // y[j]: output column j of each tile
    output_transform_1d_zmm(y, row);
    const __m512 low01 = _mm512_permutex2var_ps(y[0], pairs_low, y[1]);
    const __m512 low23 = _mm512_permutex2var_ps(y[2], pairs_low, y[3]);
    const __m512 high01 = _mm512_permutex2var_ps(y[0], pairs_high, y[1]);
    const __m512 high23 = _mm512_permutex2var_ps(y[2], pairs_high, y[3]);
    out[i][0] = _mm512_permutex2var_ps(low01, quads_low, low23);
    out[i][1] = _mm512_permutex2var_ps(low01, quads_high, low23);
    out[i][2] = _mm512_permutex2var_ps(high01, quads_low, high23);
    out[i][3] = _mm512_permutex2var_ps(high01, quads_high, high23);
  }
}

// Step 3 of the driver (winograd43::OutputFn) 16 tiles (64 pixels of 4 rows) at a time, the
// epilogue applied from registers: first_tile and tiles are multiples of 16.
void output_groups_16(float* y, const float* m, int64_t m_per_position, int m_row, const PackedConvWeights& packed,
                      const ConvEpilogue& epi, int h, int w, int tiles_per_row, int64_t first_tile, int tiles) {
  __m512 out[kTile][4];
  for_output_groups<16>(
      m, m_row, packed.cout, h, w, tiles_per_row, first_tile, tiles,
      [&](int, const float* m_group) -> const __m512(&)[kTile][4] {
        output_transform_16_tiles(out, m_group, m_per_position);
        return out;
      },
      [&](int co, const __m512* row, int n, int64_t index) {
        detail::store_row_zmm(y, row, n, _mm512_set1_ps(packed.bias[co]), epi, index);
      });
}

// The micro-kernel for a batch of `vecs` zmm of tiles (1..NV). A batch of an odd number of 8-tile
// groups computes half a vector more than it stores: those lanes read V left from an earlier
// batch (finite or not, lanes do not mix) and land in M lanes nobody reads.
template <int CO, int NV>
ProductFn product_for(int vecs) {
  if constexpr (NV > 1) {
    if (vecs < NV) return product_for<CO, NV - 1>(vecs);
  }
  return batch_product_zmm<CO, NV>;
}

}  // namespace

void conv2d_winograd43_packed_avx512(float* y, const float* x, const PackedConvWeights& packed, int h, int w,
                                     const ConvEpilogue& epi, bool input_upsampled2x) {
  if (packed.co_block == 8)
    return winograd43_run<48, 16>(
        y, x, packed, h, w, epi, input_transform_16_tiles,
        [](int tiles) { return product_for<8, 3>((tiles + 15) / 16); }, input_upsampled2x,
        input_transform_16_tiles_direct, output_groups_16);
  winograd43_run<96, 16>(
      y, x, packed, h, w, epi, input_transform_16_tiles, [](int tiles) { return product_for<4, 6>((tiles + 15) / 16); },
      input_upsampled2x, input_transform_16_tiles_direct, output_groups_16);
}

int64_t winograd43_dense_block_elems_avx512(int channels, int h, int w) {
  return wavefront::kRingSlots * winograd43_dense_block_plan<48, 16>(channels, h, w).slot_elems;
}

void dense_block_winograd43_avx512(float* out, const float* x, const PackedConvWeights* const convs[5], int h, int w,
                                   float lrelu_slope, float residual_scale, float* ring, float* slices) {
  winograd43_dense_block<48, 16>(
      out, x, convs, h, w, lrelu_slope, residual_scale, ring, slices, input_transform_16_tiles_direct,
      [](int tiles) { return product_for<8, 3>((tiles + 15) / 16); }, output_groups_16);
}

}  // namespace microsr::kernels
