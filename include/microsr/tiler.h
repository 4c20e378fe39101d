// Tiled inference, cropping and pasting exactly as Real-ESRGAN's RealESRGANer.tile_process does:
// the image is cut into tile×tile pieces, each run with `tile_pad` pixels of context on every
// side (clamped at the image border), and only the un-padded centre of each output is pasted.
#pragma once
#include <functional>

#include "microsr/rrdbnet.h"

namespace microsr {

struct TileOptions {
  int tile = 0;      // 0: the whole image at once
  int tile_pad = 10;
  // Called after each tile with (tiles done, tiles total).
  std::function<void(int, int)> on_tile;
};

// x: [1][C][H][W] on the host, in [0,1]. Returns [1][C'][H·s][W·s] on the host.
Tensor upscale_tiled(RRDBNet& net, Backend& backend, const Tensor& x, const TileOptions& opt);

}  // namespace microsr
