// PSNR and SSIM, on float planes and on images by convention (see include/microsr/metrics.h for
// the definitions and the references each one matches).
#include "microsr/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "microsr/error.h"

namespace microsr {

namespace {
constexpr int kRadius = 5;  // the 11×11 window: ±5 pixels
constexpr double kSigma = 1.5;
constexpr double kK1 = 0.01, kK2 = 0.03;  // C1 = (K1·L)², C2 = (K2·L)²
constexpr double kBasicsrRange = 255;     // BasicSR measures on 0..255 whatever the source

// The 11 Gaussian taps, normalised to sum 1 (cv2.getGaussianKernel(11, 1.5), and scipy's
// gaussian_filter with truncate 3.5 as skimage calls it: both give these taps).
std::vector<double> gaussian_taps() {
  std::vector<double> taps(2 * kRadius + 1);
  double sum = 0;
  for (int i = -kRadius; i <= kRadius; ++i) sum += taps[i + kRadius] = std::exp(-i * i / (2 * kSigma * kSigma));
  for (double& t : taps) t /= sum;
  return taps;
}

// Planes cut out for measuring: [channels][height][width] doubles.
struct Planes {
  int channels = 0, width = 0, height = 0;
  std::vector<double> values;

  const double* plane(int c) const { return values.data() + std::size_t(c) * width * height; }
  std::size_t plane_size() const { return std::size_t(width) * height; }
};

// src [channels][height][width] without `crop` pixels on every side, each value mapped by `value`.
template <class Sample, class Value>
Planes cropped(const Sample* src, int channels, int width, int height, int crop, Value value) {
  require(crop >= 0, "crop_border must be ≥ 0, got " + std::to_string(crop));
  require(width > 2 * crop && height > 2 * crop, "crop_border " + std::to_string(crop) + " leaves no pixels of a " +
                                                     std::to_string(width) + "×" + std::to_string(height) + " image");
  Planes p{channels, width - 2 * crop, height - 2 * crop, {}};
  p.values.resize(std::size_t(channels) * p.plane_size());
  std::size_t i = 0;
  for (int c = 0; c < channels; ++c)
    for (int y = crop; y < height - crop; ++y)
      for (int x = crop; x < width - crop; ++x) p.values[i++] = value(src[(std::size_t(c) * height + y) * width + x]);
  return p;
}

// 'valid' separable filtering of a [h][w] plane: out [h-10][w-10].
std::vector<double> filter_valid(const std::vector<double>& plane, int w, int h, const std::vector<double>& taps) {
  const int ow = w - 2 * kRadius, oh = h - 2 * kRadius;
  std::vector<double> rows(std::size_t(h) * ow), out(std::size_t(oh) * ow);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < ow; ++x) {
      double s = 0;
      for (int k = 0; k <= 2 * kRadius; ++k) s += taps[k] * plane[std::size_t(y) * w + x + k];
      rows[std::size_t(y) * ow + x] = s;
    }
  for (int y = 0; y < oh; ++y)
    for (int x = 0; x < ow; ++x) {
      double s = 0;
      for (int k = 0; k <= 2 * kRadius; ++k) s += taps[k] * rows[std::size_t(y + k) * ow + x];
      out[std::size_t(y) * ow + x] = s;
    }
  return out;
}

double mean_psnr(const Planes& a, const Planes& b, double range) {
  double sum = 0;
  for (std::size_t i = 0; i < a.values.size(); ++i) {
    const double d = a.values[i] - b.values[i];
    sum += d * d;
  }
  const double mse = sum / double(a.values.size());
  return mse == 0 ? std::numeric_limits<double>::infinity() : 10.0 * std::log10(range * range / mse);
}

// SSIM of one plane pair, averaged over the valid pixels.
double plane_ssim(const double* a, const double* b, int w, int h, double range, const std::vector<double>& taps) {
  const std::size_t n = std::size_t(w) * h;
  std::vector<double> x(a, a + n), y(b, b + n), xx(n), yy(n), xy(n);
  for (std::size_t i = 0; i < n; ++i) xx[i] = x[i] * x[i], yy[i] = y[i] * y[i], xy[i] = x[i] * y[i];
  const auto mx = filter_valid(x, w, h, taps), my = filter_valid(y, w, h, taps);
  const auto exx = filter_valid(xx, w, h, taps), eyy = filter_valid(yy, w, h, taps), exy = filter_valid(xy, w, h, taps);
  const double c1 = (kK1 * range) * (kK1 * range), c2 = (kK2 * range) * (kK2 * range);
  double sum = 0;
  for (std::size_t i = 0; i < mx.size(); ++i) {
    // Population moments: E[x²] − μ², no n/(n−1).
    const double vx = exx[i] - mx[i] * mx[i], vy = eyy[i] - my[i] * my[i], cxy = exy[i] - mx[i] * my[i];
    sum += ((2 * mx[i] * my[i] + c1) * (2 * cxy + c2)) / ((mx[i] * mx[i] + my[i] * my[i] + c1) * (vx + vy + c2));
  }
  return sum / double(mx.size());
}

double mean_ssim(const Planes& a, const Planes& b, double range) {
  require(a.width >= 2 * kRadius + 1 && a.height >= 2 * kRadius + 1,
          "SSIM needs images of at least 11×11 pixels after cropping, got " + std::to_string(a.width) + "×" +
              std::to_string(a.height));
  const std::vector<double> taps = gaussian_taps();
  double total = 0;
  for (int c = 0; c < a.channels; ++c) total += plane_ssim(a.plane(c), b.plane(c), a.width, a.height, range, taps);
  return total / a.channels;
}

// ---- images -----------------------------------------------------------------------------------------

int colour_planes(const Image& image) {
  return image.channels == 2 || image.channels == 4 ? image.channels - 1 : image.channels;
}

// A float sample as the integer write_image would store: round-half-up of v·max, clamped to
// [0, max], NaN as 0 (the same float arithmetic as src/io's quantize).
double stored_sample(float v, float max) {
  if (!(v > 0.0f)) return 0;
  if (v >= 1.0f) return max;
  return double(uint32_t(v * max + 0.5f));
}

// BT.601 luma of planes on 0..255, studio range: Y = 16 + 65.481 r + 128.553 g + 24.966 b with
// r, g, b = value / 255 (BasicSR's rgb2ycbcr / bgr2ycbcr with y_only).
Planes bt601_luma(const Planes& rgb) {
  Planes y{1, rgb.width, rgb.height, std::vector<double>(rgb.plane_size())};
  const double *r = rgb.plane(0), *g = rgb.plane(1), *b = rgb.plane(2);
  for (std::size_t i = 0; i < y.values.size(); ++i)
    y.values[i] = 16.0 + 65.481 * (r[i] / 255.0) + 128.553 * (g[i] / 255.0) + 24.966 * (b[i] / 255.0);
  return y;
}

// The two images as the convention measures them, and the data range L it measures them with.
struct Measured {
  Planes a, b;
  double range = 0;
};

Measured measured(const Image& a, const Image& b, const MetricOptions& options) {
  require(a.width == b.width && a.height == b.height && colour_planes(a) == colour_planes(b),
          "metrics: the images differ in size or colour channels (" + std::to_string(a.width) + "×" +
              std::to_string(a.height) + "×" + std::to_string(colour_planes(a)) + " against " +
              std::to_string(b.width) + "×" + std::to_string(b.height) + "×" + std::to_string(colour_planes(b)) + ")");
  for (const Image* image : {&a, &b})
    require(image->pixels.size() == std::size_t(image->width) * image->height * image->channels,
            "metrics: an image holds " + std::to_string(image->pixels.size()) + " samples, not width·height·channels");
  require(a.bit_depth == b.bit_depth && (a.bit_depth == 8 || a.bit_depth == 16),
          "metrics: both images must be 8-bit or both 16-bit, got " + std::to_string(a.bit_depth) + " and " +
              std::to_string(b.bit_depth));
  require(!options.y_channel || options.convention == MetricConvention::basicsr,
          "metrics: the Y channel is a BasicSR option; the skimage convention measures every colour channel");
  const float top = a.bit_depth == 16 ? 65535.0f : 255.0f;
  // skimage measures the integer samples themselves; BasicSR the same samples on its 0..255 scale.
  const bool basicsr = options.convention == MetricConvention::basicsr;
  const double scale = basicsr ? kBasicsrRange / top : 1.0;
  const auto value = [top, scale](float v) { return stored_sample(v, top) * scale; };
  const int planes = colour_planes(a);
  Measured m{cropped(a.pixels.data(), planes, a.width, a.height, options.crop_border, value),
             cropped(b.pixels.data(), planes, b.width, b.height, options.crop_border, value),
             basicsr ? kBasicsrRange : double(top)};
  if (options.y_channel && planes == 3) m.a = bt601_luma(m.a), m.b = bt601_luma(m.b);
  return m;
}

}  // namespace

