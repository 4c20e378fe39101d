// The Winograd F(4x4, 3x3) convolution around its products, shared by conv_v3/v4 (AVX2,
// conv/v3_winograd43_avx2.cpp: the math and the layouts are described there) and conv_v5
// (AVX-512, conv/v5_winograd43_avx512.cpp), which differ in the products' micro-kernel, the
// batch width and the transforms' vector width; and RRDBNet's dense block in one call
// (winograd43_dense_block). Included by ISA
// translation units only; in an anonymous namespace so that each compiles its own copy with its
// own flags (see conv/epilogue_avx2.h).
#pragma once
#include <immintrin.h>
#include <omp.h>

#include <cstdint>
#include <type_traits>

#include "cpu/conv/common.h"
#include "cpu/conv/dense_block_wavefront.h"
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

// The same straight from the unpadded channel plane [h][w] (no padded copy): the windows'
// top-left corner is (row0, col0), which may lie outside the image (zeros there). Planes hold
// floats, or fp16 bit patterns (uint16_t) where the activations are stored in fp16 (conv/fp16.h).
template <class Plane = float>
using DirectTransformFn = void (*)(float* v, int64_t v_stride, const Plane* plane, int h, int w, int row0, int col0);

// The three steps of a run of tile groups (a group: kGroupTiles tiles in one tile row, the unit of
// input_transform; a run: at most one batch of the micro-kernel), shared by the single convolution
// (winograd43_run) and the dense block (winograd43_dense_block). V rows (one channel at one ξ) hold
// row_tiles tiles: the batch's width for one convolution, the band's for the dense block.

// 1. Input transform of channels [0, channels) of the padded copy `in` (rows of tiles_per_row
// tiles) for the groups [first_group, + groups): V[ξ][channel][tile] at v (the run's first tile),
// ξ stride v_per_position.
template <int kGroupTiles>
void transform_groups(float* v, int64_t v_per_position, int64_t row_tiles, const detail::PaddedInput& in, int channels,
                      int tiles_per_row, int64_t first_group, int groups, InputTransformFn input_transform) {
  for (int ci = 0; ci < channels; ++ci)
    for (int g = 0; g < groups; ++g) {
      const int64_t tile = kGroupTiles * (first_group + g);
      const int64_t tr = tile / tiles_per_row, tc = tile % tiles_per_row;
      const float* window = in.data + ci * in.plane + kTile * tr * in.row_stride + kTile * tc;
      // The next channel's window (6 rows of 4 * kGroupTiles + 2 floats) is a plane away: out of the hardware
      // prefetcher's sight, and in L3 once the padded input outgrows L2 (128x128 and up).
      // It pays from 128x128 up and is neutral at 64x64. (Past the last channel it
      // points outside the buffer: harmless, prefetches never fault.)
      for (int r = 0; r < kWindow; ++r) {
        const char* row = reinterpret_cast<const char*>(window + in.plane + r * in.row_stride);
        constexpr int kRowBytes = (4 * kGroupTiles + 2) * 4;  // 8 tiles: 36 floats
        for (int offset = 0; offset < kRowBytes; offset += 64) _mm_prefetch(row + offset, _MM_HINT_T0);
        _mm_prefetch(row + kRowBytes - 1, _MM_HINT_T0);  // the row's last float
      }
      input_transform(v + ci * row_tiles + kGroupTiles * g, v_per_position, window, in.row_stride);
    }
}

