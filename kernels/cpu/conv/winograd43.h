// Winograd convolution entry points (conv/dispatch.cpp picks v3/v4 (AVX2), v5 (AVX-512) or the
// baseline loop); see conv/v3_winograd43_avx2.cpp for the math
// and the memory layout.
#pragma once
#include "cpu/conv/variants.h"

namespace microsr::kernels {

// Packs weight [cout][cin][3][3] into ConvWeightFormat::kWinograd43 with blocks of co_block
// (3 or 4) output channels, or kWinograd43Avx512 (co_block 8); throws for k != 3.
PackedConvWeights pack_winograd43_weights(const float* weight, const float* bias, int cin, int cout, int k,
                                          int co_block);
void conv2d_winograd43_packed(float* y, const float* x, const PackedConvWeights& packed, int h, int w,
                              const ConvEpilogue& epi);
// Pack on the fly (co_block 4 or 3), then conv2d_winograd43_packed; k != 3 runs conv2d_direct16.
void conv2d_winograd43_4x24(float* y, const float* x, const float* weight, const float* bias, int cin, int cout, int h,
                            int w, int k, const ConvEpilogue& epi);
// kWinograd43Avx512: co_block 8, or 4 when cout <= 4.
PackedConvWeights pack_winograd43_avx512_weights(const float* weight, const float* bias, int cin, int cout, int k);
// conv_v5 (conv/v5_winograd43_avx512.cpp): pack with pack_winograd43_avx512_weights, then run.
void conv2d_winograd43_avx512(float* y, const float* x, const float* weight, const float* bias, int cin, int cout,
                              int h, int w, int k, const ConvEpilogue& epi);
void conv2d_winograd43_3x32(float* y, const float* x, const float* weight, const float* bias, int cin, int cout, int h,
                            int w, int k, const ConvEpilogue& epi);

}  // namespace microsr::kernels
