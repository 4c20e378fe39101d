// conv_v6_implicit_gemm_amx: the bf16 convolution (conv/bf16.h) as an implicit GEMM on AMX tiles.
//
// Per output row oy, 32 output pixels x0..x0+31 and 32 output channels (two 16-channel blocks):
//   C[co][px] (fp32, 16 x 16 per tile) += Σ_tap Σ_ci-block A[co][32 ci] · B[16 ci pairs][px][2]
// with one tdpbf16ps per (tap, 32 input channels, 16 co, 16 px): 16·16·32 multiply-adds.
//   tiles 0..3  C: (co block 0, px 0-15), (co 0, px 16-31), (co 1, px 0-15), (co 1, px 16-31)
//   tiles 4, 5  A: the packed weights of co block 0 and 1 at this tap and ci block (1 KiB each,
//               contiguous, conv/bf16.h's layout: rows of 32 consecutive input channels)
//   tiles 6, 7  B: 16 pixels x 16 channel pairs of the bf16 input copy (conv/bf16_kernels.h),
//               read in place: row j (channel pair) is one 64-byte run of 16 pixels (c, c+1),
//               rows a padded image's channel-pair stride apart. The tap (ky, kx) only shifts the
//               base address: no im2col buffer.
// Per (tap, ci block) 4 tile loads feed 4 tdpbf16ps (each A and B used twice). A layer with an odd
// number of 16-channel blocks (cout 16, or 3 padded to 16) runs the last block with tiles 0, 1 only.
// Then each C tile goes through the fp32 epilogue (bias, LeakyReLU, scale, residual) straight
// into y's NCHW rows: a C row is 16 consecutive pixels of one output channel; or, inside a dense
// block (conv/bf16.h: conv2d_bf16_dense_block), through bias + LeakyReLU into bf16, two C rows
// (channels c, c + 1) interleaved into one 64-byte run of the dense buffer, which the next
// convolution reads as its B tiles without any conversion.
//
// Work: conv/amx_items.h (the input copy filled by all threads, then (oy, 32-pixel block, co pair)
// items in equal contiguous ranges, co pairs innermost).
//
// Compiled with the AVX-512 flags + -mavx512bf16 -mamx-tile -mamx-bf16 (CMakeLists.txt: the
// *_amx.cpp rule); called only when active_cpu_isa() >= amx (conv/bf16_dispatch.cpp), which also
// asked Linux for the tile-data state (cpu_isa.cpp).
#include <immintrin.h>

#include <cstdint>

#include "cpu/conv/amx_items.h"

namespace microsr::kernels {
namespace {

// c [kCoTiles * 2][16][16]: the sums of one item, tile (co block j, px half i) at c + (2j + i) * 256.
//   a: packed weights of the first co block at tap 0, ci block 0; a_next: elements to the next block
//   b: the bf16 input at the item's window origin (padded row oy, column x0, pair 0)
template <int kCoTiles>
void item_sums(float* c, const uint16_t* a, int64_t a_next, const uint16_t* b, const Bf16Input& in, int k,
               int ci_blocks) {
  const int64_t b_stride = static_cast<int64_t>(in.cols) * 4;  // bytes from one channel pair to the next
  const int64_t pair_block = static_cast<int64_t>(in.cols) * 2 * 16;
  amx::zero_sums<kCoTiles>();
  for (int ky = 0; ky < k; ++ky)
    for (int kx = 0; kx < k; ++kx) {
      const uint16_t* b_tap = b + ky * in.row_elems + 2 * kx;
      for (int cb = 0; cb < ci_blocks; ++cb) {
        amx::step_sums<kCoTiles>(a, a_next, b_tap + cb * pair_block, b_stride);
        a += 16 * 32;
      }
    }
  amx::store_sums<kCoTiles>(c);
}

}  // namespace

void conv2d_bf16_packed_amx(const Bf16Output& out, const float* x, int fill_channels,
                            const PackedBf16ConvWeights& packed, const Bf16Input& in, int h, int w,
                            const ConvEpilogue& epi) {
  const int k = packed.k, ci_blocks = packed.cin_padded / 32;
  const int64_t a_next = static_cast<int64_t>(k) * k * ci_blocks * 16 * 32;  // one co block's weights
  amx::for_each_item(out, x, fill_channels, packed, in, h, w, [&](float* c, int oy, int x0, int cp, int co_blocks) {
    const uint16_t* a = packed.data.data() + 2 * cp * a_next;
    const uint16_t* b = in.data + oy * in.row_elems + 2 * x0;
    if (co_blocks == 2)
      item_sums<2>(c, a, a_next, b, in, k, ci_blocks);
    else
      item_sums<1>(c, a, a_next, b, in, k, ci_blocks);
    bf16::store_item(out, c, co_blocks, 32 * cp, oy, x0, h, w, packed.cout, packed.bias.data(), epi);
  });
}

}  // namespace microsr::kernels
