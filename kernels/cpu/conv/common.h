// Pieces shared by the optimized CPU convolutions (conv/v1_direct.cpp ... conv/v4_winograd43_3x32.cpp):
// the zero-padded input copy and channel-blocked weight packing. Compiled into baseline and ISA
// translation units alike, so it holds declarations only (no inline code: see cpu_isa.h).
#pragma once
#include <cstdint>
#include <vector>

#include "cpu/conv/variants.h"
#include "cpu/cpu_kernels.h"

namespace microsr::kernels::detail {

// A zero-padded copy of x [cin][h][w]:
//   data [cin][plane], channel ci's image starts at data + ci*plane and is stored as rows of
//   `row_stride` floats; image pixel (iy, ix) sits at row iy + pad_top, column ix + pad_left.
//   Everything else in the plane (border, right margin, tail slack) is zero, so a kernel may read
//   any position in [0, plane) of any channel (and `tail_slack` floats past the last channel).
struct PaddedInput {
  const float* data = nullptr;
  int row_stride = 0;
  int64_t plane = 0;
};

// Sizes `scratch` (grown, never shrunk, so a layer called repeatedly does not re-fault pages) and
// returns the layout: rows = pad_top + h + pad_bottom, plane = rows*row_stride rounded up to 16
// floats (64 bytes). Call from one thread, outside a parallel region.
PaddedInput layout_padded_input(std::vector<float>& scratch, int cin, int rows, int row_stride, int64_t tail_slack);
// Copies x [cin][h][w] into the layout and zeroes the rest. Work-shares over channels with an
// orphaned `omp for`: call it from every thread of a parallel region (it ends with a barrier),
// or from outside one (then it runs serially).
void fill_padded_input(const PaddedInput& padded, const float* x, int cin, int h, int w, int pad_top, int pad_left,
                       int64_t tail_slack);
// The same for the nearest x2 upsampling of x [cin][h/2][w/2] (h, w even: the upsampled size),
// without making it: the same values as upsample_nearest2x_ref followed by fill_padded_input.
void fill_padded_input_upsampled2x(const PaddedInput& padded, const float* x, int cin, int h, int w, int pad_top,
                                   int pad_left, int64_t tail_slack);
// Both of the above, with its own parallel region.
PaddedInput pad_input(std::vector<float>& scratch, const float* x, int cin, int h, int w, int pad_top, int pad_left,
                      int rows, int row_stride, int64_t tail_slack);

// Packs weight [cout][cin][k][k] into blocks of `co_block` output channels,
// [ceil(cout/co_block)][cin][k][k][co_block] (the last block zero-filled): the layout both direct
// kernels read, where the co_block weights of one tap sit side by side.
PackedConvWeights pack_channel_blocked(const float* weight, const float* bias, int cin, int cout, int k, int co_block,
                                       ConvWeightFormat format);

// The scratch vector of the calling thread (which = 0..3: 0 the convolutions' padded input, 2 and 3
// the weight gradients' padded x and dy), reused by every call on this thread.
std::vector<float>& thread_scratch(int which);
// A 64-byte aligned buffer of at least `floats` floats owned by the calling thread (which = 0 to 6,
// below), grown, never shrunk; its contents are unspecified. Defined in a baseline translation unit,
// so the ISA kernels call it instead of instantiating std::vector code of their own (cpu_isa.h).
//   which: 0, 1 the Winograd convolutions' V and M; 2 the weight gradients' per-thread products
//   (on the calling thread), 3, 4 their per-thread transformed tiles; 5, 6 the fp32 dense block's
//   ring of transformed bands and its x1..x4 (conv/dispatch.cpp, on the calling thread).
float* thread_aligned_buffer(int which, int64_t floats);

// Whether convs[0..4] form RRDBNet's dense block: conv j is nf + j g -> g (conv5: -> nf), all 3x3,
// packed in one format with one co_block (nf = convs[0]->cin, g = convs[0]->cout).
bool forms_dense_block(const PackedConvWeights* const convs[5]);

// Tile rows per band of the dense blocks' wavefront (conv/dense_block_wavefront.h), for tests:
// force_dense_block_band_rows(n) makes every later block use n (0: the automatic choice, by size).
void force_dense_block_band_rows(int tile_rows);
int forced_dense_block_band_rows();

}  // namespace microsr::kernels::detail
