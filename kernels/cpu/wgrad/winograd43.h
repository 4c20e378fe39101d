// Pieces shared by the Winograd F(4x4, 3x3) weight-gradient kernels
// (wgrad/v2_winograd43.cpp, wgrad/v3_winograd43_outer.cpp): the transform of
// dy tiles (A dY A^T) and the final G^T M G that turns the 36 summed products into a 3x3 kernel
// gradient. The math is at the top of wgrad/v2_winograd43.cpp.
#pragma once
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "cpu/conv/winograd43_transforms.h"
#include "cpu/wgrad/common.h"

namespace microsr::kernels::winograd43_backward {
// Anonymous: every ISA translation unit compiles its own private copy (see conv/epilogue_avx2.h).
namespace {

using namespace winograd43;

// The tile geometry both Winograd weight-gradient variants walk (the layout is described at the top
// of wgrad/v2_winograd43.cpp): 4x4 output tiles, tile_rows x tiles_per_row per image with the tile
// columns padded to a multiple of 8, so every group of 8 consecutive tiles lies in one tile row;
// groups are numbered across the whole batch, image-major. Padded x: [n·cin] planes with a zero
// border of 1 at top and left and rows of x_stride = 4·tiles_per_row + 4 floats (+ 4: the shifted
// deinterleave's overreach); padded dy: [n·cout] planes with rows of dy_stride = 4·tiles_per_row
// floats, zero past the image.
struct TileGrid {
  int cin = 0, cout = 0;
  int tile_rows = 0, tiles_per_row = 0, x_stride = 0, dy_stride = 0;
  int64_t groups_per_image = 0, groups = 0;
  detail::PaddedInput x, dy;

  // Lays the padded copies out in the given scratch (grown, never shrunk); fill() fills them.
  TileGrid(std::vector<float>& x_scratch, std::vector<float>& dy_scratch, int n, int cin_, int cout_, int h, int w)
      : cin(cin_), cout(cout_) {
    tile_rows = (h + kTile - 1) / kTile;
    tiles_per_row = ((w + kTile - 1) / kTile + 7) / 8 * 8;
    x_stride = kTile * tiles_per_row + 4, dy_stride = kTile * tiles_per_row;
    x = detail::layout_padded_input(x_scratch, n * cin, kTile * tile_rows + 2, x_stride, 0);
    dy = detail::layout_padded_input(dy_scratch, n * cout, kTile * tile_rows, dy_stride, 0);
    groups_per_image = static_cast<int64_t>(tile_rows) * tiles_per_row / 8;
    groups = n * groups_per_image;
  }
  // Copies the batch into the padded layouts. Work-shares with an orphaned `omp for`: call it
  // from every thread of a parallel region (it ends with a barrier).
  void fill(ImageBatch x_batch, ImageBatch dy_batch, int n, int h, int w) const {
    detail::fill_padded_batches({x, x_batch, cin, 1, 1, 0}, {dy, dy_batch, cout, 0, 0, 0}, n, h, w);
  }
  // Channel ci of padded x at the top-left of the 6x6 window of group g's first tile.
  const float* x_window(int64_t g, int ci) const { return origin(g, x, cin, x_stride) + ci * x.plane; }
  // Channel co of padded dy at the top-left of group g's first tile.
  const float* dy_tile(int64_t g, int co) const { return origin(g, dy, cout, dy_stride) + co * dy.plane; }

