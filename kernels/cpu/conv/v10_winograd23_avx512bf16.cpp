// conv_v10_winograd23_dpbf16: the bf16 3x3 convolution for CPUs with AVX512_BF16 but no AMX (AMD
// Zen 4 and later), as Winograd F(2x2, 3x3) with the products in bf16 (vdpbf16ps).
//
// Why: on Zen 4 one vdpbf16ps does twice the multiply-adds of an fp32 FMA, but the fp32 path's
// Winograd F(4x4, 3x3) does 4x fewer of them than a direct convolution, so the direct bf16 kernel
// (conv_v8) could not pass fp32. Winograd in bf16 needs the small tile: F(4x4)'s transforms
// (points ±2, output weights up to 8) amplify the bf16 rounding of the transformed values ~9x over
// a direct bf16 convolution's error, F(2x2)'s (points 0, ±1: sums and differences only) ~1.5x
// (a numpy model of one 64 -> 32 layer; docs/performance.md has the measured PSNR). F(2x2) cuts the
// multiply-adds 2.25x against direct: 16 per 2x2 tile and channel pair instead of 36.
//
// Math (Lavin & Gray F(2,3)): each 2x2 output tile Y comes from the 4x4 input window d around it:
//   Y = A^T [ Σ_ci U_ci ⊙ V_ci ] A,   U = G g G^T (4x4, bf16),   V = B^T d B (4x4, fp32 -> bf16)
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]   G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1]
//   A^T = [1 1 1 0; 0 1 -1 -1]
// The 16 positions ξ are independent: M[ξ][co][tile] = Σ_ci U[ξ][co][ci] V[ξ][ci][tile].
// Rounding (what tests/test_conv_bf16_winograd.cpp reproduces): V is computed in fp32 from the fp32 input
// (rows first, then columns, in the order of input_transform_1d), then rounded to bf16 (nearest
// even); U in double from the fp32 weights, rounded to fp32 and then to bf16 (pack_winograd23_bf16);
// products exact, sums in fp32; the output transform and the epilogue in fp32.
//
// Memory layout
//   Tiles: tile (tr, tc) covers output rows 2tr, 2tr+1 and columns 2tc, 2tc+1; tile columns are
//   padded to a multiple of 16 (one zmm of tiles), numbered row-major, so 16 consecutive tiles lie
//   in one tile row.
//   Input (fp32): the activations [cin][h][w] themselves; tile (tr, tc)'s 4x4 window starts at row
//   2tr - 1, column 2tc - 1, and the transform reads zeros outside the image (masked loads at the
//   left and right edges, zero rows above and below: transform_batch_direct). Only the fused x2
//   upsampling fills a padded copy [cin][plane] (rows of 2*tiles_per_row + 2 floats, zero border
//   of 1 at top and left), the same values. Reading the activations directly, against a padded copy
//   (and, in the dense block, a padded copy of each band): 0.78x at 128², 0.82x at 64², 0.97x at
//   440² (fastest passes, Zen 4, 2 threads).
//   Weights U (packed.winograd23): [16 ξ][ceil(cout/8) co blocks][ceil(cin/2) pairs][8 co][2]
//   bf16: for one ξ and block, a channel pair's 8 output channels are 32 contiguous bytes (8 32-bit
//   broadcasts of (u[co][2p], u[co][2p+1])).
//   Per batch of up to 48 tiles (per thread): V [16 ξ][pairs][48 tiles][2] bf16 (a zmm load is 16
//   tiles x one channel pair, the layout vdpbf16ps multiplies pairwise), M [16 ξ][co][48] fp32.
//
// Micro-kernel: 8 output channels x 16*NV tiles (NV <= 3): 24 zmm accumulators; per channel pair
//   NV V loads + 8 weight broadcasts for 8 NV vdpbf16ps (2 multiply-adds per lane each).
// Threading (one convolution): as conv/winograd43_driver.h: each thread takes an equal share of the 16-tile groups in
// batches of at most 3 groups: input
//   transform -> 16 products per co block -> output transform + epilogue, so V and M stay in the
//   thread's L2. The dense block (below) runs as a wavefront over bands of rows instead.
//
// Compiled with the AVX-512 flags + -mavx512bf16 (CMakeLists.txt: the *_avx512bf16.cpp rule); run
// only when active_cpu_isa() >= avx512_bf16 (conv/bf16_dispatch.cpp).
#include <omp.h>

#include <cstdint>
#include <cstring>

#include "cpu/conv/dense_block_wavefront.h"
#include "cpu/conv/winograd23_bf16_avx512.h"
#include "cpu/threads.h"

