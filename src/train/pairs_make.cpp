// Making a training pair from an HR crop: prepare_hr (alpha, min-size enlargement, mod-crop) and
// degrade_to_lr (Gaussian blur and bicubic reduction, in either order). See include/microsr/pairs.h.
#include <cmath>
#include <string>
#include <vector>

#include "microsr/error.h"
#include "microsr/pairs.h"

namespace microsr {

const char* degrade_order_name(DegradeOrder order) {
  return order == DegradeOrder::blur_then_resize ? "blur-then-resize" : "resize-then-blur";
}

DegradeOrder parse_degrade_order(const std::string& name) {
  if (name == "blur-then-resize") return DegradeOrder::blur_then_resize;
  if (name == "resize-then-blur") return DegradeOrder::resize_then_blur;
  throw Error("unknown degradation order '" + name + "' (expected blur-then-resize or resize-then-blur)");
}

const char* pair_resize_name(ResizeFilter filter) {
  switch (filter) {
    case ResizeFilter::bicubic_matlab:
      return "matlab";
    case ResizeFilter::cubic_opencv:
      return "opencv";
    default:
      return "?";
  }
}

ResizeFilter parse_pair_resize(const std::string& name) {
  if (name == "matlab") return ResizeFilter::bicubic_matlab;
  if (name == "opencv") return ResizeFilter::cubic_opencv;
  throw Error("unknown resize '" + name + "' (expected matlab or opencv)");
}

void validate(const PairRecipe& r) {
  require(r.scale >= 1 && r.scale <= 16, "scale must be between 1 and 16, got " + std::to_string(r.scale));
  require(std::isfinite(r.blur_sigma) && r.blur_sigma >= 0 && r.blur_sigma <= 32,
          "blur sigma must be between 0 (no blur) and 32, got " + std::to_string(r.blur_sigma));
  require(r.min_size >= 0 && r.min_size <= 16384,
          "min size must be between 0 and 16384, got " + std::to_string(r.min_size));
  require(r.resize == ResizeFilter::bicubic_matlab || r.resize == ResizeFilter::cubic_opencv,
          "the pair resize must be the MATLAB or the OpenCV bicubic");
}

namespace {

// The colour planes of `image`: the first channel of gray+alpha, the first three of RGBA.
Image without_alpha(const Image& image) {
  if (image.channels == 1 || image.channels == 3) return image;
  Image out = image;
  out.channels = image.channels == 2 ? 1 : 3;
  out.pixels.resize(std::size_t(out.channels) * image.width * image.height);
  return out;
}

// The top-left width × height corner of `image`.
Image top_left(const Image& image, int width, int height) {
  if (width == image.width && height == image.height) return image;
  Image out = image;
  out.width = width, out.height = height;
  out.pixels.resize(std::size_t(image.channels) * width * height);
  for (int c = 0; c < image.channels; ++c)
    for (int y = 0; y < height; ++y) {
      const float* src = image.plane(c) + std::size_t(y) * image.width;
      std::copy(src, src + width, out.plane(c) + std::size_t(y) * width);
    }
  return out;
}

Image resized(const Image& image, int width, int height, ResizeFilter filter) {
  Image out = image;
  out.width = width, out.height = height;
  out.pixels.resize(std::size_t(image.channels) * width * height);
  resize_planes(out.pixels.data(), width, height, image.pixels.data(), image.width, image.height, image.channels,
                filter);
  return out;
}

void blur_in_place(Image& image, double sigma) {
  if (sigma > 0)
    gaussian_blur_planes(image.pixels.data(), image.pixels.data(), image.width, image.height, image.channels, sigma);
}

}  // namespace

Image prepare_hr(const Image& source, const PairRecipe& recipe) {
  validate(recipe);
  require(source.channels >= 1 && source.channels <= 4 && source.width > 0 && source.height > 0,
          "the HR crop has no pixels or " + std::to_string(source.channels) + " channels");
  Image hr = without_alpha(source);
  const int s = recipe.scale;
  const int min_side = (recipe.min_size + s - 1) / s * s;  // rounded up, so the mod-crop keeps it
  const int shorter = std::min(hr.width, hr.height);
  if (shorter < min_side) {
    const double f = double(min_side) / shorter;
    const auto enlarged = [&](int side) { return std::max<int64_t>(min_side, int64_t(std::floor(side * f + 0.5))); };
    // A thin strip (20000×1) would grow without bound: refuse an enlargement whose result
    // microsr could not even read back, before allocating it.
    const int64_t width = enlarged(hr.width), height = enlarged(hr.height);
    require(width * height <= kDefaultMaxPixels,
            "the HR crop is " + std::to_string(hr.width) + "×" + std::to_string(hr.height) +
                ": enlarging its shorter side to --min-size " + std::to_string(min_side) + " would make it " +
                std::to_string(width) + "×" + std::to_string(height) + " = " + std::to_string(width * height) +
                " pixels, more than microsr reads back (" + std::to_string(kDefaultMaxPixels) +
                "); a strip this thin is not a crop of one object: leave it out, or lower --min-size");
    hr = resized(hr, int(width), int(height), recipe.resize);
    hr.metadata = scale_resolution(hr.metadata, f);
  }
  require(hr.width >= s && hr.height >= s, "the HR crop is " + std::to_string(hr.width) + "×" +
                                               std::to_string(hr.height) + ", smaller than the scale " +
                                               std::to_string(s) + " (raise --min-size)");
  return top_left(hr, hr.width - hr.width % s, hr.height - hr.height % s);
}

Image degrade_to_lr(const Image& hr, const PairRecipe& recipe) {
  validate(recipe);
  const int s = recipe.scale;
  require(hr.width % s == 0 && hr.height % s == 0, "the HR image is " + std::to_string(hr.width) + "×" +
                                                       std::to_string(hr.height) + ", not a multiple of the scale " +
                                                       std::to_string(s) + " (prepare_hr crops it)");
  Image lr;
  if (recipe.order == DegradeOrder::blur_then_resize) {
    Image blurred = hr;
    blur_in_place(blurred, recipe.blur_sigma);
    lr = resized(blurred, hr.width / s, hr.height / s, recipe.resize);
  } else {
    lr = resized(hr, hr.width / s, hr.height / s, recipe.resize);
    blur_in_place(lr, recipe.blur_sigma);
  }
  lr.metadata = scale_resolution(hr.metadata, 1.0 / s);
  return lr;
}

}  // namespace microsr