 private:
  const float* origin(int64_t g, const detail::PaddedInput& padded, int channels, int row_stride) const {
    const int64_t image = g / groups_per_image, tile = 8 * (g % groups_per_image);
    const int64_t tr = tile / tiles_per_row, tc = tile % tiles_per_row;
    return padded.data + image * channels * padded.plane + kTile * tr * row_stride + kTile * tc;
  }
};

// o = A d for one column of 4 values, A = [1 0 0 0; 1 1 1 1; 1 -1 1 -1; 1 2 4 8; 1 -2 4 -8;
// 0 0 0 1] (A^T is the forward's output transform).
inline void gradient_transform_1d(__m256 o[6], const __m256 d[4]) {
  const __m256 even = _mm256_add_ps(d[0], d[2]), odd = _mm256_add_ps(d[1], d[3]);
  const __m256 even4 = _mm256_fmadd_ps(_mm256_set1_ps(4.0f), d[2], d[0]);                      // d0 + 4 d2
  const __m256 odd8 = _mm256_fmadd_ps(_mm256_set1_ps(8.0f), d[3], _mm256_add_ps(d[1], d[1]));  // 2 d1 + 8 d3
  o[0] = d[0];
  o[1] = _mm256_add_ps(even, odd);
  o[2] = _mm256_sub_ps(even, odd);
  o[3] = _mm256_add_ps(even4, odd8);
  o[4] = _mm256_sub_ps(even4, odd8);
  o[5] = d[3];
}

// D[ξ][8 tiles] = A dY A^T for 8 horizontally adjacent 4x4 tiles of one dy channel.
//   tile: padded dy at the first tile's top-left; d: D + ξ·d_stride.
inline void gradient_transform_8_tiles(float* d, int64_t d_stride, const float* tile, int row_stride) {
  __m256 rows[kTile][kWindow];  // rows[r][c]: A applied along dy row r
  for (int r = 0; r < kTile; ++r) {
    __m256 columns[kTile];
    deinterleave4(columns, tile + static_cast<int64_t>(r) * row_stride);
    gradient_transform_1d(rows[r], columns);
  }
  for (int c = 0; c < kWindow; ++c) {
    const __m256 column[kTile] = {rows[0][c], rows[1][c], rows[2][c], rows[3][c]};
    __m256 out[kWindow];
    gradient_transform_1d(out, column);
    for (int r = 0; r < kWindow; ++r) _mm256_store_ps(d + (r * 6 + c) * d_stride, out[r]);
  }
}

// o[j] = Σ_ξ G[ξ][j] m[ξ], j < 3 (G^T applied to a column of 6).
inline void kernel_gradient_1d(__m256 o[3], const __m256 m[6]) {
  for (int j = 0; j < 3; ++j) {
    __m256 sum = _mm256_mul_ps(_mm256_set1_ps(static_cast<float>(kG[0][j])), m[0]);
    for (int xi = 1; xi < 6; ++xi)
      if (kG[xi][j] != 0.0) sum = _mm256_fmadd_ps(_mm256_set1_ps(static_cast<float>(kG[xi][j])), m[xi], sum);
    o[j] = sum;
  }
}

// dw[co][ci][3][3] += G^T M G for 8 (or `count`) consecutive output channels co0.. of one input
// channel ci, M summed over the threads' partial products: M[ξ][ci][co] of part p is at
// m_parts[p] + ξ·m_position + co (m_parts already point at row ci).
inline void add_kernel_gradients(float* dw, const std::vector<const float*>& m_parts, int64_t m_position, int cin,
                                 int co0, int count, int ci) {
  __m256 m[kPositions];
  for (int xi = 0; xi < kPositions; ++xi) {
    __m256 sum = _mm256_setzero_ps();
    for (const float* part : m_parts) {
      const float* src = part + xi * m_position + co0;
      if (count == 8) {
        sum = _mm256_add_ps(sum, _mm256_loadu_ps(src));
      } else {
        alignas(32) float lanes[8] = {};
        std::copy(src, src + count, lanes);
        sum = _mm256_add_ps(sum, _mm256_load_ps(lanes));
      }
    }
    m[xi] = sum;
  }
  __m256 half[kWindow][3];  // half[r][kx] = Σ_c M[r][c] G[c][kx]
  for (int r = 0; r < kWindow; ++r) kernel_gradient_1d(half[r], m + r * 6);
  alignas(32) float out[9][8];
  for (int kx = 0; kx < 3; ++kx) {
    const __m256 column[kWindow] = {half[0][kx], half[1][kx], half[2][kx], half[3][kx], half[4][kx], half[5][kx]};
    __m256 g[3];
    kernel_gradient_1d(g, column);
    for (int ky = 0; ky < 3; ++ky) _mm256_store_ps(out[ky * 3 + kx], g[ky]);
  }
  for (int c = 0; c < count; ++c) {
    float* dst = dw + (static_cast<int64_t>(co0 + c) * cin + ci) * 9;
    for (int tap = 0; tap < 9; ++tap) dst[tap] += out[tap][c];
  }
}

}  // namespace
}  // namespace microsr::kernels::winograd43_backward
