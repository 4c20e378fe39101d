// conv_v7_weight_blocked_amx: conv_v6_implicit_gemm_amx's tile loop with the weights kept in L1
// across several pixel items.
//
// v6 runs each item (one output row, 32 pixels, 32 output channels) over the whole reduction
// (k·k taps x cin/32 channel blocks) with its 4 C tiles in registers, so each item streams all of
// its layer's weights from L2: 2 KiB per (tap, 32 channels) step, as many bytes as its B tiles. At
// ~400 GMAC/s per core the loop was waiting on those loads (perf: samples on tileloadd), not on
// tdpbf16ps. Here a group of up to kGroup = 4 consecutive pixel items (same co pair) walks the
// reduction in chunks; per chunk, every item of the group in turn loads its C tiles (zeros in the
// first chunk), runs the chunk's steps and stores them back:
//   for each group of kGroup pixel items, each co pair:
//     for ky, for each run of up to kChunkBlocks channel blocks cb0..cb1:   (one chunk)
//       for each item of the group:
//         C tiles 0-3 <- c_group[item] (or zero)
//         for kx, for cb in cb0..cb1: 2 A + 2 B loads, 4 tdpbf16ps        (as v6)
//         c_group[item] <- C tiles 0-3
//     epilogue of each item (conv/bf16_input_avx512.h: store_item, as v6)
// A chunk's weights, k x kChunkBlocks x 2 KiB (12 KiB for k = 3), are read from L2 by the first
// item and from L1 by the others (4x less weight traffic from L2), and an item's B rows for the
// chunk (input row oy + ky, kChunkBlocks x 16 channel pairs, 34 columns: ~4.4 KiB) are reused from
// L1 across the k taps kx. c_group is 16 KiB, so chunk weights + C + B stay under SPR's 48 KiB
// L1D. The C tiles go through L1 once per chunk: 8 tile moves per 4 k kChunkBlocks tdpbf16ps.
//
// Same products as v6; the reduction order differs (v6: ky, kx, cb; here: ky, cb chunk, kx, cb),
// so the fp32 sums may differ in the last bits (tests/test_conv_bf16.cpp holds both to the same
// bound against conv2d_same_ref). Fused and unfused bf16 paths run the same kernel, so they still
// agree bit for bit. Same interface, input copy, epilogue and work split (groups instead of items,
// contiguous ranges per thread) as v6.
// Measured: not yet. Written on a machine without AMX (AMD Zen 4) and checked there with the
// tile instructions emulated (tests/amx_emulation/); v6 stays the default until an A/B on AMX
// (docs/performance.md says how to run it).
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstdint>

#include "cpu/conv/amx_tiles.h"
#include "cpu/conv/bf16_input_avx512.h"
#include "cpu/conv/bf16_kernels.h"
#include "cpu/threads.h"