double psnr(const float* a, const float* b, int channels, int width, int height, int crop_border) {
  const auto same = [](float v) { return double(v); };
  return mean_psnr(cropped(a, channels, width, height, crop_border, same),
                   cropped(b, channels, width, height, crop_border, same), 1.0);
}

double ssim(const float* a, const float* b, int channels, int width, int height, int crop_border) {
  const auto same = [](float v) { return double(v); };
  return mean_ssim(cropped(a, channels, width, height, crop_border, same),
                   cropped(b, channels, width, height, crop_border, same), 1.0);
}

const char* convention_name(MetricConvention convention) {
  return convention == MetricConvention::basicsr ? "basicsr" : "skimage";
}

MetricConvention parse_metric_convention(const std::string& name) {
  if (name == "skimage") return MetricConvention::skimage;
  if (name == "basicsr") return MetricConvention::basicsr;
  throw Error("unknown metric convention '" + name + "': expected skimage or basicsr");
}

MetricOptions conventional_options(MetricConvention convention, int scale) {
  if (convention == MetricConvention::skimage) return {convention, 0, false};
  return {convention, scale, true};
}

double psnr(const Image& a, const Image& b, const MetricOptions& options) {
  const Measured m = measured(a, b, options);
  return mean_psnr(m.a, m.b, m.range);
}

double ssim(const Image& a, const Image& b, const MetricOptions& options) {
  const Measured m = measured(a, b, options);
  return mean_ssim(m.a, m.b, m.range);
}

}  // namespace microsr
