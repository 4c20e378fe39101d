// conv_v9_pixel_major_amx: the bf16 convolution (conv/bf16.h) as an implicit GEMM on AMX tiles with
// the roles of v6 swapped: the input is the A operand (rows = pixels) and the weights are B.
//
// Why: v6 reads its input as B tiles, a row of which is 16 pixels of one channel pair (64 bytes);
// the tap kx shifts that row 4 kx bytes, so two of the three taps' rows straddle two cache lines,
// and the pair rows are cols * 4 bytes apart, rarely a multiple of 64, so most rows straddle at
// every tap. Here the input copy is pixel-major (conv/bf16_kernels.h: Bf16Input::pixel_major): a
// pixel's 32 channels of one block are one 64-byte line, so an A tile (16 pixels x 32 channels) is
// 16 whole lines at every tap, and the 32 pixels of an item are 2 KiB in a row.
//
// Per output row oy, 32 output pixels x0..x0+31 and 32 output channels (two 16-channel blocks):
//   C[px][co] (fp32, 16 x 16 per tile) += Σ_tap Σ_ci-block A[px][32 ci] · B[16 ci pairs][co][2]
//   tiles 0..3  C: (co block 0, px 0-15), (co 0, px 16-31), (co 1, px 0-15), (co 1, px 16-31)
//   tiles 4, 5  A: pixels 0-15 and 16-31 of the input at row oy + ky, column x0 + kx, one block
//   tiles 6, 7  B: the weights of co block 0 and 1 at this tap and block (packed.data_b, 1 KiB each)
// 4 tile loads feed 4 tdpbf16ps, as in v6. A layer with an odd number of 16-channel blocks runs
// the last block with tiles 0, 1 only.
// Epilogue: the C tiles are stored to c (rows = pixels). Into fp32 NCHW y, each tile is transposed
// (16 x 16, in registers) to rows = channels and goes through v6's epilogue (store_item); into a
// dense (bf16, pixel-major) buffer, each pixel's 16 or 32 channels get bias + LeakyReLU, are
// rounded and stored as one run of its line: no transpose.
//
// Work: as v6 (conv/amx_items.h).
//
// Compiled with the AVX-512 flags + -mavx512bf16 -mamx-tile -mamx-bf16 (CMakeLists.txt: the
// *_amx.cpp rule); called only when active_cpu_isa() >= amx (conv/bf16_dispatch.cpp).
#include <immintrin.h>

#include <cstdint>

#include "cpu/conv/amx_items.h"

