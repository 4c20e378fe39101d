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
//   Padded input (fp32): [cin][plane], rows of 2*tiles_per_row + 2 floats, zero border of 1 at top
//   and left: tile (tr, tc)'s window starts at padded row 2tr, column 2tc.
//   Weights U (packed.winograd23): [16 ξ][ceil(cout/8) co blocks][ceil(cin/2) pairs][8 co][2]
//   bf16: for one ξ and block, a channel pair's 8 output channels are 32 contiguous bytes (8 32-bit
//   broadcasts of (u[co][2p], u[co][2p+1])).
//   Per batch of up to 48 tiles (per thread): V [16 ξ][pairs][48 tiles][2] bf16 (a zmm load is 16
//   tiles x one channel pair, the layout vdpbf16ps multiplies pairwise), M [16 ξ][co][48] fp32.
//
// Micro-kernel: 8 output channels x 16*NV tiles (NV <= 3): 24 zmm accumulators; per channel pair
//   NV V loads + 8 weight broadcasts for 8 NV vdpbf16ps (2 multiply-adds per lane each).
// Threading (one convolution): as conv/winograd43_driver.h: the threads fill the padded input,
//   then each takes an equal share of the 16-tile groups in batches of at most 3 groups: input
//   transform -> 16 products per co block -> output transform + epilogue, so V and M stay in the
//   thread's L2. The dense block (below) runs as a wavefront over bands of rows instead.
//
// Compiled with the AVX-512 flags + -mavx512bf16 (CMakeLists.txt: the *_avx512bf16.cpp rule); run
// only when active_cpu_isa() >= avx512_bf16 (conv/bf16_dispatch.cpp).
#include <omp.h>

#include <atomic>
#include <cstdint>
#include <cstring>

#include "cpu/conv/winograd23_bf16_avx512.h"
#include "cpu/threads.h"

