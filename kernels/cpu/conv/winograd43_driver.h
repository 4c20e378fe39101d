// The Winograd F(4x4, 3x3) convolution around its products, shared by conv_v3/v4 (AVX2,
// conv/v3_winograd43_avx2.cpp: the math and the layouts are described there) and conv_v5
// (AVX-512, conv/v5_winograd43_avx512.cpp), which differ only in the products' micro-kernel and
// batch width. Included by ISA translation units only; in an anonymous namespace so that each
// compiles its own copy with its own flags (see conv/epilogue_avx2.h).
#pragma once
#include <immintrin.h>
#include <omp.h>

#include <cstdint>

#include "cpu/conv/common.h"
#include "cpu/conv/epilogue_avx2.h"
#include "cpu/conv/winograd43_transforms.h"
#include "cpu/threads.h"

namespace microsr::kernels::winograd43 {
namespace {

// m [co_block channels][m_stride] = Σ_ci u[ci][co_block] * v[ci][tiles]  (overwrites m); v rows
// are v_stride floats apart.
using ProductFn = void (*)(float* m, int64_t m_stride, const float* u, const float* v, int64_t v_stride, int cin);

// The input transform of one channel for kGroupTiles horizontally adjacent tiles (8: the AVX2
// input_transform_8_tiles; 16: v5's zmm version): V[ξ][tiles] at v + ξ*v_stride.
using InputTransformFn = void (*)(float* v, int64_t v_stride, const float* window, int row_stride);

// The whole convolution: batches of at most kBatch tiles (a multiple of kGroupTiles, the tiles one
// input transform call handles, which lie in one tile row); pick_product(tiles) returns the
// micro-kernel for a batch of `tiles` tiles (a thread's last batch may be narrower), computing
// co_block = packed.co_block output channels per call. With input_upsampled2x, x is
// [cin][h/2][w/2] and the convolution runs on its nearest x2 upsampling, filled straight into the
// padded copy (h, w even; the same bits as upsampling first).
template <int kBatch, int kGroupTiles, class PickProduct>
void winograd43_run(float* y, const float* x, const PackedConvWeights& packed, int h, int w, const ConvEpilogue& epi,
                    InputTransformFn input_transform, PickProduct pick_product, bool input_upsampled2x) {
  static_assert(kBatch % kGroupTiles == 0 && kGroupTiles % 8 == 0);
  constexpr int kGroups = kBatch / kGroupTiles;  // groups per batch
  const int cin = packed.cin, cout = packed.cout, co_block = packed.co_block;
  const int tile_rows = (h + kTile - 1) / kTile;
  const int tiles_per_row = ((w + kTile - 1) / kTile + kGroupTiles - 1) / kGroupTiles * kGroupTiles;
  const int row_stride = kTile * tiles_per_row + 4;  // + 4: the shifted deinterleave's overreach
  const detail::PaddedInput in =
      detail::layout_padded_input(detail::thread_scratch(0), cin, kTile * tile_rows + 2, row_stride, 0);
  const int64_t groups = static_cast<int64_t>(tile_rows) * tiles_per_row / kGroupTiles;
  const int co_blocks = (cout + co_block - 1) / co_block;
  const int64_t u_per_position = static_cast<int64_t>(co_blocks) * cin * co_block;
  const int64_t v_per_position = static_cast<int64_t>(cin) * kBatch;
  const int64_t m_per_position = static_cast<int64_t>(co_blocks) * co_block * kBatch;
  const int64_t out_plane = static_cast<int64_t>(h) * w;

#pragma omp parallel num_threads(team_size())
  {
    // Per-thread V and M for one batch (64-byte aligned, reused across calls; conv/common.cpp).
    float* v = detail::thread_aligned_buffer(0, kPositions * v_per_position);
    float* m = detail::thread_aligned_buffer(1, kPositions * m_per_position);
    if (input_upsampled2x)
      detail::fill_padded_input_upsampled2x(in, x, cin, h, w, 1, 1, 0);  // ends with a barrier
    else
      detail::fill_padded_input(in, x, cin, h, w, 1, 1, 0);  // ends with a barrier

    // Each thread takes an equal share of the groups (so 2 threads split a 64x64 image's 32
    // 8-tile groups 16/16), cut into batches of at most kGroups groups, as equal as possible.
    const int thread = omp_get_thread_num(), threads = omp_get_num_threads();
    const int64_t my_first = groups * thread / threads, my_end = groups * (thread + 1) / threads;
    const int64_t my_batches = (my_end - my_first + kGroups - 1) / kGroups;
    for (int64_t batch = 0; batch < my_batches; ++batch) {
      const int64_t first_group = my_first + (my_end - my_first) * batch / my_batches;
      const int batch_groups =
          static_cast<int>(my_first + (my_end - my_first) * (batch + 1) / my_batches - first_group);

      // 1. Input transform: V[ξ][ci][tile in batch].
      for (int ci = 0; ci < cin; ++ci)
        for (int g = 0; g < batch_groups; ++g) {
          const int64_t tile = kGroupTiles * (first_group + g);
          const int64_t tr = tile / tiles_per_row, tc = tile % tiles_per_row;
          const float* window = in.data + ci * in.plane + kTile * tr * row_stride + kTile * tc;
          // The next channel's window (6 rows of 4 * kGroupTiles + 2 floats) is a plane away: out of the hardware
          // prefetcher's sight, and in L3 once the padded input outgrows L2 (128x128 and up).
          // It pays from 128x128 up and is neutral at 64x64. (Past the last channel it
          // points outside the buffer: harmless, prefetches never fault.)
          for (int r = 0; r < kWindow; ++r) {
            const char* row = reinterpret_cast<const char*>(window + in.plane + r * row_stride);
            constexpr int kRowBytes = (4 * kGroupTiles + 2) * 4;  // 8 tiles: 36 floats
            for (int offset = 0; offset < kRowBytes; offset += 64) _mm_prefetch(row + offset, _MM_HINT_T0);
            _mm_prefetch(row + kRowBytes - 1, _MM_HINT_T0);  // the row's last float
          }
          input_transform(v + ci * kBatch + kGroupTiles * g, v_per_position, window, row_stride);
        }

      // 2. The 36 products M[ξ][co][tile] = Σ_ci U[ξ][co][ci] V[ξ][ci][tile].
      const ProductFn product = pick_product(kGroupTiles * batch_groups);
      for (int xi = 0; xi < kPositions; ++xi)
        for (int cb = 0; cb < co_blocks; ++cb)
          product(m + xi * m_per_position + cb * co_block * kBatch, kBatch,
                  packed.data.data() + xi * u_per_position + static_cast<int64_t>(cb) * cin * co_block,
                  v + xi * v_per_position, kBatch, cin);

      // 3. Output transform + epilogue, 8 tiles (32 pixels of 4 rows) at a time.
      alignas(32) float out[kTile][32];
      for (int co = 0; co < cout; ++co)
        for (int g = 0; g < batch_groups * kGroupTiles / 8; ++g) {
          const int64_t tile = kGroupTiles * first_group + 8 * g;
          const int64_t tr = tile / tiles_per_row, tc = tile % tiles_per_row;
          const int ox = static_cast<int>(kTile * tc), n = w - ox < 32 ? w - ox : 32;
          if (n <= 0) continue;  // a padding group right of the image
          output_transform_8_tiles(out, m + co * kBatch + 8 * g, m_per_position);
          for (int i = 0; i < kTile; ++i) {
            const int64_t oy = kTile * tr + i;
            if (oy >= h) break;
            detail::store_row_segment(y, out[i], n, packed.bias[co], epi, co * out_plane + oy * w + ox);
          }
        }
    }
  }
}

}  // namespace
}  // namespace microsr::kernels::winograd43
