// Images in and out. In memory an image is planar float: [C][H][W], values in [0, 1], with the
// bit depth it came from (8 or 16) so that it can be written back at the same depth.
//
// Read: PNG (8/16-bit), JPEG and BMP through stb_image; TIFF through libtiff (8/16-bit unsigned;
// gray, gray+alpha, RGB, RGBA, palette; strips or tiles; contiguous or separate planes; any codec
// the system libtiff has: none, LZW, Deflate, PackBits, JPEG...). The format is decided by the
// file's first bytes, never by its extension. Only the first image of a multi-page TIFF is read;
// the Orientation tag is ignored (pixels are taken in stored order).
//
// Write: PNG (8-bit) and TIFF (8/16-bit, Deflate), always atomically: the bytes go to
// ".<name>.partial-<pid>" in the target's folder, are flushed to disk, then renamed over the target.
// On failure the partial file is removed and Error("cannot write <path>: <reason>") is thrown.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "microsr/tensor.h"

namespace microsr {

// What a microscopist wants to survive an upscale. TIFF carries it; PNG output drops it.
struct ImageMetadata {
  bool has_resolution = false;
  double x_resolution = 0, y_resolution = 0;  // pixels per resolution unit (TIFF XResolution/YResolution)
  int resolution_unit = 2;                    // TIFF ResolutionUnit: 1 none, 2 inch, 3 centimetre
  std::string description;                    // TIFF ImageDescription ("" when absent)
  double max_sample_value = 0;                // TIFF SMaxSampleValue, in sample units (0: absent): a
                                              // 12-bit camera writes 4095 in a 16-bit file
};

struct Image {
  int width = 0, height = 0, channels = 0;  // channels: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA
  int bit_depth = 8;                        // of the source file: 8 or 16
  std::vector<float> pixels;                // [channels][height][width], in [0, 1]; alpha is straight
  ImageMetadata metadata;

  float* plane(int c) { return pixels.data() + std::size_t(c) * width * height; }
  const float* plane(int c) const { return pixels.data() + std::size_t(c) * width * height; }
};

enum class ImageFormat { png, jpeg, bmp, tiff };  // jpeg and bmp are read-only
const char* format_name(ImageFormat format);

inline constexpr int64_t kDefaultMaxPixels = int64_t(1) << 28;

// The format of the file at `path`, from its first bytes (magic numbers). Throws Error for
// unreadable files and for anything that is not PNG, JPEG, BMP or TIFF.
ImageFormat detect_image_format(const std::string& path);
// The output format an extension asks for: .png -> png, .tif/.tiff -> tiff (case-insensitive).
// Throws Error for anything else.
ImageFormat format_from_extension(const std::string& path);

// Reads any supported file. Refuses width or height 0, and more than max_pixels pixels (or, for
// TIFF, strips/tiles larger than that), before allocating for the pixels.
Image read_image(const std::string& path, int64_t max_pixels = kDefaultMaxPixels);

// Writes `image` as `format` (png or tiff). Values are clamped to [0, 1] and quantized as
// floor(v * 255 + 0.5) (or 65535 for 16-bit). PNG is always 8-bit: a 16-bit image written as PNG
// is reduced to 8-bit, so callers that must keep 16 bits choose tiff. TIFF keeps the image's bit
// depth, uses Deflate with the horizontal predictor, and writes the resolution and description.
void write_image(const std::string& path, const Image& image, ImageFormat format);
// Chooses the format from the extension of `path` (see format_from_extension).
void write_image(const std::string& path, const Image& image);
void write_png(const std::string& path, const Image& image);   // = write_image(path, image, png)
void write_tiff(const std::string& path, const Image& image);  // = write_image(path, image, tiff)

// The metadata of an image upscaled `factor` times: pixels per unit multiply by the factor, so that
// one pixel still maps to the right physical size.
ImageMetadata scale_resolution(const ImageMetadata& metadata, double factor);

// The colour planes of an image as a [1][3][H][W] tensor (gray is replicated to RGB, alpha
// dropped), and back (metadata is left empty: copy it from the source if wanted).
Tensor image_to_rgb_tensor(const Image& image);
Image rgb_tensor_to_image(const Tensor& t, int bit_depth);

}  // namespace microsr
