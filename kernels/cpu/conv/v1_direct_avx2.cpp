// conv_v1_direct: direct stride-1 "same" convolution, AVX2 + FMA, any odd k.
//
// Why it is slow (figures: docs/kernels.md): gcc stores the 12 accumulators to the stack once per
// kernel row and folds the 3 pixel vectors into memory operands of all 12 FMAs, and most unaligned
// pixel loads straddle cache lines. Kept as the first numbered variant; v2 turns the blocking
// around.
//
// Memory layout
//   Padded input: x is copied once per call into [cin][plane] with a zero border of pad = k/2 on
//   every side and rows of wp = w + 2*pad floats (conv/common.h). Output pixel (oy, ox) gets
//   the "wide" index p = oy*wp + ox, and its tap (ky, kx) reads padded position p + ky*wp + kx.
//   So for a fixed tap, 24 consecutive wide indices read 24 consecutive floats: one unaligned
//   vector load per 8 pixels, no bounds checks. Wide indices with ox >= w ("wide rows") are
//   computed and thrown away: 2*pad/wp of the work (3% at w = 64).
//   Packed weights: [ceil(cout/4)][cin][k][k][4] — for each block of 4 output channels, the 4
//   weights of one tap are adjacent, and taps follow in the order the micro-kernel walks them, so
//   the kernel reads weights as one sequential stream. A last partial block is zero-filled.
//
// Micro-kernel (register blocking): 4 output channels x 24 wide pixels = 4 x 3 ymm accumulators
//   (12 of the 16 ymm registers). Per tap it does 3 input loads + 4 weight broadcasts for 12 FMAs,
//   which keeps Zen3's two FMA pipes fed (12 independent accumulators cover the 4-cycle FMA
//   latency x 2 pipes = 8 in flight).
//
// Threading: OpenMP over blocks of 24 wide pixels (a thread owns a contiguous band of rows);
//   each block loops over all output-channel blocks, so its input stays in L1/L2 while the
//   weights stream from L2.
#include "cpu/conv/direct.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>

#include "cpu/conv/common.h"
#include "cpu/conv/epilogue_avx2.h"
#include "cpu/threads.h"

namespace microsr::kernels {
namespace {

constexpr int kCoBlock = 4;                 // output channels per micro-tile
constexpr int kVecsPerTile = 3;             // ymm vectors of pixels per micro-tile
constexpr int kPxBlock = 8 * kVecsPerTile;  // wide pixels per micro-tile

// tile [kCoBlock][kPxBlock] = sum over (ci, ky, kx) of w_block[ci][ky][kx][c] * x_at_p[tap]
// for the first CO channels. KFIXED != 0 fixes k at compile time (k = 3 fully unrolled).
template <int CO, int KFIXED>
void direct_tile(float* tile, const float* x_at_p, const float* w_block, int cin, int k_runtime, int64_t plane,
                 int wp) {
  const int k = KFIXED ? KFIXED : k_runtime;
  __m256 acc[CO][kVecsPerTile];
  for (int c = 0; c < CO; ++c)
    for (int v = 0; v < kVecsPerTile; ++v) acc[c][v] = _mm256_setzero_ps();

  for (int ci = 0; ci < cin; ++ci) {
    const float* x_channel = x_at_p + ci * plane;
    for (int ky = 0; ky < k; ++ky) {
      const float* x_row = x_channel + ky * wp;
      for (int kx = 0; kx < k; ++kx) {
        __m256 xv[kVecsPerTile];
        for (int v = 0; v < kVecsPerTile; ++v) xv[v] = _mm256_loadu_ps(x_row + kx + 8 * v);
        for (int c = 0; c < CO; ++c) {
          const __m256 wv = _mm256_broadcast_ss(w_block + c);
          for (int v = 0; v < kVecsPerTile; ++v) acc[c][v] = _mm256_fmadd_ps(wv, xv[v], acc[c][v]);
        }
        w_block += kCoBlock;
      }
    }
  }
  for (int c = 0; c < CO; ++c)
    for (int v = 0; v < kVecsPerTile; ++v) _mm256_storeu_ps(tile + c * kPxBlock + 8 * v, acc[c][v]);
}

using TileFn = void (*)(float*, const float*, const float*, int, int, int64_t, int);

TileFn pick_tile_fn(int channels, int k) {
  static constexpr TileFn generic[kCoBlock] = {direct_tile<1, 0>, direct_tile<2, 0>, direct_tile<3, 0>,
                                               direct_tile<4, 0>};
  static constexpr TileFn k3[kCoBlock] = {direct_tile<1, 3>, direct_tile<2, 3>, direct_tile<3, 3>, direct_tile<4, 3>};
  return (k == 3 ? k3 : generic)[channels - 1];
}

// Writes the valid pixels of one micro-tile (wide indices p0 .. p0+kPxBlock-1) through the
// epilogue into y [cout][h][w]; wide-row columns ox >= w and rows oy >= h are skipped.
void store_tile(float* y, const float* tile, int channels, int co0, const float* bias, int h, int w, int wp, int64_t p0,
                const ConvEpilogue& epi) {
  for (int c = 0; c < channels; ++c) {
    const int co = co0 + c;
    const float b = bias[co];
    int64_t p = p0;
    int offset = 0;
    while (offset < kPxBlock) {
      const int64_t oy = p / wp;
      const int ox = static_cast<int>(p - oy * wp);
      const int span = std::min<int64_t>(kPxBlock - offset, wp - ox);  // to end of wide row
      if (oy >= h) break;
      const int valid = std::max(0, std::min(span, w - ox));
      if (valid > 0)
        detail::store_row_segment(y, tile + c * kPxBlock + offset, valid, b, epi,
                                  (static_cast<int64_t>(co) * h + oy) * w + ox);
      offset += span;
      p += span;
    }
  }
}

}  // namespace

void conv2d_direct_packed_avx2(float* y, const float* x, const PackedConvWeights& packed, int h, int w,
                               const ConvEpilogue& epi) {
  const int cin = packed.cin, cout = packed.cout, k = packed.k, pad = k / 2;
  const int wp = w + 2 * pad;
  // The last micro-tile may start up to kPxBlock-1 past the last valid pixel and reads
  // (k-1)*wp + k-1 further: covered by the bottom pad rows plus kPxBlock + k of slack.
  const detail::PaddedInput in =
      detail::pad_input(detail::thread_scratch(0), x, cin, h, w, pad, pad, h + 2 * pad, wp, kPxBlock + k);
  const int64_t wide_pixels = static_cast<int64_t>(h) * wp;
  const int64_t px_blocks = (wide_pixels + kPxBlock - 1) / kPxBlock;
  const int co_blocks = (cout + kCoBlock - 1) / kCoBlock;
  const int64_t block_weights = static_cast<int64_t>(cin) * k * k * kCoBlock;

#pragma omp parallel for num_threads(team_size()) schedule(static)
  for (int64_t pb = 0; pb < px_blocks; ++pb) {
    alignas(32) float tile[kCoBlock * kPxBlock];
    const int64_t p0 = pb * kPxBlock;
    for (int cb = 0; cb < co_blocks; ++cb) {
      const int channels = std::min(kCoBlock, cout - cb * kCoBlock);
      pick_tile_fn(channels, k)(tile, in.data + p0, packed.data.data() + cb * block_weights, cin, k, in.plane, wp);
      store_tile(y, tile, channels, cb * kCoBlock, packed.bias.data(), h, w, wp, p0, epi);
    }
  }
}

}  // namespace microsr::kernels
