// Images in and out. In memory an image is planar float: [C][H][W], values in [0, 1], with the
// bit depth it came from (8 or 16) so that it can be written back at the same depth.
#pragma once
#include <string>
#include <vector>

#include "microsr/tensor.h"

namespace microsr {

struct Image {
  int width = 0, height = 0, channels = 0;  // channels: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA
  int bit_depth = 8;                        // of the source file: 8 or 16
  std::vector<float> pixels;                // [channels][height][width], in [0, 1]

  float* plane(int c) { return pixels.data() + std::size_t(c) * width * height; }
  const float* plane(int c) const { return pixels.data() + std::size_t(c) * width * height; }
};

// Reads PNG, JPEG, BMP (8/16-bit PNG) via stb_image. Refuses images larger than
// max_pixels before allocating anything.
Image read_image(const std::string& path, int64_t max_pixels = int64_t(1) << 28);
// Writes an 8-bit PNG (values clamped to [0,1] and rounded), atomically: a temporary file in the
// same folder, renamed over the target only when complete.
void write_png(const std::string& path, const Image& image);

// The colour planes of an image as a [1][3][H][W] tensor (gray is replicated to RGB, alpha
// dropped), and back.
Tensor image_to_rgb_tensor(const Image& image);
Image rgb_tensor_to_image(const Tensor& t, int bit_depth);

}  // namespace microsr
