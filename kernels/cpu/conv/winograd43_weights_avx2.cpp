// The Winograd F(4x4,3x3) weight transform (conv/winograd43_weights.h) compiled with -mfma: its
// std::fma calls become single instructions here, instead of libm calls in the baseline unit
// (conv/dispatch.cpp), which made packing ~15x slower. Same bits either way.
#include "cpu/conv/isa_kernels.h"
#include "cpu/conv/winograd43_weights.h"

namespace microsr::kernels {

void winograd43_transform_kernels_avx2(float* transformed, const float* weights, int count) {
  for (int i = 0; i < count; ++i)
    winograd43::transform_kernel(transformed + i * winograd43::kPositions, weights + i * 9);
}

}  // namespace microsr::kernels
