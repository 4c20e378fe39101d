// Direct convolution entry points (conv/dispatch.cpp runs conv/v1_direct_avx2.cpp,
// conv/v2_direct16_avx2.cpp, or the baseline loop); see those files for the layouts.
#pragma once
#include "cpu/conv/variants.h"

namespace microsr::kernels {

// Packs weight [cout][cin][k][k] into ConvWeightFormat::kDirect.
PackedConvWeights pack_direct_weights(const float* weight, const float* bias, int cin, int cout, int k);
void conv2d_direct_packed(float* y, const float* x, const PackedConvWeights& packed, int h, int w,
                          const ConvEpilogue& epi);
// Packs on the fly, then conv2d_direct_packed.
void conv2d_direct(float* y, const float* x, const float* weight, const float* bias, int cin, int cout, int h, int w,
                   int k, const ConvEpilogue& epi);

// conv_v2_direct16 (conv/v2_direct16.cpp): ConvWeightFormat::kDirect16.
PackedConvWeights pack_direct16_weights(const float* weight, const float* bias, int cin, int cout, int k);
void conv2d_direct16_packed(float* y, const float* x, const PackedConvWeights& packed, int h, int w,
                            const ConvEpilogue& epi);
void conv2d_direct16(float* y, const float* x, const float* weight, const float* bias, int cin, int cout, int h, int w,
                     int k, const ConvEpilogue& epi);

}  // namespace microsr::kernels
