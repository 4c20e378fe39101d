// conv_v8_dpbf16_avx512bf16: the bf16 convolution (conv/bf16.h) with AVX512_BF16's vdpbf16ps, for
// CPUs that have AVX512_BF16 but no AMX (AMD Zen 4 and later, Intel Cooper Lake).
//
// The same packed weights and bf16 input copy as the AMX kernels (conv/bf16_kernels.h): a zmm load
// at (padded row, channel pair p, column) is 16 pixels x (channel 2p, 2p + 1), and a packed weight
// row holds 32 consecutive input channels of one output channel, so a 32-bit broadcast from it is
// the pair (w[co][2p], w[co][2p + 1]). One vdpbf16ps adds both products to 16 pixels' sums:
//   acc[co][px 0..15] += x[2p][px] w[co][2p] + x[2p + 1][px] w[co][2p + 1]
// Per item (output row oy, 32 pixels x0..x0+31, 8 output channels co0..co0+7):
//   acc [8 co][2 x 16 px]  16 zmm accumulators
//   per (ky, kx, pair): 2 input loads (the tap only shifts the address: no im2col), 8 weight
//   broadcasts, 16 vdpbf16ps
// The reduction covers the pairs holding channels 0..cin-1 only (weights past cin are zero).
// Eight channels always fit the packing (cout_padded is a multiple of 16 and co0 of 8), so the last
// block computes its padded channels too and stores only those below cout. Then each row of 16
// sums goes through the fp32 epilogue into y (conv/bf16_input_avx512.h: store_16), or, inside a dense
// block, two rows (channels co, co + 1) through store_pair_bf16 into the dense buffer, as v6 does.
//
// Work: the input copy is filled by all threads, then (oy, 32-pixel block, 8-channel block) items
// are split into equal contiguous ranges, channel blocks innermost (the same input rows from L1).
// Same products as the AMX kernels, summed in another order (pairs first, in fp32 with the
// instruction's own rounding), so the results agree to the bf16 bound of tests/test_conv_bf16.cpp,
// not bit for bit; fused and unfused bf16 paths run the same kernel and agree bit for bit.
//
// Compiled with the AVX-512 flags + -mavx512bf16 (CMakeLists.txt: the *_avx512bf16.cpp rule); run
// only when active_cpu_isa() >= avx512_bf16 (conv/bf16_dispatch.cpp).
#include <immintrin.h>
#include <omp.h>

#include <cstdint>

#include "cpu/conv/bf16_input_avx512.h"
#include "cpu/conv/bf16_kernels.h"
#include "cpu/threads.h"

