#include "microsr/image_io.h"

#include <stb_image.h>
#include <stb_image_write.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>

namespace microsr {

Image read_image(const std::string& path, int64_t max_pixels) {
  int w = 0, h = 0, c = 0;
  require(std::filesystem::exists(path), "image not found: " + path);
  // Read the header first: refuse absurd sizes before decoding allocates anything.
  if (!stbi_info(path.c_str(), &w, &h, &c))
    throw Error("cannot read image " + path + ": " + stbi_failure_reason());
  require(w > 0 && h > 0, "image " + path + " has no pixels");
  require(int64_t(w) * h <= max_pixels, "image " + path + " is " + std::to_string(w) + "×" +
                                            std::to_string(h) + ", larger than the limit of " +
                                            std::to_string(max_pixels) + " pixels");
  Image img;
  img.width = w, img.height = h, img.channels = c;
  img.pixels.resize(std::size_t(w) * h * c);
  const std::size_t plane = std::size_t(w) * h;
  if (stbi_is_16_bit(path.c_str())) {
    std::unique_ptr<uint16_t, void (*)(void*)> data(stbi_load_16(path.c_str(), &w, &h, &c, 0), stbi_image_free);
    if (!data) throw Error("cannot decode image " + path + ": " + stbi_failure_reason());
    img.bit_depth = 16;
    for (std::size_t i = 0; i < plane; ++i)
      for (int k = 0; k < c; ++k) img.pixels[k * plane + i] = data.get()[i * c + k] / 65535.0f;
  } else {
    std::unique_ptr<uint8_t, void (*)(void*)> data(stbi_load(path.c_str(), &w, &h, &c, 0), stbi_image_free);
    if (!data) throw Error("cannot decode image " + path + ": " + stbi_failure_reason());
    for (std::size_t i = 0; i < plane; ++i)
      for (int k = 0; k < c; ++k) img.pixels[k * plane + i] = data.get()[i * c + k] / 255.0f;
  }
  return img;
}

void write_png(const std::string& path, const Image& img) {
  require(img.width > 0 && img.height > 0 && img.channels >= 1 && img.channels <= 4,
          "cannot write " + path + ": image is empty or has " + std::to_string(img.channels) + " channels");
  const std::size_t plane = std::size_t(img.width) * img.height;
  std::vector<uint8_t> interleaved(plane * img.channels);
  for (std::size_t i = 0; i < plane; ++i)
    for (int k = 0; k < img.channels; ++k) {
      const float v = std::clamp(img.pixels[k * plane + i], 0.0f, 1.0f);
      interleaved[i * img.channels + k] = uint8_t(std::lround(v * 255.0f));
    }
  const std::string tmp = path + ".partial";
  if (!stbi_write_png(tmp.c_str(), img.width, img.height, img.channels, interleaved.data(),
                      img.width * img.channels)) {
    std::remove(tmp.c_str());
    throw Error("cannot write " + path + " (is the folder writable and is there space left?)");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    throw Error("cannot move the finished image to " + path + ": " + ec.message());
  }
}

Tensor image_to_rgb_tensor(const Image& img) {
  const int64_t h = img.height, w = img.width;
  Tensor t = Tensor::empty({1, 3, h, w});
  const bool gray = img.channels <= 2;
  for (int c = 0; c < 3; ++c)
    std::copy_n(img.plane(gray ? 0 : c), h * w, t.f32() + c * h * w);
  return t;
}

Image rgb_tensor_to_image(const Tensor& t, int bit_depth) {
  require(t.rank() == 4 && t.dim(0) == 1 && t.dim(1) == 3, "expected a [1, 3, H, W] tensor, got " + t.describe());
  Image img;
  img.height = int(t.dim(2)), img.width = int(t.dim(3)), img.channels = 3, img.bit_depth = bit_depth;
  img.pixels.assign(t.f32(), t.f32() + t.numel());
  return img;
}

}  // namespace microsr
