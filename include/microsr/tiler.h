// Tiled inference: an image too large for one forward pass is cut into tiles, each tile is run
// with `tile_pad` pixels of context on every side (clamped at the image border), and the outputs
// are put back together. Two ways of putting them back:
//
//   TileMode::realesrgan  exactly RealESRGANer.tile_process (Real-ESRGAN's realesrgan/utils.py):
//                         tiles of tile×tile from the top-left corner (the last row/column may be
//                         narrower), and only each tile's un-padded centre is pasted. Together with
//                         pre_pad and the mod padding below, the output equals theirs.
//   TileMode::blend       the tiles are spread evenly over the image, every piece has the same
//                         size (the largest tile plus tile_pad on each side, shifted inside the
//                         image at its edges, so edge tiles get more context, and all tiles can
//                         share a batch and one recorded CUDA graph), and across each seam the
//                         two neighbours are cross-faded with a raised-cosine ramp over
//                         ±blend_width input pixels (inside the context both of them computed),
//                         so no tile edge shows as a step. Same pieces and cost as realesrgan
//                         with the same tile and tile_pad. The default: on RealESRGAN_x4plus
//                         (400×300 image, 100-pixel tiles) it halves the step across seams
//                         (1.48 → 0.79 /255 at tile_pad 10, 0.67 → 0.38 at 32), lowers the worst
//                         pixel error and keeps or raises the PSNR against the untiled output.
//
// Before tiling, as RealESRGANer.pre_process does: the image is reflect-padded by `pre_pad` on the
// bottom and right, and for scale 2 / 1 models further reflect-padded to a multiple of 2 / 4; the
// output is cropped back to H·scale × W·scale afterwards.
//
// A forward pass that runs out of memory (std::bad_alloc, or an Error mentioning "out of memory")
// is retried from the start with the tile halved, down to `min_tile`, then an Error is thrown.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "microsr/rrdbnet.h"

namespace microsr {

enum class TileMode { realesrgan, blend };
const char* tile_mode_name(TileMode mode);
// "realesrgan" or "blend"; anything else throws Error naming the choices.
TileMode parse_tile_mode(const std::string& name);

struct TileOptions {
  int tile = 0;       // tile size in input pixels; 0: the whole image at once; < 0: the largest
                      // that fits the backend's memory_for_tiles() (auto_tile_size)
  int tile_pad = 10;  // context on each side of a tile, in input pixels
  int pre_pad = 0;    // reflect padding on the bottom and right before tiling (RealESRGANer's pre_pad)
  TileMode mode = TileMode::blend;
  // Blend mode: cross-fade half-width in input pixels (at most tile_pad); < 0: tile_pad / 2, which
  // keeps the tile_pad / 2 pixels nearest a piece's edge, its least accurate, out of the output.
  int blend_width = -1;
  int batch = 1;      // tiles of equal size per forward call (helps on GPUs; nothing on the CPU)
  int min_tile = 32;  // out-of-memory retries stop below this tile size
  // Called after each tile with (tiles done, tiles total); a retry starts the count again.
  std::function<void(int, int)> on_tile;
  // Called when a forward pass ran out of memory, with the tile size that will be tried next.
  std::function<void(int)> on_retry;
};

// x: [1][C][H][W] on the host, in [0,1]. Returns [1][C'][H·s][W·s] on the host (not clamped).
Tensor upscale_tiled(RRDBNet& net, Backend& backend, const Tensor& x, const TileOptions& opt);

// Peak bytes one forward pass of `config` allocates for a batch of n pieces of h×w input pixels
// (activations and the input/output; weights excluded). Calibrated with getrusage, see tile_memory.cpp.
// bytes_per_value: 4 for float32 activations (CPU, CUDA fp32), 2 for the CUDA backend's fp16.
int64_t estimate_forward_bytes(const RRDBNetConfig& config, int64_t h, int64_t w, int64_t n = 1,
                               int bytes_per_value = 4);
// The largest tile (a multiple of 8, at least 16) whose padded piece fits `available_bytes`;
// 0 when the whole image (height × width) fits in one pass. For a backend, pass its
// memory_for_tiles() and bytes_per_activation() (microsr/backend.h): no device-specific branch.
int auto_tile_size(const RRDBNetConfig& config, int64_t available_bytes, int tile_pad = 10, int64_t height = 0,
                   int64_t width = 0, int bytes_per_value = 4);
// The host memory a new allocation can use now (MemAvailable of /proc/meminfo), or 0 if unknown.
int64_t available_host_memory();

}  // namespace microsr
