// PSNR and SSIM (see include/microsr/metrics.h for the exact definitions).
#include "microsr/metrics.h"

#include <cmath>
#include <limits>
#include <vector>

#include "microsr/error.h"

namespace microsr {

namespace {
constexpr int kRadius = 5;  // the 11×11 window: ±5 pixels
constexpr double kSigma = 1.5;
constexpr double kC1 = 0.01 * 0.01, kC2 = 0.03 * 0.03;

// The 11 Gaussian taps, normalised to sum 1.
std::vector<double> gaussian_taps() {
  std::vector<double> taps(2 * kRadius + 1);
  double sum = 0;
  for (int i = -kRadius; i <= kRadius; ++i) sum += taps[i + kRadius] = std::exp(-i * i / (2 * kSigma * kSigma));
  for (double& t : taps) t /= sum;
  return taps;
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
}  // namespace

double psnr(const float* a, const float* b, int channels, int width, int height, int crop_border) {
  require(width > 2 * crop_border && height > 2 * crop_border, "PSNR: crop_border leaves no pixels");
  double sum = 0;
  int64_t n = 0;
  for (int c = 0; c < channels; ++c)
    for (int y = crop_border; y < height - crop_border; ++y)
      for (int x = crop_border; x < width - crop_border; ++x) {
        const std::size_t i = (std::size_t(c) * height + y) * width + x;
        const double d = double(a[i]) - double(b[i]);
        sum += d * d;
        ++n;
      }
  const double mse = sum / double(n);
  return mse == 0 ? std::numeric_limits<double>::infinity() : 10.0 * std::log10(1.0 / mse);
}

double ssim(const float* a, const float* b, int channels, int width, int height, int crop_border) {
  const int w = width - 2 * crop_border, h = height - 2 * crop_border;
  require(
      w >= 2 * kRadius + 1 && h >= 2 * kRadius + 1,
      "SSIM needs images of at least 11×11 pixels after cropping, got " + std::to_string(w) + "×" + std::to_string(h));
  const std::vector<double> taps = gaussian_taps();
  double total = 0;
  for (int c = 0; c < channels; ++c) {
    std::vector<double> x(std::size_t(w) * h), y(x.size()), xx(x.size()), yy(x.size()), xy(x.size());
    for (int r = 0; r < h; ++r)
      for (int col = 0; col < w; ++col) {
        const std::size_t src = (std::size_t(c) * height + r + crop_border) * width + col + crop_border;
        const std::size_t i = std::size_t(r) * w + col;
        x[i] = a[src], y[i] = b[src];
        xx[i] = x[i] * x[i], yy[i] = y[i] * y[i], xy[i] = x[i] * y[i];
      }
    const auto mx = filter_valid(x, w, h, taps), my = filter_valid(y, w, h, taps);
    const auto exx = filter_valid(xx, w, h, taps), eyy = filter_valid(yy, w, h, taps),
               exy = filter_valid(xy, w, h, taps);
    double sum = 0;
    for (std::size_t i = 0; i < mx.size(); ++i) {
      const double vx = exx[i] - mx[i] * mx[i], vy = eyy[i] - my[i] * my[i], cxy = exy[i] - mx[i] * my[i];
      sum += ((2 * mx[i] * my[i] + kC1) * (2 * cxy + kC2)) / ((mx[i] * mx[i] + my[i] * my[i] + kC1) * (vx + vy + kC2));
    }
    total += sum / double(mx.size());
  }
  return total / channels;
}

}  // namespace microsr
