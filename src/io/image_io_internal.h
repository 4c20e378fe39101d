// Private to src/io: the pieces image_io.cpp and tiff_io.cpp share.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "microsr/image_io.h"

namespace microsr::detail {

// v in [0, 1] (clamped; NaN counts as 0) to an integer in [0, max] by round-half-up.
inline uint32_t quantize(float v, float max) {
  if (!(v > 0.0f)) return 0;
  if (v >= 1.0f) return uint32_t(max);
  return uint32_t(v * max + 0.5f);  // truncation of a positive number = floor
}

// Throws Error("cannot read <path>: ...") unless 0 < width, 0 < height and width·height <= max_pixels.
void check_dimensions(const std::string& path, int64_t width, int64_t height, int64_t max_pixels);

// img.pixels sized for img.width × height × channels; a host that cannot hold them gets
// OutOfMemory("cannot read <path>: out of memory for its W×H×C pixels (N MiB)").
void allocate_pixels(const std::string& path, Image& img);

// Calls write_content(fd) on a fresh temporary file ".<name>.partial-<pid>" beside `path`, then
// fsyncs it and renames it to `path`. write_content throws Error with the reason on failure; any
// failure removes the temporary file and throws Error("cannot write <path>: <reason>").
void write_file_atomically(const std::string& path, const std::function<void(int fd)>& write_content);

// The bytes of an 8-bit PNG of `image` (1-4 channels), encoded on every core (png_encode.cpp).
std::vector<uint8_t> encode_png(const Image& image);

Image read_tiff(const std::string& path, int64_t max_pixels);
// Writes a complete TIFF to the open file `fd` (not closed); `path` names the file in messages.
void write_tiff_to_fd(int fd, const std::string& path, const Image& image);

}  // namespace microsr::detail
