// RRDBNet's residual dense block as a wavefront over bands of tile rows, for the Winograd kernels
// that transform each channel once per block: conv_v5 (fp32 F(4x4, 3x3), conv/winograd43_driver.h)
// and conv_v10 (bf16 F(2x2, 3x3), conv/v10_winograd23_avx512bf16.cpp). The kernel supplies the
// transform of a run of tile groups and the convolution of such a run; this file owns the order,
// the ring of transformed bands and the split among threads.
//
// The block:  x_j = LeakyReLU(conv_j([x, x1 .. x(j-1)])) for j = 1..4,
//             out = x + residual_scale * conv5([x, x1 .. x4]).
// Conv j reads the transformed channels of x, x1 .. x(j-1): transforming each slice once, as it is
// made, does 64 + 4*32 = 192 channel transforms per block instead of 64 + 96 + 128 + 160 + 192 = 640.
//
// The wavefront: conv j on band b reads the transformed channels of band b only, and x_c's band b
// can be transformed once conv c has made band b + 1 (the windows of band b's last tile row reach
// two rows into band b + 1). So step s runs, in order: transform x's band s; then for j = 1..5,
// conv j on band s - (j-1) and (j < 5) the transform of x_j's band s - j. A band's transformed
// channels live from step b to step b + 4: five bands at a time, in a ring of 5 slots, small
// enough to stay in cache, where the whole image's (300 MB at 440² in bf16, 0.7 GB in fp32) would
// come back from memory; and no padded copy of the whole dense tensor is made per convolution.
//
// Layouts
//   Slot (one band, all nf + 4g channels): [positions ξ][channel c][band tiles] elements, as the
//     kernel defines them (bf16 keeps channel pairs interleaved per tile: the pair's row holds
//     2 * band tiles elements, the same offset c * band_tiles for an even c). Rows of tiles are
//     band_tiles = band rows x tiles per row long, so any run of groups is a column range.
//   The transforms read their windows straight from the activations (x, and x1..x4 as they are
//     made), zeros outside the image: no padded copy of a band is made.
//   x1..x4 stay fp32 in `slices` [4][g][h][w]; out is [nf][h][w].
// Threads: every band's groups are split evenly among the threads (in whole groups), the same way
// for the transforms and the convolutions, so a thread reads back only transformed tiles it wrote;
// each thread cuts its share into batches of at most max_groups groups for the micro-kernel.
// Barriers: one per transform (everyone is done with the convolution that made the rows it reads).
// Where it pays: in bf16 at every size (the transformed tiles take 2 bytes); in fp32 (4 bytes, and
// F(4x4)'s 36 positions per 16 pixels) only while the whole image's transformed channels stay in
// cache, ~64x64 (conv/variants.h: dense_block_fusable has the measurements).
//
// Included by ISA translation units only; in an anonymous namespace so that each compiles its own
// copy with its own flags (see conv/epilogue_avx2.h).
#pragma once
#include <omp.h>

#include <cstdint>

#include "cpu/conv/common.h"
#include "cpu/threads.h"