namespace microsr::kernels {
namespace {

// c [kCoTiles * 2][16 px][16 co]: the sums of one item, tile (co block j, px half i) at c + (2j + i) * 256.
//   a: the pixel-major input at the item's window origin (padded row oy, block 0, column x0)
//   b: packed.data_b of the first co block at tap 0, block 0; b_next: elements to the next co block
template <int kCoTiles>
void pixel_major_item_sums(float* c, const uint16_t* a, const uint16_t* b, int64_t b_next, const Bf16Input& in, int k,
               int ci_blocks) {
  const int64_t block_elems = static_cast<int64_t>(in.cols) * 32;  // one 32-channel block of a padded row
  amx::zero_sums<kCoTiles>();
  for (int ky = 0; ky < k; ++ky)
    for (int kx = 0; kx < k; ++kx) {
      const uint16_t* a_tap = a + ky * in.row_elems + 32 * kx;
      for (int cb = 0; cb < ci_blocks; ++cb) {
        _tile_loadd(4, a_tap + cb * block_elems, 64);
        _tile_loadd(5, a_tap + cb * block_elems + 16 * 32, 64);
        _tile_loadd(6, b, 64);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 5, 6);
        if constexpr (kCoTiles == 2) {
          _tile_loadd(7, b + b_next, 64);
          _tile_dpbf16ps(2, 4, 7);
          _tile_dpbf16ps(3, 5, 7);
        }
        b += 16 * 32;
      }
    }
  amx::store_sums<kCoTiles>(c);
}

// Each tile of c from rows = pixels to rows = channels (store_item's layout), in place.
void transpose_tiles(float* c, int co_blocks) {
  for (int t = 0; t < 2 * co_blocks; ++t) {
    __m512i rows[16];
    for (int r = 0; r < 16; ++r) rows[r] = _mm512_load_si512(c + t * 256 + 16 * r);
    bf16::transpose_16x16(rows);
    for (int r = 0; r < 16; ++r) _mm512_store_si512(c + t * 256 + 16 * r, rows[r]);
  }
}

// The dense epilogue: act(sums + bias) of channels co0 .. co0 + 16 co_blocks - 1 (those below cout)
// of each pixel below w, rounded to bf16 into the pixel-major buffer d at channel out.channel0 + co
// of padded row oy. c rows are pixels (pixel_major_item_sums' layout). Pixels from w on are not written (the
// buffer's padding, zero since it was made).
void store_item_dense(const Bf16Output& out, const float* c, int co_blocks, int co0, int oy, int x0, int w, int cout,
                      const float* bias, const ConvEpilogue& epi) {
  const Bf16Input& d = *out.dense;
  const __m512 slope = _mm512_set1_ps(epi.lrelu_slope);
  uint16_t* row = d.data + static_cast<int64_t>(oy + d.pad) * d.row_elems;
  for (int j = 0; j < co_blocks; ++j) {
    const int co = co0 + 16 * j, channel = out.channel0 + co;
    const int count = cout - co < 16 ? cout - co : 16;  // channels of this block below cout
    if (count <= 0) break;
    const __m512 bias_j = _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << count) - 1), bias + co);
    uint16_t* block = row + static_cast<int64_t>(channel / 32) * d.cols * 32;
    for (int i = 0; i < 2; ++i)
      for (int p = 0; p < 16 && x0 + 16 * i + p < w; ++p) {
        __m512 v = _mm512_add_ps(_mm512_load_ps(c + (2 * j + i) * 256 + 16 * p), bias_j);
        if (epi.has_lrelu) v = _mm512_mask_mul_ps(v, _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ), v, slope);
        const __m256i bits = (__m256i)_mm512_cvtneps_pbh(v);
        uint16_t* pixel = block + 32 * (d.pad + x0 + 16 * i + p);
        if (channel % 16 == 0) {  // 16 channels in one run of the line (RRDBNet: always)
          _mm256_mask_storeu_epi16(pixel + channel % 32, static_cast<__mmask16>((1u << count) - 1), bits);
        } else {  // a run that may cross into the next block: element by element
          alignas(32) uint16_t values[16];
          _mm256_store_si256(reinterpret_cast<__m256i*>(values), bits);
          for (int m = 0; m < count; ++m) {
            const int ch = channel + m;
            row[static_cast<int64_t>(ch / 32) * d.cols * 32 + 32 * (d.pad + x0 + 16 * i + p) + ch % 32] = values[m];
          }
        }
      }
  }
}

}  // namespace

void conv2d_bf16_packed_amx_v9(const Bf16Output& out, const float* x, int fill_channels,
                               const PackedBf16ConvWeights& packed, const Bf16Input& in, int h, int w,
                               const ConvEpilogue& epi) {
  const int k = packed.k, ci_blocks = packed.cin_padded / 32;
  const int64_t b_next = static_cast<int64_t>(k) * k * ci_blocks * 16 * 32;  // one co block's weights
  amx::for_each_item(out, x, fill_channels, packed, in, h, w, [&](float* c, int oy, int x0, int cp, int co_blocks) {
    const uint16_t* a = in.data + oy * in.row_elems + 32 * x0;
    const uint16_t* b = packed.data_b.data() + 2 * cp * b_next;
    if (co_blocks == 2)
      pixel_major_item_sums<2>(c, a, b, b_next, in, k, ci_blocks);
    else
      pixel_major_item_sums<1>(c, a, b, b_next, in, k, ci_blocks);
    if (out.dense) {
      store_item_dense(out, c, co_blocks, 32 * cp, oy, x0, w, packed.cout, packed.bias.data(), epi);
    } else {
      transpose_tiles(c, co_blocks);
      bf16::store_item(out, c, co_blocks, 32 * cp, oy, x0, h, w, packed.cout, packed.bias.data(), epi);
    }
  });
}

}  // namespace microsr::kernels
