// The work split shared by the AMX kernels conv_v6 and conv_v9 (one item = output row oy, 32
// pixels from x0, output channels 32 cp .. 32 cp + 31): the bf16 input copy is filled by all
// threads, then the items are split into equal contiguous ranges, co pairs innermost so that
// consecutive items reuse the same input rows from L1/L2. Included by the *_amx.cpp translation
// units only; in an anonymous namespace like the other ISA headers (conv/amx_tiles.h).
#pragma once
#include <omp.h>

#include <cstdint>

#include "cpu/conv/amx_tiles.h"
#include "cpu/conv/bf16_input_avx512.h"
#include "cpu/conv/bf16_kernels.h"
#include "cpu/threads.h"

namespace microsr::kernels::amx {
namespace {

// run_item(c, oy, x0, cp, co_blocks): the item's sums into c (4 x 256 fp32, 64-byte aligned) and
// its epilogue; co_blocks (1 or 2) is how many 16-channel blocks of the pair exist. Tiles are
// configured for every thread before its first item and released after its last.
template <class RunItem>
void for_each_item(const Bf16Output& out, const float* x, int fill_channels, const PackedBf16ConvWeights& packed,
                   const Bf16Input& in, int h, int w, RunItem run_item) {
  const int co_tiles = packed.cout_padded / 16;
  const int co_pairs = (co_tiles + 1) / 2, px_blocks = in.wp / 32;
  const int64_t items = static_cast<int64_t>(h) * px_blocks * co_pairs;

#pragma omp parallel num_threads(team_size())
  {
    // A plain conv's copy is refilled whole, channels past cin as zeros (the buffer is shared by
    // every layer and may hold another's values, Inf and NaN included, which zero weights would
    // not cancel); a dense block's fill covers x only, the later pairs are the block's activations.
    const int fill_pairs = out.dense ? (fill_channels + 1) / 2 : in.pairs;
    if (x) bf16::fill_input(in, x, fill_channels, h, w, fill_pairs);  // ends with a barrier
    configure_tiles();
    alignas(64) float c[4 * 256];
    const int thread = omp_get_thread_num(), threads = omp_get_num_threads();
    const int64_t first = items * thread / threads, end = items * (thread + 1) / threads;
    for (int64_t item = first; item < end; ++item) {
      const int cp = static_cast<int>(item % co_pairs);
      const int64_t rest = item / co_pairs;
      const int x0 = static_cast<int>(rest % px_blocks) * 32, oy = static_cast<int>(rest / px_blocks);
      run_item(c, oy, x0, cp, 2 * cp + 1 < co_tiles ? 2 : 1);
    }
    _tile_release();
  }
}

}  // namespace
}  // namespace microsr::kernels::amx
