// wgrad_v1_direct: dw[co][ci][tap] = Σ_p dy[co][p] · x[ci][p + offset(tap)] is a dot product
// along the pixels, and with the right padding both operands are contiguous in p:
//   x is copied with a zero border of pad = k/2 and rows of wp = w + 2·pad floats; dy is copied
//   into rows of the same wp floats, zero in the columns ox >= w. Output pixel (oy, ox) gets the
//   "wide" index p = oy·wp + ox, and tap (ky, kx) reads padded x at p + ky·wp + kx. Wide pixels
//   with ox >= w have dy = 0, so they add nothing, whatever x holds there.
// Micro-kernel: 4 output channels x 3 taps = 12 ymm accumulators, each a partial dot product over
//   8 pixel lanes; per 8 pixels 4 dy loads + 3 x loads for 12 FMAs. The lanes are summed
//   horizontally once per segment of kSegment pixels (so the dy rows stay in L1 meanwhile).
// The production kernel for conv_first (3 -> 64) and conv_last (64 -> 3): the Winograd
//   transforms cost per channel and tile, and do not pay off with 3 channels on one side
//   (figures: docs/kernels.md).
// Threading: one OpenMP region (serial for tiny layers): the threads pad x and dy of every image,
//   then share the
//   (channel block of 4 output channels, input channel) pairs; each pair owns its dw entries and
//   loops over the images, so no two threads write the same dw element.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>

#include "cpu/threads.h"
#include "cpu/wgrad/common.h"
#include "cpu/wgrad/variants.h"
#include "microsr/error.h"

namespace microsr::kernels {

namespace {

constexpr int kCoBlock = 4;     // output channels per micro-tile
constexpr int kTapBlock = 3;    // taps per micro-tile
constexpr int kSegment = 1024;  // pixels per dot-product segment (4 KiB per dy row)

inline float horizontal_sum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_hadd_ps(s, s);
  return _mm_cvtss_f32(_mm_hadd_ps(s, s));
}

// sums[c][t] = Σ_{p < 8·vecs} dy[c·dy_stride + p] · x[offsets[t] + p], for c < CO, t < TAPS.
template <int CO, int TAPS>
void dot_tile(float sums[kCoBlock][kTapBlock], const float* dy, int64_t dy_stride, const float* x,
              const int64_t* offsets, int vecs) {
  __m256 acc[CO][TAPS];
  for (int c = 0; c < CO; ++c)
    for (int t = 0; t < TAPS; ++t) acc[c][t] = _mm256_setzero_ps();
  for (int i = 0; i < vecs; ++i) {
    // The empty asm statements keep each loaded vector in a register: without them gcc folds the
    // x loads into the FMAs as memory operands (CO·TAPS + CO loads instead of TAPS + CO).
    __m256 xv[TAPS];
    for (int t = 0; t < TAPS; ++t) {
      xv[t] = _mm256_loadu_ps(x + offsets[t] + 8 * i);
      __asm__("" : "+x"(xv[t]));
    }
    for (int c = 0; c < CO; ++c) {
      __m256 d = _mm256_loadu_ps(dy + c * dy_stride + 8 * i);
      __asm__("" : "+x"(d));
      for (int t = 0; t < TAPS; ++t) acc[c][t] = _mm256_fmadd_ps(d, xv[t], acc[c][t]);
    }
  }
  for (int c = 0; c < CO; ++c)
    for (int t = 0; t < TAPS; ++t) sums[c][t] = horizontal_sum(acc[c][t]);
}

using DotTileFn = void (*)(float[kCoBlock][kTapBlock], const float*, int64_t, const float*, const int64_t*, int);

DotTileFn pick_dot_tile(int channels, int taps) {
  static constexpr DotTileFn table[kCoBlock][kTapBlock] = {{dot_tile<1, 1>, dot_tile<1, 2>, dot_tile<1, 3>},
                                                           {dot_tile<2, 1>, dot_tile<2, 2>, dot_tile<2, 3>},
                                                           {dot_tile<3, 1>, dot_tile<3, 2>, dot_tile<3, 3>},
                                                           {dot_tile<4, 1>, dot_tile<4, 2>, dot_tile<4, 3>}};
  return table[channels - 1][taps - 1];
}

}  // namespace

void conv2d_backward_weight_direct(float* dw, float* db, ImageBatch x, ImageBatch dy, int n, int cin, int cout, int h,
                                   int w, int k) {
  detail::check_wgrad_sizes(n, cin, cout, h, w, k);
  if (db) conv2d_backward_bias(db, dy, n, cout, static_cast<int64_t>(h) * w);
  const int pad = k / 2, wp = w + 2 * pad, taps = k * k;
  const int64_t wide = static_cast<int64_t>(h) * wp;  // wide pixels per image
  const int vecs_total = static_cast<int>((wide + 7) / 8);
  // Padded copies of every image (n·cin and n·cout channels). x reads run up to 8 + k floats past
  // the last plane (the last vector and the largest tap offset), hence the tail slack.
  // Scratch from conv/common.cpp (a baseline unit): no std::vector code of our own (cpu_isa.h).
  const detail::PaddedInput xp = detail::layout_padded_input(detail::thread_scratch(2), n * cin, h + 2 * pad, wp, k + 8);
  const detail::PaddedInput dyp = detail::layout_padded_input(detail::thread_scratch(3), n * cout, h, wp, 8);
  std::vector<int64_t> offsets(taps);
  for (int t = 0; t < taps; ++t) offsets[t] = (t / k) * wp + t % k;
  const int co_blocks = (cout + kCoBlock - 1) / kCoBlock;
  const int64_t x_image = cin * xp.plane, dy_image = cout * dyp.plane;

#pragma omp parallel num_threads(team_size()) if (detail::worth_threads(n, cin, cout, h, w, k))
  {
    detail::fill_padded_batches({xp, x, cin, pad, pad, k + 8}, {dyp, dy, cout, 0, 0, 8}, n, h, w);
#pragma omp for collapse(2) schedule(static)
    for (int cb = 0; cb < co_blocks; ++cb)
      for (int ci = 0; ci < cin; ++ci) {
        const int co0 = cb * kCoBlock, channels = std::min(kCoBlock, cout - co0);
        float* dw_pair = dw + (static_cast<int64_t>(co0) * cin + ci) * taps;  // dw[co0][ci]
        for (int i = 0; i < n; ++i)
          for (int v0 = 0; v0 < vecs_total; v0 += kSegment / 8) {
            const int vecs = std::min(kSegment / 8, vecs_total - v0);
            const float* dy_seg = dyp.data + i * dy_image + co0 * dyp.plane + 8 * v0;
            const float* x_seg = xp.data + i * x_image + ci * xp.plane + 8 * v0;
            for (int t0 = 0; t0 < taps; t0 += kTapBlock) {
              const int block_taps = std::min(kTapBlock, taps - t0);
              float sums[kCoBlock][kTapBlock];
              pick_dot_tile(channels, block_taps)(sums, dy_seg, dyp.plane, x_seg, offsets.data() + t0, vecs);
              for (int c = 0; c < channels; ++c)
                for (int t = 0; t < block_taps; ++t)
                  dw_pair[static_cast<int64_t>(c) * cin * taps + t0 + t] += sums[c][t];
            }
          }
      }
  }
}

}  // namespace microsr::kernels