// 1'. The same from the unpadded input x [channels][h][w] (floats or fp16).
template <int kGroupTiles, class Plane>
void transform_groups_direct(float* v, int64_t v_per_position, int64_t row_tiles, const Plane* x, int channels, int h,
                             int w, int tiles_per_row, int64_t first_group, int groups,
                             DirectTransformFn<Plane> transform) {
  const int64_t plane = static_cast<int64_t>(h) * w;
  for (int ci = 0; ci < channels; ++ci)
    for (int g = 0; g < groups; ++g) {
      const int64_t tile = kGroupTiles * (first_group + g);
      const int row0 = static_cast<int>(kTile * (tile / tiles_per_row)) - 1;
      const int col0 = static_cast<int>(kTile * (tile % tiles_per_row)) - 1;
      // The next channel's rows are a plane away (see transform_groups).
      if (ci + 1 < channels)
        for (int r = 0; r < kWindow; ++r) {
          const int iy = row0 + r;
          if (iy < 0 || iy >= h) continue;
          const char* row = reinterpret_cast<const char*>(x + (ci + 1) * plane + static_cast<int64_t>(iy) * w + col0);
          constexpr int kRowBytes = (4 * kGroupTiles + 2) * sizeof(Plane);
          for (int offset = 0; offset < kRowBytes; offset += 64) _mm_prefetch(row + offset, _MM_HINT_T0);
          _mm_prefetch(row + kRowBytes - 1, _MM_HINT_T0);
        }
      transform(v + ci * row_tiles + kGroupTiles * g, v_per_position, x + ci * plane, h, w, row0, col0);
    }
}

// 2. The 36 products M[ξ][co][tile] = Σ_ci U[ξ][co][ci] V[ξ][ci][tile] for `tiles` tiles from v
// (as transform_groups wrote it), into m [36 ξ][co][m_row] (ξ stride m_per_position), co_block
// output channels per micro-kernel call.
template <class PickProduct>
void products_groups(float* m, int64_t m_per_position, int m_row, const PackedConvWeights& packed, const float* v,
                     int64_t v_per_position, int64_t row_tiles, int tiles, PickProduct pick_product) {
  const int cin = packed.cin, co_block = packed.co_block, co_blocks = (packed.cout + co_block - 1) / co_block;
  const int64_t u_per_position = static_cast<int64_t>(co_blocks) * cin * co_block;
  const ProductFn product = pick_product(tiles);
  for (int xi = 0; xi < kPositions; ++xi)
    for (int cb = 0; cb < co_blocks; ++cb)
      product(m + xi * m_per_position + cb * co_block * m_row, m_row,
              packed.data.data() + xi * u_per_position + static_cast<int64_t>(cb) * cin * co_block,
              v + xi * v_per_position, row_tiles, cin);
}

// 3. Output transform + epilogue of `tiles` tiles from first_tile (a multiple of kGroup, in rows of
// tiles_per_row) into y [cout][h][w], kGroup tiles (4 rows of 4 kGroup pixels) at a time:
// for every output channel co and group, transform_group(co, m_group, rows) returns the group's
// transformed rows, and store_row(co, row, n, index) stores row i's first n pixels at y + index.
template <int kGroup, class TransformGroup, class StoreRow>
void for_output_groups(const float* m, int m_row, int cout, int h, int w, int tiles_per_row, int64_t first_tile,
                       int tiles, TransformGroup transform_group, StoreRow store_row) {
  const int64_t out_plane = static_cast<int64_t>(h) * w;
  for (int co = 0; co < cout; ++co)
    for (int g = 0; g < tiles / kGroup; ++g) {
      const int64_t tile = first_tile + kGroup * g;
      const int64_t tr = tile / tiles_per_row, tc = tile % tiles_per_row;
      const int ox = static_cast<int>(kTile * tc), n = w - ox < 4 * kGroup ? w - ox : 4 * kGroup;
      if (n <= 0) continue;  // a padding group right of the image
      const auto& rows = transform_group(co, m + co * m_row + kGroup * g);
      for (int i = 0; i < kTile; ++i) {
        const int64_t oy = kTile * tr + i;
        if (oy >= h) break;
        store_row(co, rows[i], n, co * out_plane + oy * w + ox);
      }
    }
}

// The AVX2 output step, 8 tiles per ymm, through a stack buffer, into fp32 or fp16 (Out = uint16_t:
// conv/fp16.h) outputs. (conv_v5 passes its own, 16 tiles per zmm from registers: output_groups_16
// in conv/v5_winograd43_avx512.cpp.)
template <class Out = float>
using OutputFn = void (*)(Out* y, const float* m, int64_t m_per_position, int m_row, const PackedConvWeights& packed,
                          const ConvEpilogue& epi, int h, int w, int tiles_per_row, int64_t first_tile, int tiles);