namespace microsr::kernels::wavefront {
namespace {

constexpr int kRingSlots = 5;

// The geometry of one block's wavefront: the image's tiles, the bands, and the ring's sizes.
struct Plan {
  int h = 0, w = 0;
  int tile = 0;           // output rows of a tile row (the Winograd tile's side)
  int tile_rows = 0;      // tile rows of the image
  int tiles_per_row = 0;  // a multiple of group_tiles
  int group_tiles = 0;    // tiles of one transform call (they lie in one tile row)
  int max_groups = 0;     // groups of one micro-kernel call at most
  int band_rows = 0;      // tile rows per band
  int bands = 0;
  int band_tiles = 0;      // band_rows * tiles_per_row: the length of a slot's rows
  int64_t slot_elems = 0;  // elements of one slot: positions * channels * band_tiles
};

// Tile rows per band: a band's transformed channels about 1.5 MB (in L2 while the block's convs
// read it, and the ring in L3), but at least a full batch for every thread (narrow images: thin
// batches waste the micro-kernel); one band (no wavefront) when the whole image's take at most
// 8 MB. Measured with conv_v10 on Zen 4 (2 threads, one pass at 440²): 14.4 s with the whole
// image's store, 12.4 s with 1-row bands (1.4 MB), 14.5 s with 3-row bands (4 MB); more bands than
// needed cost barriers (~10 µs each on that VM: 3-row bands at 64² took 0.37 s instead of 0.20 s).
int choose_band_rows(int tile_rows, int groups_per_row, int max_groups, int64_t row_bytes) {
  if (const int forced = detail::forced_dense_block_band_rows()) return forced < tile_rows ? forced : tile_rows;
  if (row_bytes * tile_rows <= (8 << 20)) return tile_rows;
  int rows = static_cast<int>((3 << 19) / row_bytes);
  const int for_full_batches = (team_size() * max_groups + groups_per_row - 1) / groups_per_row;
  if (rows < for_full_batches) rows = for_full_batches;
  if (rows < 1) rows = 1;
  return rows < tile_rows ? rows : tile_rows;
}

// positions: ξ per tile; channels: nf + 4g (all that the ring holds); elem_bytes: of a transformed
// element (4 fp32, 2 bf16).
Plan make_plan(int h, int w, int tile, int group_tiles, int max_groups, int positions, int channels, int elem_bytes) {
  Plan p;
  p.h = h, p.w = w, p.tile = tile, p.group_tiles = group_tiles, p.max_groups = max_groups;
  p.tile_rows = (h + tile - 1) / tile;
  p.tiles_per_row = ((w + tile - 1) / tile + group_tiles - 1) / group_tiles * group_tiles;
  const int64_t row_bytes = static_cast<int64_t>(p.tiles_per_row) * positions * channels * elem_bytes;
  p.band_rows = choose_band_rows(p.tile_rows, p.tiles_per_row / group_tiles, max_groups, row_bytes);
  p.bands = (p.tile_rows + p.band_rows - 1) / p.band_rows;
  p.band_tiles = p.band_rows * p.tiles_per_row;
  p.slot_elems = static_cast<int64_t>(positions) * channels * p.band_tiles;
  return p;
}

// Runs the block; called by every thread of a parallel region.
//   transform(Elem* slot, int channel0, int channels, int64_t first group in band, int groups,
//             const float* src, int band): the transform of `channels` channels of src
//             [channels][h][w]'s band into the slot's rows channel0 ...;
//   convolve(int j (0..4), const Elem* slot, float* y, const ConvEpilogue& epi, int64_t first group
//            in band, int64_t first group in image, int groups): conv j+1's products and outputs.
template <class Elem, class Transform, class Convolve>
void run(const Plan& plan, float* out, const float* x, int nf, int g, float lrelu_slope, float residual_scale,
         Elem* ring, float* slices, Transform transform, Convolve convolve) {
  const int64_t plane = static_cast<int64_t>(plan.h) * plan.w;
  const int64_t groups_per_row = plan.tiles_per_row / plan.group_tiles;
  ConvEpilogue act;
  act.has_lrelu = true;
  act.lrelu_slope = lrelu_slope;
  ConvEpilogue residual;
  residual.scale = residual_scale;
  residual.residual = x;
  const int thread = omp_get_thread_num(), threads = omp_get_num_threads();

  // This thread's share of band b's groups, in batches of at most max_groups:
  // body(first group in band, groups).
  auto for_my_batches = [&](int b, auto&& body) {
    const int rows = (b + 1) * plan.band_rows <= plan.tile_rows ? plan.band_rows : plan.tile_rows - b * plan.band_rows;
    const int64_t groups = rows * groups_per_row;
    const int64_t first = groups * thread / threads, end = groups * (thread + 1) / threads;
    const int64_t batches = (end - first + plan.max_groups - 1) / plan.max_groups;
    for (int64_t i = 0; i < batches; ++i) {
      const int64_t from = first + (end - first) * i / batches, to = first + (end - first) * (i + 1) / batches;
      body(from, static_cast<int>(to - from));
    }
  };
  auto slot = [&](int b) { return ring + (b % kRingSlots) * plan.slot_elems; };
  // Transforms src [channels][h][w]'s band b into the slot's channels channel0 ...
  auto transform_band = [&](const float* src, int channels, int channel0, int b) {
#pragma omp barrier
    for_my_batches(b,
                   [&](int64_t first, int groups) { transform(slot(b), channel0, channels, first, groups, src, b); });
  };
  for (int step = 0; step < plan.bands + 4; ++step) {
    if (step < plan.bands) transform_band(x, nf, 0, step);
    for (int j = 1; j <= 5; ++j) {
      const int b = step - (j - 1);
      float* made = j < 5 ? slices + (j - 1) * static_cast<int64_t>(g) * plane : out;
      if (b >= 0 && b < plan.bands) {
        const int64_t band_first = static_cast<int64_t>(b) * plan.band_rows * groups_per_row;
        for_my_batches(b, [&](int64_t first, int groups) {
          convolve(j - 1, slot(b), made, j < 5 ? act : residual, first, band_first + first, groups);
        });
      }
      if (j < 5 && b >= 1 && b <= plan.bands) transform_band(made, g, nf + (j - 1) * g, b - 1);
    }
  }
}

}  // namespace
}  // namespace microsr::kernels::wavefront
