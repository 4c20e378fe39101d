// Pieces shared by the optimized CPU convolutions (conv/v1_direct.cpp ... conv/v4_winograd43_3x32.cpp):
// the zero-padded input copy and the fused epilogue at store time.
#pragma once
#include <immintrin.h>

#include <cstdint>
#include <vector>

#include "cpu/conv/variants.h"
#include "cpu/cpu_kernels.h"

namespace microsr::kernels::detail {

// A zero-padded copy of x [cin][h][w]:
//   data [cin][plane], channel ci's image starts at data + ci*plane and is stored as rows of
//   `row_stride` floats; image pixel (iy, ix) sits at row iy + pad_top, column ix + pad_left.
//   Everything else in the plane (border, right margin, tail slack) is zero, so a kernel may read
//   any position in [0, plane) of any channel (and `tail_slack` floats past the last channel).
struct PaddedInput {
  const float* data = nullptr;
  int row_stride = 0;
  int64_t plane = 0;
};

// Sizes `scratch` (grown, never shrunk, so a layer called repeatedly does not re-fault pages) and
// returns the layout: rows = pad_top + h + pad_bottom, plane = rows*row_stride rounded up to 16
// floats (64 bytes). Call from one thread, outside a parallel region.
PaddedInput layout_padded_input(std::vector<float>& scratch, int cin, int rows, int row_stride, int64_t tail_slack);
// Copies x [cin][h][w] into the layout and zeroes the rest. Work-shares over channels with an
// orphaned `omp for`: call it from every thread of a parallel region (it ends with a barrier),
// or from outside one (then it runs serially).
void fill_padded_input(const PaddedInput& padded, const float* x, int cin, int h, int w, int pad_top, int pad_left,
                       int64_t tail_slack);
// Both of the above, with its own parallel region.
PaddedInput pad_input(std::vector<float>& scratch, const float* x, int cin, int h, int w, int pad_top, int pad_left,
                      int rows, int row_stride, int64_t tail_slack);

// Packs weight [cout][cin][k][k] into blocks of `co_block` output channels,
// [ceil(cout/co_block)][cin][k][k][co_block] (the last block zero-filled): the layout both direct
// kernels read, where the co_block weights of one tap sit side by side.
PackedConvWeights pack_channel_blocked(const float* weight, const float* bias, int cin, int cout, int k, int co_block,
                                       ConvWeightFormat format);

// The scratch vector of the calling thread, reused by every conv call on this thread.
std::vector<float>& thread_scratch(int which);

// Stores n consecutive conv sums of one output row through the epilogue:
//   y[index + i] = epilogue(sums[i]) for i < n, where index is the output element's flat index.
// AVX2, 8 at a time; the last n % 8 go through a masked load/store.
inline void store_row_segment(float* y, const float* sums, int n, float bias, const ConvEpilogue& epi, int64_t index) {
  const __m256 bias_v = _mm256_set1_ps(bias), scale = _mm256_set1_ps(epi.scale);
  const __m256 slope = _mm256_set1_ps(epi.has_lrelu ? epi.lrelu_slope : 1.0f);
  const __m256 zero = _mm256_setzero_ps();
  const float* residual = epi.residual ? epi.residual + index : nullptr;
  float* out = y + index;
  auto finish = [&](__m256 v) {
    v = _mm256_add_ps(v, bias_v);
    v = _mm256_blendv_ps(v, _mm256_mul_ps(v, slope), _mm256_cmp_ps(v, zero, _CMP_LT_OQ));
    return _mm256_mul_ps(v, scale);
  };
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = finish(_mm256_loadu_ps(sums + i));
    if (residual) v = _mm256_add_ps(v, _mm256_loadu_ps(residual + i));
    _mm256_storeu_ps(out + i, v);
  }
  if (i < n) {
    // Lanes [0, n - i) active: compare the lane numbers 0..7 against the count.
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(n - i), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    __m256 v = finish(_mm256_maskload_ps(sums + i, mask));
    if (residual) v = _mm256_add_ps(v, _mm256_maskload_ps(residual + i, mask));
    _mm256_maskstore_ps(out + i, mask, v);
  }
}

}  // namespace microsr::kernels::detail