template <class Out = float>
void output_groups(Out* y, const float* m, int64_t m_per_position, int m_row, const PackedConvWeights& packed,
                   const ConvEpilogue& epi, int h, int w, int tiles_per_row, int64_t first_tile, int tiles) {
  alignas(32) float out[kTile][32];
  for_output_groups<8>(
      m, m_row, packed.cout, h, w, tiles_per_row, first_tile, tiles,
      [&](int, const float* m_group) -> const float(&)[kTile][32] {
        output_transform_8_tiles(out, m_group, m_per_position);
        return out;
      },
      [&](int co, const float* row, int n, int64_t index) {
        detail::store_row_segment(y, row, n, packed.bias[co], epi, index);
      });
}

// The whole convolution: batches of at most kBatch tiles (a multiple of kGroupTiles, the tiles one
// input transform call handles, which lie in one tile row); pick_product(tiles) returns the
// micro-kernel for a batch of `tiles` tiles (a thread's last batch may be narrower), computing
// co_block = packed.co_block output channels per call. With input_upsampled2x, x is
// [cin][h/2][w/2] and the convolution runs on its nearest x2 upsampling, filled straight into the
// padded copy (h, w even; the same bits as upsampling first) and read by input_transform;
// otherwise there is no padded copy: direct_transform reads x itself, zeros outside (the same bits).
// With fp16 storage (conv/fp16.h), x (In) and/or y (Out) hold fp16 bit patterns (uint16_t); then
// there is no fused upsampling.
template <int kBatch, int kGroupTiles, class PickProduct, class In = float, class Out = float>
void winograd43_run(Out* y, const In* x, const PackedConvWeights& packed, int h, int w, const ConvEpilogue& epi,
                    InputTransformFn input_transform, PickProduct pick_product, bool input_upsampled2x,
                    DirectTransformFn<In> direct_transform, OutputFn<Out> output = output_groups<Out>) {
  static_assert(kBatch % kGroupTiles == 0 && kGroupTiles % 8 == 0);
  constexpr int kGroups = kBatch / kGroupTiles;  // groups per batch
  const int cin = packed.cin, cout = packed.cout, co_block = packed.co_block;
  const int tile_rows = (h + kTile - 1) / kTile;
  const int tiles_per_row = ((w + kTile - 1) / kTile + kGroupTiles - 1) / kGroupTiles * kGroupTiles;
  const int row_stride = kTile * tiles_per_row + 4;  // + 4: the shifted deinterleave's overreach
  const detail::PaddedInput in = input_upsampled2x ? detail::layout_padded_input(detail::thread_scratch(0), cin,
                                                                                 kTile * tile_rows + 2, row_stride, 0)
                                                   : detail::PaddedInput{};
  const int64_t groups = static_cast<int64_t>(tile_rows) * tiles_per_row / kGroupTiles;
  const int co_blocks = (cout + co_block - 1) / co_block;
  const int64_t v_per_position = static_cast<int64_t>(cin) * kBatch;
  const int64_t m_per_position = static_cast<int64_t>(co_blocks) * co_block * kBatch;

#pragma omp parallel num_threads(team_size())
  {
    // Per-thread V and M for one batch (64-byte aligned, reused across calls; conv/common.cpp).
    float* v = detail::thread_aligned_buffer(0, kPositions * v_per_position);
    float* m = detail::thread_aligned_buffer(1, kPositions * m_per_position);
    if constexpr (std::is_same_v<In, float>)
      if (input_upsampled2x) detail::fill_padded_input_upsampled2x(in, x, cin, h, w, 1, 1, 0);  // ends with a barrier

    // Each thread takes an equal share of the groups (so 2 threads split a 64x64 image's 32
    // 8-tile groups 16/16), cut into batches of at most kGroups groups, as equal as possible.
    const int thread = omp_get_thread_num(), threads = omp_get_num_threads();
    const int64_t my_first = groups * thread / threads, my_end = groups * (thread + 1) / threads;
    const int64_t my_batches = (my_end - my_first + kGroups - 1) / kGroups;
    for (int64_t batch = 0; batch < my_batches; ++batch) {
      const int64_t first_group = my_first + (my_end - my_first) * batch / my_batches;
      const int batch_groups =
          static_cast<int>(my_first + (my_end - my_first) * (batch + 1) / my_batches - first_group);
      if (input_upsampled2x)
        transform_groups<kGroupTiles>(v, v_per_position, kBatch, in, cin, tiles_per_row, first_group, batch_groups,
                                      input_transform);
      else
        transform_groups_direct<kGroupTiles>(v, v_per_position, kBatch, x, cin, h, w, tiles_per_row, first_group,
                                             batch_groups, direct_transform);
      products_groups(m, m_per_position, kBatch, packed, v, v_per_position, kBatch, kGroupTiles * batch_groups,
                      pick_product);
      output(y, m, m_per_position, kBatch, packed, epi, h, w, tiles_per_row, kGroupTiles * first_group,
             kGroupTiles * batch_groups);
    }
  }
}

