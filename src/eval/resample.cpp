// Enlarging by bicubic, and moving an image onto another pixel grid of the same scene.
#include <algorithm>
#include <cmath>

#include "microsr/evaluate.h"
#include "microsr/imgproc.h"

namespace microsr {

Image bicubic_enlarge(const Image& image, int scale) {
  require(scale >= 1, "bicubic_enlarge: scale must be at least 1");
  Image out;
  out.width = image.width * scale, out.height = image.height * scale;
  out.channels = image.channels, out.bit_depth = image.bit_depth, out.metadata = image.metadata;
  out.pixels.resize(std::size_t(out.width) * out.height * out.channels);
  resize_planes(out.pixels.data(), out.width, out.height, image.pixels.data(), image.width, image.height,
                image.channels, ResizeFilter::cubic_opencv);
  for (float& v : out.pixels) v = std::clamp(v, 0.f, 1.f);
  return out;
}

namespace {
// One axis of resample_area: for output index i, the source pixels that [x0 + i·step,
// x0 + (i+1)·step] overlaps and their overlap lengths / step (which sum to 1).
struct AxisWeights {
  std::vector<int> first;                  // [out_n] first source index
  std::vector<std::vector<float>> weight;  // [out_n][k] weight of source first[i] + k
};

AxisWeights area_weights(double x0, double step, int out_n, int in_n) {
  AxisWeights a;
  a.first.resize(out_n), a.weight.resize(out_n);
  for (int i = 0; i < out_n; ++i) {
    const double lo = x0 + i * step, hi = lo + step;
    const int first = std::max(0, int(std::floor(lo))), last = std::min(in_n - 1, int(std::ceil(hi)) - 1);
    a.first[i] = first;
    for (int p = first; p <= last; ++p) {
      const double overlap = std::min(hi, double(p + 1)) - std::max(lo, double(p));
      a.weight[i].push_back(float(std::max(0.0, overlap) / step));
    }
  }
  return a;
}
}  // namespace

Image resample_area(const Image& image, double x0, double y0, double step, int out_width, int out_height) {
  require(step >= 1, "resample_area: step must be at least 1 (a reduction)");
  constexpr double kSlack = 1e-6;  // edges computed in floating point may overshoot by rounding
  require(x0 >= -kSlack && y0 >= -kSlack && x0 + out_width * step <= image.width + kSlack &&
              y0 + out_height * step <= image.height + kSlack,
          "resample_area: the window lies outside the " + std::to_string(image.width) + "×" +
              std::to_string(image.height) + " image");
  const AxisWeights ax = area_weights(x0, step, out_width, image.width);
  const AxisWeights ay = area_weights(y0, step, out_height, image.height);
  Image out;
  out.width = out_width, out.height = out_height, out.channels = image.channels, out.bit_depth = image.bit_depth;
  out.pixels.assign(std::size_t(out_width) * out_height * image.channels, 0.f);
  // Rows first into [in_h][out_w] per channel, then columns.
  std::vector<float> rows(std::size_t(image.height) * out_width);
  for (int c = 0; c < image.channels; ++c) {
    const float* src = image.plane(c);
#pragma omp parallel for
    for (int y = 0; y < image.height; ++y)
      for (int i = 0; i < out_width; ++i) {
        double sum = 0;
        for (std::size_t k = 0; k < ax.weight[i].size(); ++k)
          sum += ax.weight[i][k] * src[std::size_t(y) * image.width + ax.first[i] + k];
        rows[std::size_t(y) * out_width + i] = float(sum);
      }
    float* dst = out.plane(c);
#pragma omp parallel for
    for (int j = 0; j < out_height; ++j)
      for (int i = 0; i < out_width; ++i) {
        double sum = 0;
        for (std::size_t k = 0; k < ay.weight[j].size(); ++k)
          sum += ay.weight[j][k] * rows[std::size_t(ay.first[j] + k) * out_width + i];
        dst[std::size_t(j) * out_width + i] = float(sum);
      }
  }
  return out;
}

}  // namespace microsr