namespace microsr::kernels {
namespace {

constexpr int kGroup = 4;        // pixel items sharing each weight chunk
constexpr int kChunkBlocks = 2;  // 32-channel blocks per chunk (per tap row ky)

// One chunk of one item: the C tiles of c (4 x 256 fp32, tile (co block j, px half i) at
// c + (2j + i) * 256) are loaded (or zeroed when `first`), advanced by the steps kx = 0..k-1,
// cb = cb0..cb1-1 of tap row ky, and stored back.
//   a: packed weights of the first co block (tap 0, ci block 0); a_next: elements to the next block
//   b: the bf16 input at the item's window origin (padded row oy, column x0, pair 0)
template <int kCoTiles>
void chunk_sums(float* c, bool first, const uint16_t* a, int64_t a_next, const uint16_t* b, const Bf16Input& in, int k,
                int ci_blocks, int ky, int cb0, int cb1) {
  const int64_t b_stride = static_cast<int64_t>(in.cols) * 4;  // bytes from one channel pair to the next
  const int64_t pair_block = static_cast<int64_t>(in.cols) * 2 * 16;
  if (first)
    amx::zero_sums<kCoTiles>();
  else
    amx::load_sums<kCoTiles>(c);
  for (int kx = 0; kx < k; ++kx) {
    const uint16_t* b_tap = b + ky * in.row_elems + 2 * kx;
    const uint16_t* a_tap = a + (static_cast<int64_t>(ky * k + kx) * ci_blocks) * 16 * 32;
    for (int cb = cb0; cb < cb1; ++cb) {
      amx::step_sums<kCoTiles>(a_tap + cb * 16 * 32, a_next, b_tap + cb * pair_block, b_stride);
    }
  }
  amx::store_sums<kCoTiles>(c);
}

}  // namespace

void conv2d_bf16_packed_amx_v7(const Bf16Output& out, const float* x, int fill_channels,
                               const PackedBf16ConvWeights& packed, const Bf16Input& in, int h, int w,
                               const ConvEpilogue& epi) {
  const int k = packed.k, cout = packed.cout;
  const int ci_blocks = packed.cin_padded / 32, co_tiles = packed.cout_padded / 16;
  const int co_pairs = (co_tiles + 1) / 2, px_blocks = in.wp / 32;
  const int64_t a_next = static_cast<int64_t>(k) * k * ci_blocks * 16 * 32;  // one co block's weights
  const int64_t pixel_items = static_cast<int64_t>(h) * px_blocks;
  const int64_t groups = (pixel_items + kGroup - 1) / kGroup;
  const int64_t work = groups * co_pairs;

#pragma omp parallel num_threads(team_size())
  {
    // As v6: a plain conv's copy is refilled whole (channels past cin as zeros), a dense block's
    // fill covers x only.
    const int fill_pairs = out.dense ? (fill_channels + 1) / 2 : in.pairs;
    if (x) bf16::fill_input(in, x, fill_channels, h, w, fill_pairs);  // ends with a barrier
    amx::configure_tiles();
    alignas(64) float c_group[kGroup][4 * 256];
    const int thread = omp_get_thread_num(), threads = omp_get_num_threads();
    const int64_t first = work * thread / threads, end = work * (thread + 1) / threads;
    for (int64_t unit = first; unit < end; ++unit) {
      const int cp = static_cast<int>(unit % co_pairs);
      const int64_t item0 = (unit / co_pairs) * kGroup;
      const int group_items = static_cast<int>(std::min<int64_t>(kGroup, pixel_items - item0));
      const bool two = 2 * cp + 1 < co_tiles;
      const uint16_t* a = packed.data.data() + 2 * cp * a_next;
      const uint16_t* b[kGroup];
      for (int g = 0; g < group_items; ++g) {
        const int64_t item = item0 + g;
        b[g] = in.data + (item / px_blocks) * in.row_elems + 2 * (item % px_blocks) * 32;
      }
      for (int ky = 0; ky < k; ++ky)
        for (int cb0 = 0; cb0 < ci_blocks; cb0 += kChunkBlocks) {
          const int cb1 = std::min(ci_blocks, cb0 + kChunkBlocks);
          const bool first_chunk = ky == 0 && cb0 == 0;
          for (int g = 0; g < group_items; ++g) {
            if (two)
              chunk_sums<2>(c_group[g], first_chunk, a, a_next, b[g], in, k, ci_blocks, ky, cb0, cb1);
            else
              chunk_sums<1>(c_group[g], first_chunk, a, a_next, b[g], in, k, ci_blocks, ky, cb0, cb1);
          }
        }
      for (int g = 0; g < group_items; ++g) {
        const int64_t item = item0 + g;
        bf16::store_item(out, c_group[g], two ? 2 : 1, 32 * cp, static_cast<int>(item / px_blocks),
                         static_cast<int>(item % px_blocks) * 32, h, w, cout, packed.bias.data(), epi);
      }
    }
    _tile_release();
  }
}

}  // namespace microsr::kernels
