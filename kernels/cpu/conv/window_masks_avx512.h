// Lane masks for reading a row of 16 Winograd windows straight from an unpadded activation row
// (conv_v5's F(4x4) and conv_v10's F(2x2) input transforms, included by *_avx512*.cpp only).
//
// In an anonymous namespace, so that each translation unit that includes it compiles its own
// private copy with its own flags (see conv/epilogue_avx2.h).
#pragma once
#include <immintrin.h>

namespace microsr::kernels::detail {
namespace {

// The 16 windows' row spans kChunks - 1 full zmm and a last chunk of 2 floats (the windows' overlap
// past the last tile), first column col0 (one left of the first tile: may be -1). masks[k] has lane
// l set where column col0 + 16k + l lies in [0, w): masked loads read zeros outside the image and
// never touch it.
template <int kChunks>
void window_masks(__mmask16 masks[kChunks], int col0, int w) {
  for (int k = 0; k < kChunks; ++k) {
    const int first = col0 + 16 * k, lanes = k + 1 < kChunks ? 16 : 2;
    const int lo = first < 0 ? -first : 0, hi = w - first < lanes ? w - first : lanes;
    masks[k] = hi > lo ? static_cast<__mmask16>(((1u << hi) - 1) & ~((1u << lo) - 1)) : 0;
  }
}

}  // namespace
}  // namespace microsr::kernels::detail