namespace microsr::kernels {

using namespace winograd23;

void conv2d_winograd23_bf16_avx512bf16(float* y, const float* x, const PackedBf16ConvWeights& packed, int h, int w,
                                       const ConvEpilogue& epi, bool input_upsampled2x) {
  const int cin = packed.cin, pairs = (cin + 1) / 2, co_blocks = (packed.cout + kCo - 1) / kCo;
  const Geometry geo = geometry(h, w);
  // Only the fused x2 upsampling fills a padded copy; otherwise the transforms read x itself.
  const detail::PaddedInput in =
      input_upsampled2x
          ? detail::layout_padded_input(detail::thread_scratch(0), cin, kTile * geo.tile_rows + 2, geo.row_stride, 0)
          : detail::PaddedInput{};
  const int64_t v_per_position = static_cast<int64_t>(pairs) * kBatch * 2;        // bf16 elements
  const int64_t m_per_position = static_cast<int64_t>(co_blocks) * kCo * kBatch;  // floats

#pragma omp parallel num_threads(team_size())
  {
    // Per-thread V (bf16, in a float buffer) and M for one batch, 64-byte aligned.
    uint16_t* v = reinterpret_cast<uint16_t*>(detail::thread_aligned_buffer(0, kPositions * v_per_position / 2));
    float* m = detail::thread_aligned_buffer(1, kPositions * m_per_position);
    if (input_upsampled2x) detail::fill_padded_input_upsampled2x(in, x, cin, h, w, 1, 1, 0);  // ends with a barrier

    // Each thread takes an equal share of the groups, in batches of at most 3, as equal as possible.
    const int thread = omp_get_thread_num(), threads = omp_get_num_threads();
    const int64_t my_first = geo.groups * thread / threads, my_end = geo.groups * (thread + 1) / threads;
    const int64_t my_batches = (my_end - my_first + kMaxVecs - 1) / kMaxVecs;
    for (int64_t batch = 0; batch < my_batches; ++batch) {
      const int64_t first_group = my_first + (my_end - my_first) * batch / my_batches;
      const int batch_groups =
          static_cast<int>(my_first + (my_end - my_first) * (batch + 1) / my_batches - first_group);
      if (input_upsampled2x)
        transform_batch(v, v_per_position, kBatch, in, cin, geo, first_group, batch_groups);
      else
        transform_batch_direct(v, v_per_position, kBatch, x, cin, geo, first_group, batch_groups);
      products_batch(m, m_per_position, packed, v, v_per_position, kBatch, batch_groups);
      output_batch(y, m, m_per_position, packed, epi, geo, first_group, batch_groups);
    }
  }
}

// The dense block: each channel transformed once per block, as a wavefront over bands of tile rows
// (conv/dense_block_wavefront.h has the schedule, the band rule and the layouts). A slot's rows
// hold a band's tiles: [16 ξ][pair][band tiles][2] bf16.
namespace {

wavefront::Plan dense_block_plan(int channels, int h, int w) {
  return wavefront::make_plan(h, w, kTile, kGroupTiles, kMaxVecs, kPositions, channels, 2);
}

}  // namespace

int64_t winograd23_dense_block_elems(int pairs, int h, int w) {
  return wavefront::kRingSlots * dense_block_plan(2 * pairs, h, w).slot_elems;
}

void dense_block_winograd23_avx512bf16(float* out, const float* x, const PackedBf16ConvWeights* const convs[5], int h,
                                       int w, float lrelu_slope, float residual_scale, uint16_t* v_ring,
                                       float* slices) {
  const int nf = convs[0]->cin, g = convs[0]->cout, channels = nf + 4 * g, widest = nf > g ? nf : g;
  const Geometry geo = geometry(h, w);
  const wavefront::Plan plan = dense_block_plan(channels, h, w);
  const int64_t v_per_position = static_cast<int64_t>(channels) * plan.band_tiles;  // bf16 elements
  const int64_t m_per_position = static_cast<int64_t>(widest + kCo - 1) / kCo * kCo * kBatch;

#pragma omp parallel num_threads(team_size())
  {
    float* m = detail::thread_aligned_buffer(1, kPositions * m_per_position);
    // Straight from the activations: groups are counted from the image's first, and band b's first
    // lies b band_rows tile rows down.
    // channel0 is even: pair channel0 / 2 starts channel0 * band_tiles elements into the slot.
    auto transform = [&](uint16_t* slot, int channel0, int count, int64_t first, int groups, const float* src, int b) {
      transform_batch_direct(slot + channel0 * plan.band_tiles + 2 * kGroupTiles * first, v_per_position,
                             plan.band_tiles, src, count, geo,
                             static_cast<int64_t>(b) * plan.band_tiles / kGroupTiles + first, groups);
    };
    auto convolve = [&](int j, const uint16_t* slot, float* y, const ConvEpilogue& epi, int64_t first,
                        int64_t image_first, int groups) {
      products_batch(m, m_per_position, *convs[j], slot + 2 * kGroupTiles * first, v_per_position, plan.band_tiles,
                     groups);
      output_batch(y, m, m_per_position, *convs[j], epi, geo, image_first, groups);
    };
    wavefront::run(plan, out, x, nf, g, lrelu_slope, residual_scale, v_ring, slices, transform, convolve);
  }
}

}  // namespace microsr::kernels
