// The convolution kernels of each instruction set, behind the dispatch in conv/dispatch.cpp.
//
// *_avx2 live in conv/*_avx2.cpp (compiled with -mavx2 -mfma -mf16c), *_avx512 in
// conv/*_avx512.cpp (AVX-512 flags), *_scalar in conv/baseline_scalar.cpp (baseline x86-64). Call
// an ISA kernel only when cpu_isa_at_least() says so (cpu/cpu_isa.h); the dispatchers have checked
// the packed format, so these do not.
#pragma once
#include "cpu/conv/variants.h"

namespace microsr::kernels {

// ConvWeightFormat::kDirect (co_block 4) and kDirect16 (co_block 16).
void conv2d_direct_packed_avx2(float* y, const float* x, const PackedConvWeights& packed, int h, int w,
                               const ConvEpilogue& epi);
void conv2d_direct16_packed_avx2(float* y, const float* x, const PackedConvWeights& packed, int h, int w,
                                 const ConvEpilogue& epi);
// ConvWeightFormat::kWinograd43, co_block 3 or 4 (conv_v3, conv_v4). With input_upsampled2x, x is
// [cin][h/2][w/2] and the conv runs on its nearest x2 upsampling (conv/winograd43_driver.h).
void conv2d_winograd43_packed_avx2(float* y, const float* x, const PackedConvWeights& packed, int h, int w,
                                   const ConvEpilogue& epi, bool input_upsampled2x = false);
// ConvWeightFormat::kWinograd43, any co_block: 16-wide products (conv_v5, conv/v5_winograd43_avx512.cpp).
void conv2d_winograd43_packed_avx512(float* y, const float* x, const PackedConvWeights& packed, int h, int w,
                                     const ConvEpilogue& epi, bool input_upsampled2x = false);

// RRDBNet's dense block with each channel's Winograd transform made once, as a wavefront over bands
// of rows (conv/dense_block_wavefront.h): convs[j] is nf + j g -> g (conv5: -> nf), 3x3, packed
// kWinograd43Avx512 with co_block 8 (the _avx512 form) or kWinograd43 with co_block 4 (_avx2);
// ring: winograd43_dense_block_elems_*(nf + 4 g, h, w) floats, 64-byte aligned; slices [4][g][h][w]
// (x1..x4). out = x + residual_scale * conv5(...): the same bits as the five convolutions.
void dense_block_winograd43_avx512(float* out, const float* x, const PackedConvWeights* const convs[5], int h, int w,
                                   float lrelu_slope, float residual_scale, float* ring, float* slices);
int64_t winograd43_dense_block_elems_avx512(int channels, int h, int w);
void dense_block_winograd43_avx2(float* out, const float* x, const PackedConvWeights* const convs[5], int h, int w,
                                 float lrelu_slope, float residual_scale, float* ring, float* slices);
int64_t winograd43_dense_block_elems_avx2(int channels, int h, int w);

// The same block with x, x1..x4 stored in fp16 (conv/fp16.h): convs packed kWinograd43 with
// co_block 4; dense: (nf + 4 g) h w halves. Five conv_v3 convolutions in turn, each reading its
// input from dense (widened as it is loaded), conv1..4 rounding their outputs into it; x is
// rounded into dense first, and conv5 adds it back in fp32.
void dense_block_winograd43_fp16_avx2(float* out, const float* x, const PackedConvWeights* const convs[5], int h, int w,
                                      float lrelu_slope, float residual_scale, uint16_t* dense);

// Two convolutions after the nearest x2 upsampling, the first one's output stored in fp16 (conv/fp16.h:
// conv2d_upsampled2x_pair_fp16): x [conv1.cin][h][w], between [conv1.cout][2h][2w] halves,
// y [conv2.cout][2h][2w] floats or halves; both packed kWinograd43 with co_block 4.
void conv2d_winograd43_upsampled2x_pair_fp16_avx2(float* y, const float* x, const PackedConvWeights& conv1,
                                                  const ConvEpilogue& epi1, const PackedConvWeights& conv2,
                                                  const ConvEpilogue& epi2, int h, int w, uint16_t* between);
void conv2d_winograd43_upsampled2x_pair_fp16_avx2(uint16_t* y, const float* x, const PackedConvWeights& conv1,
                                                  const ConvEpilogue& epi1, const PackedConvWeights& conv2,
                                                  const ConvEpilogue& epi2, int h, int w, uint16_t* between);
// conv_v3 on an fp16 input: y [packed.cout][h][w] fp32, x [packed.cin][h][w] halves; kWinograd43,
// co_block 4.
void conv2d_winograd43_fp16_input_avx2(float* y, const uint16_t* x, const PackedConvWeights& packed, int h, int w,
                                       const ConvEpilogue& epi);

// count 3x3 kernels [count][9] -> their Winograd transforms [count][36] (conv/winograd43_weights.h).
void winograd43_transform_kernels_avx2(float* transformed, const float* weights, int count);

// Baseline: either channel-blocked direct format (any co_block), and the Winograd format.
void conv2d_channel_blocked_scalar(float* y, const float* x, const PackedConvWeights& packed, int h, int w,
                                   const ConvEpilogue& epi);
void conv2d_winograd43_scalar(float* y, const float* x, const PackedConvWeights& packed, int h, int w,
                              const ConvEpilogue& epi);

}  // namespace microsr::kernels
