// conv_v2_direct: direct convolution vectorized over OUTPUT CHANNELS, AVX2 + FMA, any odd k.
//
// What changes from v1 (conv/v1_direct.cpp): v1 vectorizes over pixels and broadcasts weights;
// its pixel loads are unaligned (most cross a cache line). v2 turns it around: a weight vector
// holds 8 output channels (aligned, one cache line per tap for 16 channels) and each input pixel
// is broadcast.
//
// Each 6-pixel tile streams its whole weight block (cin*9*64 bytes) from L2; blocking cin so the
// weights stay in L1 across tiles is the next step if a direct path ever matters (RRDBNet's convs
// are all 3x3 and use Winograd). Figures: docs/kernels.md.
// Error vs a double-precision convolution: 1.7e-7 of sum|terms| (float summation only).
//
// Memory layout
//   Padded input: as v1, [cin][plane] with a zero border of k/2 and rows of wp = w + 2*(k/2)
//   floats; output pixel (oy, ox) has wide index p = oy*wp + ox and its tap (ci, ky, kx) reads
//   padded position ci*plane + p + ky*wp + kx. Wide columns ox >= w are computed and dropped.
//   Packed weights: [ceil(cout/16)][cin*k*k][16]: per block of 16 output channels, one 64-byte
//   line per tap, taps in (ci, ky, kx) order; a last partial block is zero-filled.
//   Tap offsets: the kernel walks one flat list of taps; tap t's input offset ci*plane + ky*wp + kx
//   comes from a small table built per call, so the inner loop has no nested index math.
//
// Micro-kernel: 16 output channels (2 ymm) x 6 consecutive wide pixels = 12 ymm accumulators.
//   Per tap: 2 aligned weight loads + 6 pixel broadcasts for 12 FMAs; 12 independent
//   accumulators cover FMA latency (4 cycles) x 2 pipes.
//   The accumulators end up as [pixel][16 channels]; the store transposes them into y's
//   [cout][h][w] planes through the fused epilogue.
//
// Threading: one OpenMP region: the threads pad the input, then share blocks of 6 wide pixels
// (static: a thread owns a band of rows); each
//   block runs every output-channel block, so its input lines stay in L1/L2 and the weights stream
//   from L2.
#include <immintrin.h>

#include <algorithm>

#include "cpu/conv/common.h"
#include "cpu/conv/direct.h"
#include "cpu/threads.h"