// RRDBNet's dense block with each channel transformed once, as a wavefront over bands of tile rows
// (conv/dense_block_wavefront.h has the schedule and the layouts): convs[j] are nf + j g -> g
// (conv5: -> nf) 3x3 layers packed with one co_block; ring: winograd43_dense_block_elems floats
// (64-byte aligned); slices [4][g][h][w]. The same bits as the five winograd43_run calls: each tile's
// transform, sums over ci in the same order, and output are the same arithmetic.
template <int kBatch, int kGroupTiles>
wavefront::Plan winograd43_dense_block_plan(int channels, int h, int w) {
  return wavefront::make_plan(h, w, kTile, kGroupTiles, kBatch / kGroupTiles, kPositions, channels, 4);
}

template <int kBatch, int kGroupTiles, class PickProduct>
void winograd43_dense_block(float* out, const float* x, const PackedConvWeights* const convs[5], int h, int w,
                            float lrelu_slope, float residual_scale, float* ring, float* slices,
                            DirectTransformFn<> direct_transform, PickProduct pick_product,
                            OutputFn<> output = output_groups<>) {
  const int nf = convs[0]->cin, g = convs[0]->cout, channels = nf + 4 * g, widest = nf > g ? nf : g;
  const int co_block = convs[0]->co_block;
  const wavefront::Plan plan = winograd43_dense_block_plan<kBatch, kGroupTiles>(channels, h, w);
  const int64_t v_per_position = static_cast<int64_t>(channels) * plan.band_tiles;
  const int64_t m_per_position = static_cast<int64_t>(widest + co_block - 1) / co_block * co_block * kBatch;

#pragma omp parallel num_threads(team_size())
  {
    float* m = detail::thread_aligned_buffer(1, kPositions * m_per_position);
    // Straight from the activations, no band copy: groups are counted from the image's first, and
    // band b's first lies b band_rows tile rows down.
    auto transform = [&](float* slot, int channel0, int count, int64_t first, int groups, const float* src, int b) {
      transform_groups_direct<kGroupTiles>(slot + channel0 * plan.band_tiles + kGroupTiles * first, v_per_position,
                                           plan.band_tiles, src, count, h, w, plan.tiles_per_row,
                                           static_cast<int64_t>(b) * plan.band_tiles / kGroupTiles + first, groups,
                                           direct_transform);
    };
    auto convolve = [&](int j, const float* slot, float* y, const ConvEpilogue& epi, int64_t first, int64_t image_first,
                        int groups) {
      products_groups(m, m_per_position, kBatch, *convs[j], slot + kGroupTiles * first, v_per_position, plan.band_tiles,
                      kGroupTiles * groups, pick_product);
      output(y, m, m_per_position, kBatch, *convs[j], epi, h, w, plan.tiles_per_row, kGroupTiles * image_first,
             kGroupTiles * groups);
    };
    wavefront::run(plan, out, x, nf, g, lrelu_slope, residual_scale, ring, slices, transform, convolve);
  }
}

}  // namespace
}  // namespace microsr::kernels::winograd43
