// Upscaling a whole image the way a lab user expects, as Real-ESRGAN's RealESRGANer.enhance does:
//   * gray in → gray out: the gray plane is run as RGB (replicated) and the result converted back
//     with Y = 0.299 R + 0.587 G + 0.114 B;
//   * alpha is upscaled separately — through the network (as RGB, converted back to gray), or
//     with a bicubic resize — and re-attached, so an RGBA image never loses its transparency;
//   * the network output is clamped to [0, 1]; with an outscale other than the model's scale it is
//     then resized with OpenCV's Lanczos-4 (as Real-ESRGAN's --outscale) to ⌊W·outscale⌋ × ⌊H·outscale⌋;
//   * bit depth and metadata are kept (resolution tags scaled by the effective factor).
#pragma once
#include "microsr/image_io.h"
#include "microsr/imgproc.h"
#include "microsr/tiler.h"

namespace microsr {

enum class AlphaUpscale { network, bicubic };

struct UpscaleOptions {
  TileOptions tiles;
  double outscale = 0;  // final size factor; 0: the model's scale
  AlphaUpscale alpha = AlphaUpscale::network;
};

Image upscale_image(RRDBNet& net, Backend& backend, const Image& image, const UpscaleOptions& opt);

}  // namespace microsr