namespace microsr::kernels {
namespace {

constexpr int kCoBlock = 16;  // output channels per micro-tile (2 ymm)
constexpr int kPxBlock = 6;   // wide pixels per micro-tile

// tile [kPxBlock][kCoBlock] = sum over taps t of w_block[t][:] * x_at_p[offsets[t] + px]
void direct_tile_16x6(float* tile, const float* x_at_p, const float* w_block, const int64_t* offsets, int64_t taps) {
  __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00;
  __m256 a30 = a00, a31 = a00, a40 = a00, a41 = a00, a50 = a00, a51 = a00;
  for (int64_t t = 0; t < taps; ++t) {
    const float* x = x_at_p + offsets[t];
    const __m256 w0 = _mm256_load_ps(w_block), w1 = _mm256_load_ps(w_block + 8);
    w_block += kCoBlock;
    __m256 xb = _mm256_broadcast_ss(x + 0);
    a00 = _mm256_fmadd_ps(w0, xb, a00), a01 = _mm256_fmadd_ps(w1, xb, a01);
    xb = _mm256_broadcast_ss(x + 1);
    a10 = _mm256_fmadd_ps(w0, xb, a10), a11 = _mm256_fmadd_ps(w1, xb, a11);
    xb = _mm256_broadcast_ss(x + 2);
    a20 = _mm256_fmadd_ps(w0, xb, a20), a21 = _mm256_fmadd_ps(w1, xb, a21);
    xb = _mm256_broadcast_ss(x + 3);
    a30 = _mm256_fmadd_ps(w0, xb, a30), a31 = _mm256_fmadd_ps(w1, xb, a31);
    xb = _mm256_broadcast_ss(x + 4);
    a40 = _mm256_fmadd_ps(w0, xb, a40), a41 = _mm256_fmadd_ps(w1, xb, a41);
    xb = _mm256_broadcast_ss(x + 5);
    a50 = _mm256_fmadd_ps(w0, xb, a50), a51 = _mm256_fmadd_ps(w1, xb, a51);
  }
  _mm256_store_ps(tile + 0, a00), _mm256_store_ps(tile + 8, a01);
  _mm256_store_ps(tile + 16, a10), _mm256_store_ps(tile + 24, a11);
  _mm256_store_ps(tile + 32, a20), _mm256_store_ps(tile + 40, a21);
  _mm256_store_ps(tile + 48, a30), _mm256_store_ps(tile + 56, a31);
  _mm256_store_ps(tile + 64, a40), _mm256_store_ps(tile + 72, a41);
  _mm256_store_ps(tile + 80, a50), _mm256_store_ps(tile + 88, a51);
}

// Writes the valid pixels of tile [kPxBlock][kCoBlock] (wide indices p0.., channels co0..co0+
// channels-1) into y [cout][h][w] through the epilogue. The epilogue runs on the two channel
// vectors of each pixel; the transposition into y's channel planes is 16 scalar stores per pixel.
void store_tile(float* y, const float* tile, int channels, int co0, const float* bias, int h, int w, int wp, int64_t p0,
                const ConvEpilogue& epi) {
  alignas(32) float bias16[kCoBlock] = {};
  std::copy(bias + co0, bias + co0 + channels, bias16);
  const __m256 b0 = _mm256_load_ps(bias16), b1 = _mm256_load_ps(bias16 + 8);
  const __m256 scale = _mm256_set1_ps(epi.scale), zero = _mm256_setzero_ps();
  const __m256 slope = _mm256_set1_ps(epi.has_lrelu ? epi.lrelu_slope : 1.0f);
  auto finish = [&](__m256 v, __m256 b) {
    v = _mm256_add_ps(v, b);
    v = _mm256_blendv_ps(v, _mm256_mul_ps(v, slope), _mm256_cmp_ps(v, zero, _CMP_LT_OQ));
    return _mm256_mul_ps(v, scale);
  };
  const int64_t plane = static_cast<int64_t>(h) * w;
  int64_t oy = p0 / wp;
  int ox = static_cast<int>(p0 - oy * wp);
  for (int px = 0; px < kPxBlock; ++px) {
    if (oy >= h) return;
    if (ox < w) {
      alignas(32) float out[kCoBlock];
      _mm256_store_ps(out, finish(_mm256_load_ps(tile + px * kCoBlock), b0));
      _mm256_store_ps(out + 8, finish(_mm256_load_ps(tile + px * kCoBlock + 8), b1));
      const int64_t index = co0 * plane + oy * w + ox;
      if (epi.residual) {
        for (int c = 0; c < channels; ++c) y[index + c * plane] = out[c] + epi.residual[index + c * plane];
      } else {
        for (int c = 0; c < channels; ++c) y[index + c * plane] = out[c];
      }
    }
    if (++ox == wp) ox = 0, ++oy;
  }
}

}  // namespace

void conv2d_direct16_packed_avx2(float* y, const float* x, const PackedConvWeights& packed, int h, int w,
                                 const ConvEpilogue& epi) {
  const int cin = packed.cin, cout = packed.cout, k = packed.k, pad = k / 2;
  const int wp = w + 2 * pad;
  const detail::PaddedInput in =
      detail::layout_padded_input(detail::thread_scratch(0), cin, h + 2 * pad, wp, kPxBlock + k);
  const int64_t taps = static_cast<int64_t>(cin) * k * k;
  std::vector<int64_t> offsets(taps);
  for (int ci = 0, t = 0; ci < cin; ++ci)
    for (int ky = 0; ky < k; ++ky)
      for (int kx = 0; kx < k; ++kx) offsets[t++] = ci * in.plane + ky * wp + kx;

  const int64_t px_blocks = (static_cast<int64_t>(h) * wp + kPxBlock - 1) / kPxBlock;
  const int co_blocks = (cout + kCoBlock - 1) / kCoBlock;
  const float* weights = packed.data.data();

#pragma omp parallel num_threads(team_size())
  {
    detail::fill_padded_input(in, x, cin, h, w, pad, pad, kPxBlock + k);  // ends with a barrier
#pragma omp for schedule(static)
    for (int64_t pb = 0; pb < px_blocks; ++pb) {
      alignas(32) float tile[kPxBlock * kCoBlock];
      const int64_t p0 = pb * kPxBlock;
      for (int cb = 0; cb < co_blocks; ++cb) {
        direct_tile_16x6(tile, in.data + p0, weights + cb * taps * kCoBlock, offsets.data(), taps);
        store_tile(y, tile, std::min(kCoBlock, cout - cb * kCoBlock), cb * kCoBlock, packed.bias.data(), h, w, wp, p0,
                   epi);
      }
    }
  }
}

}  // namespace microsr::kernels
