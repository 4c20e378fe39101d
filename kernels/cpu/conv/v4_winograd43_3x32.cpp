// conv_v4_winograd43_3x32: Winograd F(4x4, 3x3) as conv_v3_winograd43 (conv/v3_winograd43.cpp:
// the math, the layouts, the transforms and the batched products are all there), with the products'
// register blocking turned around: 3 output channels x 32 tiles per micro-tile instead of 4 x 24,
// and batches of 32 tiles (weights packed with co_block 3; k != 3 runs conv_v2_direct16).
//
// Why it loses: 12 accumulators + 3 weight broadcasts leave one ymm register, so each tile vector
// is loaded for every FMA (12 + 3 loads per 12 FMAs, against v3's 3 + 4). Kept for the record;
// its figures are in docs/kernels.md.
#include "cpu/conv/direct.h"
#include "cpu/conv/winograd43.h"

namespace microsr::kernels {

void conv2d_winograd43_3x32(float* y, const float* x, const float* weight, const float* bias, int cin, int cout, int h,
                            int w, int k, const ConvEpilogue& epi) {
  if (k != 3) return conv2d_direct16(y, x, weight, bias, cin, cout, h, w, k, epi);
  conv2d_winograd43_packed(y, x, pack_winograd43_weights(weight, bias, cin, cout, k, 3), h, w, epi);
}

}  // namespace microsr::kernels
