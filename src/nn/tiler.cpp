#include "microsr/tiler.h"

#include <algorithm>
#include <cstring>

namespace microsr {

// Copies rows/cols [y0, y1) × [x0, x1) of every channel of src [1][C][H][W] into a new tensor.
static Tensor crop(const Tensor& src, int64_t y0, int64_t y1, int64_t x0, int64_t x1) {
  const int64_t c = src.dim(1), h = src.dim(2), w = src.dim(3);
  Tensor out = Tensor::empty({1, c, y1 - y0, x1 - x0});
  for (int64_t k = 0; k < c; ++k)
    for (int64_t y = y0; y < y1; ++y)
      std::memcpy(out.f32() + (k * (y1 - y0) + (y - y0)) * (x1 - x0), src.f32() + (k * h + y) * w + x0,
                  (x1 - x0) * sizeof(float));
  return out;
}

Tensor upscale_tiled(RRDBNet& net, Backend& backend, const Tensor& x, const TileOptions& opt) {
  require(x.rank() == 4 && x.dim(0) == 1, "upscale_tiled expects one image [1, C, H, W], got " + x.describe());
  const int64_t h = x.dim(2), w = x.dim(3);
  const int s = net.config().scale;
  if (opt.tile <= 0 || (opt.tile >= h && opt.tile >= w)) {
    Tensor y = backend.to_host(net.forward(backend.to_device(x)));
    if (opt.on_tile) opt.on_tile(1, 1);
    return y;
  }
  const int64_t tile = opt.tile, pad = std::max(0, opt.tile_pad);
  const int64_t tiles_x = (w + tile - 1) / tile, tiles_y = (h + tile - 1) / tile;
  const int64_t out_c = net.config().num_out_ch;
  Tensor out = Tensor::zeros({1, out_c, h * s, w * s});
  int done = 0;
  for (int64_t ty = 0; ty < tiles_y; ++ty)
    for (int64_t tx = 0; tx < tiles_x; ++tx) {
      // The tile proper, and the tile with its context.
      const int64_t x0 = tx * tile, x1 = std::min(x0 + tile, w);
      const int64_t y0 = ty * tile, y1 = std::min(y0 + tile, h);
      const int64_t px0 = std::max<int64_t>(x0 - pad, 0), px1 = std::min(x1 + pad, w);
      const int64_t py0 = std::max<int64_t>(y0 - pad, 0), py1 = std::min(y1 + pad, h);
      Tensor piece = backend.to_host(net.forward(backend.to_device(crop(x, py0, py1, px0, px1))));
      // Paste the centre: output rows (y0..y1)·s come from piece rows (y0-py0)·s onwards.
      const int64_t pw = piece.dim(3), ph = piece.dim(2);
      for (int64_t k = 0; k < out_c; ++k)
        for (int64_t y = y0 * s; y < y1 * s; ++y)
          std::memcpy(out.f32() + (k * h * s + y) * w * s + x0 * s,
                      piece.f32() + (k * ph + (y - py0 * s)) * pw + (x0 - px0) * s,
                      (x1 - x0) * s * sizeof(float));
      if (opt.on_tile) opt.on_tile(++done, int(tiles_x * tiles_y));
    }
  return out;
}

}  // namespace microsr