namespace microsr::kernels {
namespace {

constexpr int kCoBlock = 8;  // output channels per item
constexpr int kPixVecs = 2;  // 16-pixel vectors per item (the input copy's 32-pixel block)

// acc[c][v] = Σ over taps and the first `pairs` channel pairs, for output channel co0 + c and
// pixels x0 + 16 v ... + 15 of row oy.
//   w: packed weights (conv/bf16.h layout); b: the input copy at padded row oy, column x0, pair 0
void item_sums(__m512 acc[kCoBlock][kPixVecs], const uint16_t* w, int co0, const uint16_t* b, const Bf16Input& in,
               int k, int ci_blocks, int pairs) {
  for (int c = 0; c < kCoBlock; ++c)
    for (int v = 0; v < kPixVecs; ++v) acc[c][v] = _mm512_setzero_ps();
  const int64_t pair_stride = static_cast<int64_t>(in.cols) * 2;  // elements from one pair to the next
  // The 16-channel weight block holding co0 (co0 % 16 is 0 or 8): rows co0 % 16 ... + 7.
  const uint16_t* w_block = w + static_cast<int64_t>(co0 / 16) * k * k * ci_blocks * 512 + (co0 % 16) * 32;
  for (int ky = 0; ky < k; ++ky)
    for (int kx = 0; kx < k; ++kx) {
      const uint16_t* b_tap = b + ky * in.row_elems + 2 * kx;
      const uint16_t* w_tap = w_block + static_cast<int64_t>(ky * k + kx) * ci_blocks * 512;
      for (int p = 0; p < pairs; ++p) {
        const uint16_t* bp = b_tap + p * pair_stride;
        const __m512bh x0 = (__m512bh)_mm512_loadu_si512(bp);
        const __m512bh x1 = (__m512bh)_mm512_loadu_si512(bp + 32);
        const uint16_t* wp = w_tap + (p / 16) * 512 + 2 * (p % 16);  // row c at wp + 32 c
        for (int c = 0; c < kCoBlock; ++c) {
          int32_t pair_bits;
          __builtin_memcpy(&pair_bits, wp + 32 * c, 4);
          const __m512bh wc = (__m512bh)_mm512_set1_epi32(pair_bits);
          acc[c][0] = _mm512_dpbf16_ps(acc[c][0], x0, wc);
          acc[c][1] = _mm512_dpbf16_ps(acc[c][1], x1, wc);
        }
      }
    }
}

}  // namespace

void conv2d_bf16_packed_avx512bf16(const Bf16Output& out, const float* x, int fill_channels,
                                   const PackedBf16ConvWeights& packed, const Bf16Input& in, int h, int w,
                                   const ConvEpilogue& epi) {
  const int k = packed.k, cout = packed.cout;
  const int ci_blocks = packed.cin_padded / 32, pairs = (packed.cin + 1) / 2;
  const int co_blocks = (cout + kCoBlock - 1) / kCoBlock, px_blocks = in.wp / 32;
  const int64_t items = static_cast<int64_t>(h) * px_blocks * co_blocks;
  const int64_t plane = static_cast<int64_t>(h) * w;

#pragma omp parallel num_threads(team_size())
  {
    // As v6: a plain conv's copy is refilled whole (channels past cin as zeros), a dense block's
    // fill covers x only.
    const int fill_pairs = out.dense ? (fill_channels + 1) / 2 : in.pairs;
    if (x) bf16::fill_input(in, x, fill_channels, h, w, fill_pairs);  // ends with a barrier
    const int thread = omp_get_thread_num(), threads = omp_get_num_threads();
    const int64_t first = items * thread / threads, end = items * (thread + 1) / threads;
    for (int64_t item = first; item < end; ++item) {
      const int co0 = static_cast<int>(item % co_blocks) * kCoBlock;
      const int64_t rest = item / co_blocks;
      const int x0 = static_cast<int>(rest % px_blocks) * 32, oy = static_cast<int>(rest / px_blocks);
      __m512 acc[kCoBlock][kPixVecs];
      item_sums(acc, packed.data.data(), co0, in.data + oy * in.row_elems + 2 * x0, in, k, ci_blocks, pairs);
      for (int v = 0; v < kPixVecs; ++v) {
        const int n = w - (x0 + 16 * v);
        if (n <= 0) continue;
        if (out.dense) {  // channel pairs (c, c + 1), bf16, into the dense buffer's padded row oy
          const Bf16Input& d = *out.dense;
          for (int c = 0; c < kCoBlock && co0 + c < cout; c += 2) {
            const int co = co0 + c;
            uint16_t* dst = d.data + static_cast<int64_t>(oy + d.pad) * d.row_elems +
                            static_cast<int64_t>((out.channel0 + co) / 2) * d.cols * 2 + 2 * (d.pad + x0 + 16 * v);
            bf16::store_pair_bf16(dst, acc[c][v], acc[c + 1][v], packed.bias[co], packed.bias[co + 1], epi, n);
          }
          continue;
        }
        for (int c = 0; c < kCoBlock && co0 + c < cout; ++c)
          bf16::store_16(out.y, acc[c][v], packed.bias[co0 + c], epi,
                         (co0 + c) * plane + static_cast<int64_t>(oy) * w + x0 + 16 * v, n, out.skip, out.skip_scale);
      }
    }
  }
}

}  // namespace microsr::kernels
