// fp16 activation storage for the fp32 CPU convolutions: `--precision fp16` on the CPU.
//
// CPUs without AVX512_BF16 or AMX have no fast reduced-precision products, but every AVX2 CPU has
// F16C: conversions between fp32 and IEEE fp16 (vcvtps2ph, vcvtph2ps). Here the arithmetic stays
// fp32 (conv_v3's Winograd F(4x4, 3x3) products, sums and transforms unchanged) and only the
// storage of RRDBNet's dense blocks shrinks: their input x and the activations x1..x4 are kept as
// fp16, half the bytes, which the convolutions widen as they load their windows. Each dense block
// reads 640 channel planes and writes 192 (five convolutions on [x, x1 .. x4]); at a 440² tile that
// is 0.75 GB per block in fp32, from memory, since a block's 149 MB buffer is far past any cache.
// The same for the largest activations of all, conv_up2's and conv_hr's outputs (64 channels at 4x
// the input's size: 793 MB each in fp32 at a 440² tile): conv2d_upsampled2x_pair_fp16, then
// conv2d_packed_fp16_input for conv_last. The trunk between blocks, conv_up1 and conv_first stay fp32.
//
// Rounding: x and each x_j are rounded to nearest (even) fp16 once, when stored: a relative error
// of at most 2^-11 each, so |y - y_fp32| <= ~2^-11 Σ|x||w| per output of conv_j before it
// compounds over the network. Values past 65504 would become infinity (RRDBNet's activations stay
// far below that: the backend checks its output for non-finite values and says so).
//
// The same bits as five conv2d_packed calls (v3's format) on fp32 copies of the fp16-rounded values
// (tests/test_conv_fp16.cpp), since fp16 -> fp32 is exact and the epilogue's rounding is the last step.
// Measured (Zen 4 on the AVX2 kernels, docs/performance.md): 79-88 dB against fp32 per image; the
// whole 1600x1200 image 0.93x fp32's time on the same kernels with 17% less peak memory, most of it
// from the last upsampling stage (a dense block alone: 0.95-0.97x).
#pragma once
#include <cstdint>

#include "cpu/conv/variants.h"

namespace microsr::kernels {

// Null when fp16 storage runs on this CPU at the active instruction set (AVX2 + F16C; cpu_isa.h);
// otherwise a sentence naming what is missing.
const char* fp16_storage_unavailable_reason();

// The weight format the fp16 path packs layers in: conv_v3's Winograd format (kWinograd43,
// co_block 4) for 3x3 layers, whichever instruction set is active (on AVX-512 CPUs too, where fp32
// packs kWinograd43Avx512), and best_conv_weight_format's otherwise.
ConvWeightFormat fp16_storage_weight_format(int cin, int cout, int k);

// RRDBNet's residual dense block with x, x1..x4 stored in fp16 (the contract of
// conv2d_dense_block_packed, conv/variants.h, but fp16 storage, not the same bits as fp32):
//   x_j = fp16(LeakyReLU_slope(conv_j([fp16(x), x1 .. x(j-1)]))), j = 1..4
//   out [nf][h][w] = x + residual_scale * conv5([fp16(x), x1 .. x4])   (x itself in the residual)
// then out = skip + residual_scale * out when skip is given (the RRDB's residual, as scaled_add).
// convs: nf + (j-1) g -> g (conv5: -> nf), 3x3, packed in fp16_storage_weight_format. Throws
// microsr::Error otherwise, or when fp16_storage_unavailable_reason() is not null. The fp16
// activations go to `scratch`, dense_block_fp16_halves(nf, g, h, w) halves (the CPU backend passes
// an f16 tensor's memory, which its allocator reuses for the next large activation).
void conv2d_dense_block_fp16(float* out, const float* x, const PackedConvWeights* const convs[5], int h, int w,
                             float lrelu_slope, float residual_scale, uint16_t* scratch, const float* skip = nullptr);
int64_t dense_block_fp16_halves(int nf, int g, int h, int w);

// RRDBNet's last upsampling stage with the 4x larger activation between its two convolutions in
// fp16 (conv_up2 then conv_hr: at a 440² tile, 64 channels of 1760², 793 MB in fp32):
//   y [conv2.cout][2h][2w] = epi2(conv2(fp16(epi1(conv1(upsample_nearest2x(x [conv1.cin][h][w]))))))
// epi1 without a residual; conv2.cin == conv1.cout; both 3x3, packed in fp16_storage_weight_format.
// The same bits as conv2d_packed_upsampled2x, a rounding to fp16 and conv2d_packed (tested).
// between: conv1.cout * 4 h w halves, for conv1's output.
void conv2d_upsampled2x_pair_fp16(float* y, const float* x, const PackedConvWeights& conv1, const ConvEpilogue& epi1,
                                  const PackedConvWeights& conv2, const ConvEpilogue& epi2, int h, int w,
                                  uint16_t* between);
// The same with conv2's output stored in fp16 too (epi2 without a residual), for a convolution that
// reads fp16 next: RRDBNet's conv_hr output (793 MB in fp32 at a 440² tile) for conv_last.
void conv2d_upsampled2x_pair_fp16(uint16_t* y, const float* x, const PackedConvWeights& conv1, const ConvEpilogue& epi1,
                                  const PackedConvWeights& conv2, const ConvEpilogue& epi2, int h, int w,
                                  uint16_t* between);
// y [packed.cout][h][w] = epi(conv(x)) on an fp16 input x [packed.cin][h][w] (widened exactly as it
// is read: the bits of conv2d_packed on the widened values); 3x3, in fp16_storage_weight_format.
void conv2d_packed_fp16_input(float* y, const uint16_t* x, const PackedConvWeights& packed, int h, int w,
                              const ConvEpilogue& epi);

}  // namespace microsr::kernels
