// The building blocks of conv_v10_winograd23_dpbf16 (conv/v10_winograd23_avx512bf16.cpp has the
// math and the layouts): the micro-kernel, the transforms of 16 tiles, and the three steps of a
// batch of tiles, shared by the single convolution and the dense block. Included by
// *_avx512bf16.cpp units only; in an anonymous namespace so that each compiles its own copy with
// its own flags (see conv/epilogue_avx2.h).
#pragma once
#include <immintrin.h>

#include <cstdint>

#include "cpu/conv/bf16_kernels.h"
#include "cpu/conv/common.h"
#include "cpu/conv/epilogue_avx512.h"
#include "cpu/conv/window_masks_avx512.h"

namespace microsr::kernels::winograd23 {
namespace {

constexpr int kTile = 2;                        // output tile side
constexpr int kWindow = 4;                      // input window side
constexpr int kPositions = 16;                  // ξ: 4x4 transformed positions
constexpr int kGroupTiles = 16;                 // tiles per zmm, the unit of the transforms
constexpr int kMaxVecs = 3;                     // zmm of tiles per micro-kernel call
constexpr int kBatch = kGroupTiles * kMaxVecs;  // tiles per batch
constexpr int kCo = kWinograd23Bf16CoBlock;     // output channels per micro-kernel call (8)

// m [kCo][m_stride] = Σ_pairs dot(u[pair][kCo][2], v[pair][16 NV tiles][2])   (overwrites m)
template <int NV>
__attribute__((noinline)) void batch_product(float* m, int64_t m_stride, const uint16_t* u, const uint16_t* v,
                                             int64_t v_stride, int pairs) {
  __m512 acc[kCo][NV];
#pragma GCC unroll 8
  for (int c = 0; c < kCo; ++c)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) acc[c][j] = _mm512_setzero_ps();
  for (int p = 0; p < pairs; ++p) {
    __m512bh t[NV];
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) t[j] = (__m512bh)_mm512_load_si512(v + 32 * j);
#pragma GCC unroll 8
    for (int c = 0; c < kCo; ++c) {
      int32_t pair_bits;
      __builtin_memcpy(&pair_bits, u + 2 * c, 4);
      const __m512bh uc = (__m512bh)_mm512_set1_epi32(pair_bits);
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) acc[c][j] = _mm512_dpbf16_ps(acc[c][j], t[j], uc);
    }
    u += 2 * kCo;
    v += v_stride;
  }
#pragma GCC unroll 8
  for (int c = 0; c < kCo; ++c)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) _mm512_store_ps(m + c * m_stride + 16 * j, acc[c][j]);
}

using ProductFn = void (*)(float*, int64_t, const uint16_t*, const uint16_t*, int64_t, int);
ProductFn product_for(int vecs) {
  return vecs >= 3 ? batch_product<3> : vecs == 2 ? batch_product<2> : batch_product<1>;
}

// o = B^T d on vectors of 16 tiles.
inline void input_transform_1d(__m512 o[4], const __m512 d[4]) {
  o[0] = _mm512_sub_ps(d[0], d[2]);
  o[1] = _mm512_add_ps(d[1], d[2]);
  o[2] = _mm512_sub_ps(d[2], d[1]);
  o[3] = _mm512_sub_ps(d[1], d[3]);
}

// V[ξ] (ξ = 4 i + j) for 16 horizontally adjacent tiles of one channel, from the four rows of their
// windows: row r's 34 floats p[0..33] start at rows_in[r] (null: a row of zeros, above or below
// the image), column j of tile t at p[2t + j]; lanes outside masks[k] (floats 16k .. 16k + 15, k < 2;
// masks[2]: p[32], p[33]) read as zeros and are never touched, so the windows may hang over the
// image's left and right edges. Columns 0 and 1 are p's even and odd floats (one 2-source permute
// each), columns 2 and 3 the same moved down one tile, with p[32], p[33] for the last tile.
inline void input_transform_16_tiles_rows(__m512 v[kPositions], const float* const rows_in[kWindow],
                                          const __mmask16 masks[3]) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  const __m512i next_tile = _mm512_setr_epi32(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16);
  const __m512i next_tile_1 = _mm512_setr_epi32(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 17);
  __m512 rows[kWindow][kWindow];  // rows[r]: B^T along window row r
  for (int r = 0; r < kWindow; ++r) {
    const float* p = rows_in[r];
    if (!p) {  // B^T 0 = 0
      for (int c = 0; c < kWindow; ++c) rows[r][c] = _mm512_setzero_ps();
      continue;
    }
    const __m512 a = _mm512_maskz_loadu_ps(masks[0], p), b = _mm512_maskz_loadu_ps(masks[1], p + 16);
    const __m512 tail = _mm512_maskz_loadu_ps(masks[2], p + 32);  // p[32], p[33] in lanes 0, 1
    __m512 d[4];
    d[0] = _mm512_permutex2var_ps(a, even, b);
    d[1] = _mm512_permutex2var_ps(a, odd, b);
    d[2] = _mm512_permutex2var_ps(d[0], next_tile, tail);    // lane 15 <- p[32]
    d[3] = _mm512_permutex2var_ps(d[1], next_tile_1, tail);  // lane 15 <- p[33]
    input_transform_1d(rows[r], d);
  }
  for (int j = 0; j < kWindow; ++j) {
    const __m512 column[4] = {rows[0][j], rows[1][j], rows[2][j], rows[3][j]};
    __m512 out[4];
    input_transform_1d(out, column);
    for (int i = 0; i < kWindow; ++i) v[i * 4 + j] = out[i];
  }
}