namespace microsr::kernels {

using namespace winograd23;

void conv2d_winograd23_bf16_avx512bf16(float* y, const float* x, const PackedBf16ConvWeights& packed, int h, int w,
                                       const ConvEpilogue& epi, bool input_upsampled2x) {
  const int cin = packed.cin, pairs = (cin + 1) / 2, co_blocks = (packed.cout + kCo - 1) / kCo;
  const Geometry geo = geometry(h, w);
  const detail::PaddedInput in =
      detail::layout_padded_input(detail::thread_scratch(0), cin, kTile * geo.tile_rows + 2, geo.row_stride, 0);
  const int64_t v_per_position = static_cast<int64_t>(pairs) * kBatch * 2;        // bf16 elements
  const int64_t m_per_position = static_cast<int64_t>(co_blocks) * kCo * kBatch;  // floats

#pragma omp parallel num_threads(team_size())
  {
    // Per-thread V (bf16, in a float buffer) and M for one batch, 64-byte aligned.
    uint16_t* v = reinterpret_cast<uint16_t*>(detail::thread_aligned_buffer(0, kPositions * v_per_position / 2));
    float* m = detail::thread_aligned_buffer(1, kPositions * m_per_position);
    if (input_upsampled2x)
      detail::fill_padded_input_upsampled2x(in, x, cin, h, w, 1, 1, 0);  // ends with a barrier
    else
      detail::fill_padded_input(in, x, cin, h, w, 1, 1, 0);  // ends with a barrier

    // Each thread takes an equal share of the groups, in batches of at most 3, as equal as possible.
    const int thread = omp_get_thread_num(), threads = omp_get_num_threads();
    const int64_t my_first = geo.groups * thread / threads, my_end = geo.groups * (thread + 1) / threads;
    const int64_t my_batches = (my_end - my_first + kMaxVecs - 1) / kMaxVecs;
    for (int64_t batch = 0; batch < my_batches; ++batch) {
      const int64_t first_group = my_first + (my_end - my_first) * batch / my_batches;
      const int batch_groups =
          static_cast<int>(my_first + (my_end - my_first) * (batch + 1) / my_batches - first_group);
      transform_batch(v, v_per_position, in, cin, geo, first_group, batch_groups);
      products_batch(m, m_per_position, packed, v, v_per_position, batch_groups);
      output_batch(y, m, m_per_position, packed, epi, geo, first_group, batch_groups);
    }
  }
}

// The dense block runs as a wavefront over bands of R tile rows (2R output rows), so that what a
// convolution reads was written a few bands earlier and is still in cache:
//   * conv j (1..5) on band b reads the transformed channels of x, x1 .. x(j-1) for band b;
//   * x_c's band b can be transformed once conv c has made band b + 1 (its 4x4 windows reach one
//     row into the next band), so step s runs, in order: transform x's band s; then for j = 1..5
//     conv j on band s - (j-1), and (j < 5) the transform of x_j's band s - j.
// Each band's transformed channels live from its first transform (step b) to conv5 (step b + 4):
// 5 bands at a time, in a ring of 5 slots [slot][batch of the band][16 ξ][pair][kBatch][2] bf16,
// instead of the whole image's (300 MB for a 440² tile, streamed from memory). x1..x4 are kept in
// fp32 [4][g][h][w]; a band's rows are copied (zero-padded) into a small buffer for its transform.
// R: ~1.5 MB of transformed channels per band (one tile row of a 440-pixel-wide tile); one band
// (no wavefront) when the whole image's take at most 8 MB. Measured on Zen 4 (2 threads, one pass
// at 440²): 14.4 s with the whole image's store, 12.4 s with 1-row bands, 14.5 s with 3-row bands
// (4 MB a band); more bands cost two barriers per transform.
namespace {

constexpr int kRingSlots = 5;

std::atomic<int> forced_band_rows{0};  // winograd23_force_band_rows (tests)

int band_tile_rows(const Geometry& geo, int pairs) {
  if (const int forced = forced_band_rows.load()) return forced < geo.tile_rows ? forced : geo.tile_rows;
  const int64_t row_bytes = static_cast<int64_t>(geo.tiles_per_row) * kPositions * pairs * 4;
  if (row_bytes * geo.tile_rows <= (8 << 20)) return geo.tile_rows;  // all in cache anyway: one band
  const int64_t rows = (3 << 19) / row_bytes;                         // ~1.5 MB a band
  return rows < 1 ? 1 : static_cast<int>(rows);
}

int64_t slot_elems(const Geometry& geo, int pairs) {
  const int64_t band_groups = static_cast<int64_t>(band_tile_rows(geo, pairs)) * geo.tiles_per_row / kGroupTiles;
  return (band_groups + kMaxVecs - 1) / kMaxVecs * kPositions * pairs * kBatch * 2;
}

}  // namespace

int64_t winograd23_dense_block_elems(int pairs, int h, int w) { return kRingSlots * slot_elems(geometry(h, w), pairs); }

void winograd23_force_band_rows(int tile_rows) { forced_band_rows.store(tile_rows > 0 ? tile_rows : 0); }

void dense_block_winograd23_avx512bf16(float* out, const float* x, const PackedBf16ConvWeights* const convs[5],
                                       int h, int w, float lrelu_slope, float residual_scale, uint16_t* v_ring,
                                       float* slices) {
  const int nf = convs[0]->cin, g = convs[0]->cout, pairs = (nf + 4 * g) / 2, widest = nf > g ? nf : g;
  const Geometry geo = geometry(h, w);
  const int band_rows = band_tile_rows(geo, pairs);  // tile rows per band
  const int bands = (geo.tile_rows + band_rows - 1) / band_rows;
  const int64_t groups_per_row = geo.tiles_per_row / kGroupTiles;
  const int64_t v_per_position = static_cast<int64_t>(pairs) * kBatch * 2, v_per_batch = kPositions * v_per_position;
  const int64_t v_per_slot = slot_elems(geo, pairs);
  const int64_t m_per_position = static_cast<int64_t>(widest + kCo - 1) / kCo * kCo * kBatch;
  const int64_t plane = static_cast<int64_t>(h) * w;
  // One band's rows, zero-padded: padded row 0 is image row 2 R b - 1 (the first window's top).
  const detail::PaddedInput in =
      detail::layout_padded_input(detail::thread_scratch(0), widest, 2 * band_rows + 2, geo.row_stride, 0);
  float* const in_rows = const_cast<float*>(in.data);
  ConvEpilogue act;
  act.has_lrelu = true;
  act.lrelu_slope = lrelu_slope;
  ConvEpilogue residual;
  residual.scale = residual_scale;
  residual.residual = x;

#pragma omp parallel num_threads(team_size())
  {
    float* m = detail::thread_aligned_buffer(1, kPositions * m_per_position);
    const int thread = omp_get_thread_num(), threads = omp_get_num_threads();
    // Band b: its first group, its group count, and this thread's share of its batches (the same
    // share for every step that touches the band, so a thread reads back only the V it wrote).
    auto band_first_group = [&](int b) { return static_cast<int64_t>(b) * band_rows * groups_per_row; };
    auto band_groups = [&](int b) {
      const int rows = (b + 1) * band_rows < geo.tile_rows ? band_rows : geo.tile_rows - b * band_rows;
      return static_cast<int64_t>(rows) * groups_per_row;
    };
    auto for_my_batches = [&](int b, auto&& body) {  // body(batch in band, its first group in band, groups)
      const int64_t groups = band_groups(b);
      const int64_t batches = (groups + kMaxVecs - 1) / kMaxVecs;
      for (int64_t i = batches * thread / threads; i < batches * (thread + 1) / threads; ++i) {
        const int64_t left = groups - kMaxVecs * i;
        body(i, kMaxVecs * i, static_cast<int>(left < kMaxVecs ? left : kMaxVecs));
      }
    };
    auto slot = [&](int b) { return v_ring + (b % kRingSlots) * v_per_slot; };
    // Transforms src [channels][h][w]'s band b into pairs pair0 ... of the band's slot.
    auto transform = [&](const float* src, int channels, int pair0, int b) {
#pragma omp barrier
      // (every thread is done with the previous band's rows, and with the convolution that made src's)
#pragma omp for schedule(static)
      for (int c = 0; c < channels; ++c)
        for (int r = 0; r < 2 * band_rows + 2; ++r) {
          float* row = in_rows + c * in.plane + static_cast<int64_t>(r) * geo.row_stride;
          const int iy = 2 * band_rows * b - 1 + r;
          if (iy < 0 || iy >= h) {
            std::memset(row, 0, sizeof(float) * geo.row_stride);
            continue;
          }
          row[0] = 0.0f;
          std::memcpy(row + 1, src + c * plane + static_cast<int64_t>(iy) * w, sizeof(float) * w);
          std::memset(row + 1 + w, 0, sizeof(float) * (geo.row_stride - 1 - w));
        }  // (ends with a barrier)
      for_my_batches(b, [&](int64_t batch, int64_t first, int count) {
        transform_batch(slot(b) + batch * v_per_batch + static_cast<int64_t>(pair0) * kBatch * 2, v_per_position, in,
                        channels, geo, first, count);
      });
    };
    auto convolve = [&](const PackedBf16ConvWeights& packed, float* y, const ConvEpilogue& epi, int b) {
      for_my_batches(b, [&](int64_t batch, int64_t first, int count) {
        products_batch(m, m_per_position, packed, slot(b) + batch * v_per_batch, v_per_position, count);
        output_batch(y, m, m_per_position, packed, epi, geo, band_first_group(b) + first, count);
      });
    };
    for (int step = 0; step < bands + 4; ++step) {
      if (step < bands) transform(x, nf, 0, step);
      for (int j = 1; j <= 5; ++j) {
        const int b = step - (j - 1);
        float* made = j < 5 ? slices + (j - 1) * static_cast<int64_t>(g) * plane : out;
        if (b >= 0 && b < bands) convolve(*convs[j - 1], made, j < 5 ? act : residual, b);
        if (j < 5 && b >= 1 && b <= bands) transform(made, g, (nf + (j - 1) * g) / 2, b - 1);
      }
    }
  }
}

}  // namespace microsr::kernels