// From a padded copy: window is the first tile's 4x4 window (the padded rows have slack).
inline void input_transform_16_tiles(__m512 v[kPositions], const float* window, int row_stride) {
  const float* rows[kWindow];
  for (int r = 0; r < kWindow; ++r) rows[r] = window + static_cast<int64_t>(r) * row_stride;
  const __mmask16 all[3] = {0xFFFF, 0xFFFF, 0x3};
  input_transform_16_tiles_rows(v, rows, all);
}

// The transformed pair (channel 2p: even, 2p + 1: odd) of 16 tiles, bf16, interleaved per tile:
// word 2t = bf16(even[t]), word 2t + 1 = bf16(odd[t]).
inline __m512i interleave_pair_bf16(__m512 even, __m512 odd) {
  alignas(64) static constexpr uint16_t kOrder[32] = {0, 16, 1, 17, 2,  18, 3,  19, 4,  20, 5,  21, 6,  22, 7,  23,
                                                      8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
  const __m512i order = _mm512_load_si512(kOrder);
  const __m512i halves = (__m512i)_mm512_cvtne2ps_pbh(odd, even);  // words 0-15: even, 16-31: odd
  return _mm512_permutexvar_epi16(order, halves);
}

// Y = A^T M A for 16 tiles of one output channel (m[ξ] at m + ξ m_stride): out[i][k] is output row
// i, pixels 16 k ... 16 k + 15 of the 32 the tiles cover.
inline void output_transform_16_tiles(__m512 out[kTile][2], const float* m, int64_t m_stride) {
  const __m512i first = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i second = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  __m512 t[kTile][kWindow];  // A^T along the window's rows: t[i][j] = Σ_r A^T[i][r] M[r][j]
  for (int j = 0; j < kWindow; ++j) {
    const __m512 m0 = _mm512_load_ps(m + (0 + j) * m_stride), m1 = _mm512_load_ps(m + (4 + j) * m_stride);
    const __m512 m2 = _mm512_load_ps(m + (8 + j) * m_stride), m3 = _mm512_load_ps(m + (12 + j) * m_stride);
    t[0][j] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
    t[1][j] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
  }
  for (int i = 0; i < kTile; ++i) {
    const __m512 y0 = _mm512_add_ps(_mm512_add_ps(t[i][0], t[i][1]), t[i][2]);  // column 0 of each tile
    const __m512 y1 = _mm512_sub_ps(_mm512_sub_ps(t[i][1], t[i][2]), t[i][3]);  // column 1
    out[i][0] = _mm512_permutex2var_ps(y0, first, y1);
    out[i][1] = _mm512_permutex2var_ps(y0, second, y1);
  }
}

// The tiling of an h x w output: tile rows, tile columns padded to whole 16-tile groups, the
// padded input's row stride, and the number of 16-tile groups (3 to a batch).
struct Geometry {
  int h = 0, w = 0, tile_rows = 0, tiles_per_row = 0, row_stride = 0;
  int64_t groups = 0;
};

Geometry geometry(int h, int w) {
  Geometry g;
  g.h = h, g.w = w;
  g.tile_rows = (h + kTile - 1) / kTile;
  g.tiles_per_row = ((w + kTile - 1) / kTile + kGroupTiles - 1) / kGroupTiles * kGroupTiles;
  g.row_stride = kTile * g.tiles_per_row + 2;  // + 2: the last tile's window reaches 2 columns on
  g.groups = static_cast<int64_t>(g.tile_rows) * g.tiles_per_row / kGroupTiles;
  return g;
}

// Channels [0, channels) of one 16-tile group into v [16 ξ][pair][row_tiles][2] at dst (the group's
// first tile), a channel pair at a time; an odd last channel is paired with zeros.
// transform_channel(__m512 out[16], int c) computes channel c's V.
template <class TransformChannel>
void transform_group_pairs(uint16_t* dst, int64_t v_per_position, int64_t row_tiles, int channels,
                           TransformChannel transform_channel) {
  for (int p = 0; p < (channels + 1) / 2; ++p) {
    __m512 even[kPositions], odd[kPositions];
    transform_channel(even, 2 * p);
    if (2 * p + 1 < channels)
      transform_channel(odd, 2 * p + 1);
    else
      for (int xi = 0; xi < kPositions; ++xi) odd[xi] = _mm512_setzero_ps();  // the pad channel
    uint16_t* pair = dst + static_cast<int64_t>(p) * row_tiles * 2;
    for (int xi = 0; xi < kPositions; ++xi)
      _mm512_store_si512(pair + xi * v_per_position, interleave_pair_bf16(even[xi], odd[xi]));
  }
}

// 1. Input transform of channels [0, channels) of the padded copy `in` (rows of geo.tiles_per_row
// tiles) for the groups [first_group, + batch_groups): v [16 ξ][pair][row_tiles][2] from the run's
// first tile (ξ stride v_per_position; row_tiles: the batch's width, or a dense-block band's).
// Only the fused x2 upsampling fills a padded copy; the rest reads the activations (below).
void transform_batch(uint16_t* v, int64_t v_per_position, int64_t row_tiles, const detail::PaddedInput& in,
                     int channels, const Geometry& geo, int64_t first_group, int batch_groups) {
  for (int g = 0; g < batch_groups; ++g) {
    const int64_t tile = kGroupTiles * (first_group + g);
    const int64_t tr = tile / geo.tiles_per_row, tc = tile % geo.tiles_per_row;
    const float* window = in.data + kTile * tr * in.row_stride + kTile * tc;
    transform_group_pairs(v + kGroupTiles * 2 * g, v_per_position, row_tiles, channels, [&](__m512* out, int c) {
      input_transform_16_tiles(out, window + c * in.plane, in.row_stride);
    });
  }
}

// 1'. The same straight from the activations x [channels][h][w], no copy: masked loads where a
// group's windows overhang the image's left or right edge, zero rows above and below it (the same
// values as the padded copy's, so the same bits). first_group counts from the image's first group.
void transform_batch_direct(uint16_t* v, int64_t v_per_position, int64_t row_tiles, const float* x, int channels,
                            const Geometry& geo, int64_t first_group, int batch_groups) {
  const int64_t plane = static_cast<int64_t>(geo.h) * geo.w;
  for (int g = 0; g < batch_groups; ++g) {
    const int64_t tile = kGroupTiles * (first_group + g);
    const int row0 = static_cast<int>(kTile * (tile / geo.tiles_per_row)) - 1;
    const int col0 = static_cast<int>(kTile * (tile % geo.tiles_per_row)) - 1;
    __mmask16 masks[3];
    detail::window_masks<3>(masks, col0, geo.w);
    transform_group_pairs(v + kGroupTiles * 2 * g, v_per_position, row_tiles, channels, [&](__m512* out, int c) {
      const float* rows[kWindow];
      for (int r = 0; r < kWindow; ++r) {
        const int iy = row0 + r;
        rows[r] = iy >= 0 && iy < geo.h ? x + c * plane + static_cast<int64_t>(iy) * geo.w + col0 : nullptr;
      }
      input_transform_16_tiles_rows(out, rows, masks);
    });
  }
}

// 2. The 16 products per block of 8 output channels, over the packed weights' channel pairs:
// m [16 ξ][co][kBatch] (ξ stride m_per_position) from v as transform_batch wrote it.
void products_batch(float* m, int64_t m_per_position, const PackedBf16ConvWeights& packed, const uint16_t* v,
                    int64_t v_per_position, int64_t row_tiles, int batch_groups) {
  const int pairs = (packed.cin + 1) / 2, co_blocks = (packed.cout + kCo - 1) / kCo;
  const int64_t u_per_position = static_cast<int64_t>(co_blocks) * pairs * 2 * kCo;
  const ProductFn product = product_for(batch_groups);  // fewer than 3 groups: a narrower kernel
  for (int xi = 0; xi < kPositions; ++xi)
    for (int cb = 0; cb < co_blocks; ++cb)
      product(m + xi * m_per_position + cb * kCo * kBatch, kBatch,
              packed.winograd23.data() + xi * u_per_position + static_cast<int64_t>(cb) * pairs * 2 * kCo,
              v + xi * v_per_position, row_tiles * 2, pairs);
}

// 3. Output transform + epilogue into y [cout][h][w], 16 tiles (2 rows of 32 pixels) at a time.
void output_batch(float* y, const float* m, int64_t m_per_position, const PackedBf16ConvWeights& packed,
                  const ConvEpilogue& epi, const Geometry& geo, int64_t first_group, int batch_groups) {
  const int64_t out_plane = static_cast<int64_t>(geo.h) * geo.w;
  __m512 out[kTile][2];
  for (int co = 0; co < packed.cout; ++co) {
    const __m512 bias = _mm512_set1_ps(packed.bias[co]);
    for (int g = 0; g < batch_groups; ++g) {
      const int64_t tile = kGroupTiles * (first_group + g);
      const int64_t tr = tile / geo.tiles_per_row, tc = tile % geo.tiles_per_row;
      const int ox = static_cast<int>(kTile * tc), n = geo.w - ox < 32 ? geo.w - ox : 32;
      if (n <= 0) continue;  // a padding group right of the image
      output_transform_16_tiles(out, m + co * kBatch + kGroupTiles * g, m_per_position);
      for (int i = 0; i < kTile; ++i) {
        const int64_t oy = kTile * tr + i;
        if (oy >= geo.h) break;
        detail::store_row_zmm(y, out[i], n, bias, epi, co * out_plane + oy * geo.w + ox);
      }
    }
  }
}

}  // namespace
}  // namespace microsr::kernels::winograd23
