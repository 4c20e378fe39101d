// Resampling (cv2 INTER_CUBIC / INTER_LANCZOS4 / INTER_AREA, MATLAB bicubic) and Gaussian blur.
//
// Every operation here is one per-axis ResampleTable applied twice: horizontally into a scratch
// plane [src_h][dst_w], then vertically into dst [dst_h][dst_w]. The OpenCV filters compute their
// weights in float, in the same way cv2 does for float32 images, and accumulate in float in tap
// order, so results agree with cv2 to a few float32 ulps (tests/test_resize.cpp).
#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>

#include "microsr/error.h"
#include "microsr/imgproc.h"

namespace microsr {
namespace {

constexpr double kPi = std::numbers::pi;

// Replicated border: …a a | a b c | c c…
int clamp_index(int i, int n) { return std::clamp(i, 0, n - 1); }

// Symmetric border, as MATLAB's imresize: …b a | a b c | c b… repeated with period 2n.
int mirror_index(int i, int n) {
  int m = i % (2 * n);
  if (m < 0) m += 2 * n;
  return m < n ? m : 2 * n - 1 - m;
}

// BORDER_REFLECT_101: …c b | a b c | b a… (the edge sample is not repeated).
int reflect101_index(int i, int n) {
  if (n == 1) return 0;
  while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
  return i;
}

ResampleTable make_table(int out_n, int taps) {
  ResampleTable t;
  t.taps = taps;
  t.index.assign(std::size_t(out_n) * taps, 0);
  t.weight.assign(std::size_t(out_n) * taps, 0.0f);
  return t;
}

// cv2's source position for output i: (i + 0.5)·(in/out) - 0.5, rounded to float, split into an
// integer part `base` and a fraction `frac` in [0, 1) — the same steps cv2.resize takes.
void opencv_position(int i, int out_n, int in_n, int& base, float& frac) {
  const double in_per_out = 1.0 / (double(out_n) / in_n);
  const float x = float((i + 0.5) * in_per_out - 0.5);
  base = int(std::floor(x));
  frac = x - float(base);
}

// Keys cubic (a = -0.75) at distances 1+f, f, 1-f, 2-f from taps base-1 .. base+2. The last
// weight is 1 minus the others, so the four sum to 1 exactly (as in cv2).
void cubic_opencv_weights(float f, float w[4]) {
  const float a = -0.75f;
  const float d0 = f + 1.0f, d2 = 1.0f - f;
  w[0] = ((a * d0 - 5 * a) * d0 + 8 * a) * d0 - 4 * a;  // 1 < |d| < 2: a|d|³ - 5a|d|² + 8a|d| - 4a
  w[1] = ((a + 2) * f - (a + 3)) * f * f + 1;           // |d| ≤ 1: (a+2)|d|³ - (a+3)|d|² + 1
  w[2] = ((a + 2) * d2 - (a + 3)) * d2 * d2 + 1;
  w[3] = 1.0f - w[0] - w[1] - w[2];
}

// Lanczos-4 at distances f+3 .. f-4 from taps base-3 .. base+4:
// L(d) = sin(πd)·sin(πd/4) / (πd/4)² / 4, evaluated in double, rounded to float, then normalised
// in float so that the eight taps sum to 1. f = 0 puts all weight on tap `base`.
void lanczos4_opencv_weights(float f, float w[8]) {
  if (f == 0.0f) {
    std::fill(w, w + 8, 0.0f);
    w[3] = 1.0f;
    return;
  }
  float sum = 0.0f;
  for (int k = 0; k < 8; ++k) {
    const double d = double(f) + 3 - k;
    w[k] = float(std::sin(kPi * d) * std::sin(kPi * d / 4) / (kPi * kPi * d * d / 4));
    sum += w[k];
  }
  const float inv_sum = 1.0f / sum;
  for (int k = 0; k < 8; ++k) w[k] *= inv_sum;
}

ResampleTable opencv_kernel_table(int out_n, int in_n, int taps) {
  ResampleTable t = make_table(out_n, taps);
  for (int i = 0; i < out_n; ++i) {
    int base;
    float frac;
    opencv_position(i, out_n, in_n, base, frac);
    float* w = &t.weight[std::size_t(i) * taps];
    if (taps == 4)
      cubic_opencv_weights(frac, w);
    else
      lanczos4_opencv_weights(frac, w);
    for (int k = 0; k < taps; ++k) t.index[std::size_t(i) * taps + k] = clamp_index(base - taps / 2 + 1 + k, in_n);
  }
  return t;
}

// Keys cubic with a = -0.5 (MATLAB's "cubic" kernel), support [-2, 2].
double cubic_matlab(double x) {
  const double d = std::abs(x);
  if (d <= 1) return (1.5 * d - 2.5) * d * d + 1;
  if (d < 2) return ((-0.5 * d + 2.5) * d - 4) * d + 2;
  return 0;
}

// MATLAB imresize's contributions(): output u (1-based) samples the input at
// x = u/scale + (1 - 1/scale)/2 (1-based), from taps floor(x - width/2) + 0 .. ceil(width) + 1;
// downscaling stretches the kernel by 1/scale and lowers it by scale (antialias). Weights are
// computed and normalised in double, then rounded to float.
ResampleTable matlab_bicubic_table(int out_n, int in_n) {
  const double scale = double(out_n) / in_n;
  const bool antialias = scale < 1;
  const double width = antialias ? 4 / scale : 4;
  const int taps = int(std::ceil(width)) + 2;
  ResampleTable t = make_table(out_n, taps);
  std::vector<double> w(taps);
  for (int i = 0; i < out_n; ++i) {
    const double x = (i + 1) / scale + 0.5 * (1 - 1 / scale);
    const int left = int(std::floor(x - width / 2));
    double sum = 0;
    for (int k = 0; k < taps; ++k) {
      const double d = x - (left + k);
      w[k] = antialias ? scale * cubic_matlab(scale * d) : cubic_matlab(d);
      sum += w[k];
    }
    for (int k = 0; k < taps; ++k) {
      t.weight[std::size_t(i) * taps + k] = float(w[k] / sum);
      t.index[std::size_t(i) * taps + k] = mirror_index(left + k - 1, in_n);  // 1-based → 0-based
    }
  }
  return t;
}

// cv2 INTER_AREA when shrinking: output i covers source [i·s, (i+1)·s) with s = in/out; each source
// pixel weighs its overlap with that cell over the cell's width. Overlaps under 1e-3 of a pixel
// are dropped, as cv2 does.
ResampleTable area_table(int out_n, int in_n) {
  const double s = 1.0 / (double(out_n) / in_n);
  const int taps = int(std::ceil(s)) + 1;
  ResampleTable t = make_table(out_n, taps);
  for (int i = 0; i < out_n; ++i) {
    const double begin = i * s, end = begin + s;
    const double cell = std::min(s, in_n - begin);
    int k = 0;
    for (int j = int(std::floor(begin)); j < in_n && j < end && k < taps; ++j) {
      const double overlap = std::min<double>(end, j + 1) - std::max<double>(begin, j);
      if (overlap <= 1e-3) continue;
      t.index[std::size_t(i) * taps + k] = j;
      t.weight[std::size_t(i) * taps + k] = float(overlap / cell);
      ++k;
    }
    for (; k < taps; ++k) t.index[std::size_t(i) * taps + k] = t.index[std::size_t(i) * taps];  // weight 0
  }
  return t;
}

ResampleTable gaussian_table(int n, double sigma) {
  const std::vector<float> kernel = gaussian_kernel(gaussian_kernel_size(sigma), sigma);
  const int taps = int(kernel.size()), radius = taps / 2;
  ResampleTable t = make_table(n, taps);
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < taps; ++k) {
      t.index[std::size_t(i) * taps + k] = reflect101_index(i - radius + k, n);
      t.weight[std::size_t(i) * taps + k] = kernel[k];
    }
  return t;
}

// Below this many output values a pass runs on one thread (thread start-up would dominate).
constexpr long kParallelMin = 1 << 15;

// dst [dst_h][dst_w] ← src [src_h][src_w] through `cols` (dst_w entries) then `rows` (dst_h).
// scratch: [src_h][dst_w]. src is only read in the first pass, so dst may equal src when the
// sizes agree.
void apply_tables(float* dst, int dst_w, int dst_h, const float* src, int src_w, int src_h, const ResampleTable& cols,
                  const ResampleTable& rows, std::vector<float>& scratch) {
  scratch.resize(std::size_t(src_h) * dst_w);
  float* mid = scratch.data();
  // Horizontal: each scratch value gathers `cols.taps` samples of its source row.
#pragma omp parallel for schedule(static) if (long(src_h) * dst_w >= kParallelMin)
  for (int y = 0; y < src_h; ++y) {
    const float* in = src + std::size_t(y) * src_w;
    float* out = mid + std::size_t(y) * dst_w;
    for (int x = 0; x < dst_w; ++x) {
      const int* index = &cols.index[std::size_t(x) * cols.taps];
      const float* weight = &cols.weight[std::size_t(x) * cols.taps];
      float sum = 0.0f;
      for (int k = 0; k < cols.taps; ++k) sum += in[index[k]] * weight[k];
      out[x] = sum;
    }
  }
  // Vertical: each output row is a weighted sum of `rows.taps` whole scratch rows (vectorises).
#pragma omp parallel for schedule(static) if (long(dst_h) * dst_w >= kParallelMin)
  for (int y = 0; y < dst_h; ++y) {
    const int* index = &rows.index[std::size_t(y) * rows.taps];
    const float* weight = &rows.weight[std::size_t(y) * rows.taps];
    float* out = dst + std::size_t(y) * dst_w;
    const float* first = mid + std::size_t(index[0]) * dst_w;
    for (int x = 0; x < dst_w; ++x) out[x] = first[x] * weight[0];
    for (int k = 1; k < rows.taps; ++k) {
      const float* in = mid + std::size_t(index[k]) * dst_w;
      const float w = weight[k];
      for (int x = 0; x < dst_w; ++x) out[x] += in[x] * w;
    }
  }
}

const char* filter_name(ResizeFilter filter) {
  switch (filter) {
    case ResizeFilter::cubic_opencv:
      return "cubic_opencv";
    case ResizeFilter::lanczos4_opencv:
      return "lanczos4_opencv";
    case ResizeFilter::bicubic_matlab:
      return "bicubic_matlab";
    case ResizeFilter::area_opencv:
      return "area_opencv";
  }
  return "?";
}

void check_sizes(const char* what, int dst_w, int dst_h, int src_w, int src_h, int channels) {
  require(dst_w >= 1 && dst_h >= 1 && src_w >= 1 && src_h >= 1 && channels >= 1,
          std::string(what) + ": sizes must be positive, got " + std::to_string(src_w) + "x" + std::to_string(src_h) +
              " -> " + std::to_string(dst_w) + "x" + std::to_string(dst_h) + ", " + std::to_string(channels) +
              " channel(s)");
}

}  // namespace

ResampleTable resample_table(int out_n, int in_n, ResizeFilter filter) {
  require(out_n >= 1 && in_n >= 1, std::string("resample_table(") + filter_name(filter) +
                                       "): lengths must be positive, got " + std::to_string(in_n) + " -> " +
                                       std::to_string(out_n));
  switch (filter) {
    case ResizeFilter::cubic_opencv:
      return opencv_kernel_table(out_n, in_n, 4);
    case ResizeFilter::lanczos4_opencv:
      return opencv_kernel_table(out_n, in_n, 8);
    case ResizeFilter::bicubic_matlab:
      return matlab_bicubic_table(out_n, in_n);
    case ResizeFilter::area_opencv:
      require(out_n <= in_n, "resize with area_opencv only shrinks: asked " + std::to_string(in_n) + " -> " +
                                 std::to_string(out_n) + " (use cubic_opencv or lanczos4_opencv to enlarge)");
      return area_table(out_n, in_n);
  }
  throw Error("resample_table: unknown ResizeFilter " + std::to_string(int(filter)));
}

void resize_planes(float* dst, int dst_w, int dst_h, const float* src, int src_w, int src_h, int channels,
                   ResizeFilter filter) {
  check_sizes("resize", dst_w, dst_h, src_w, src_h, channels);
  const ResampleTable cols = resample_table(dst_w, src_w, filter);
  const ResampleTable rows = resample_table(dst_h, src_h, filter);
  std::vector<float> scratch;
  for (int c = 0; c < channels; ++c)
    apply_tables(dst + std::size_t(c) * dst_w * dst_h, dst_w, dst_h, src + std::size_t(c) * src_w * src_h, src_w, src_h,
                 cols, rows, scratch);
}

void resize_plane(float* dst, int dst_w, int dst_h, const float* src, int src_w, int src_h, ResizeFilter filter) {
  resize_planes(dst, dst_w, dst_h, src, src_w, src_h, 1, filter);
}

int gaussian_kernel_size(double sigma) {
  require(sigma > 0 && std::isfinite(sigma), "gaussian blur: sigma must be > 0, got " + std::to_string(sigma));
  return int(std::lrint(sigma * 4 * 2 + 1)) | 1;  // ±4σ, made odd; cv2's rule for float images
}

std::vector<float> gaussian_kernel(int size, double sigma) {
  require(size >= 1 && size % 2 == 1, "gaussian_kernel: size must be odd and positive, got " + std::to_string(size));
  std::vector<double> taps(size);
  double sum = 0;
  for (int i = 0; i < size; ++i) {
    const double x = i - (size - 1) * 0.5;
    taps[i] = std::exp(-x * x / (2 * sigma * sigma));
    sum += taps[i];
  }
  std::vector<float> kernel(size);
  for (int i = 0; i < size; ++i) kernel[i] = float(taps[i] / sum);
  return kernel;
}

void gaussian_blur_planes(float* dst, const float* src, int w, int h, int channels, double sigma) {
  check_sizes("gaussian blur", w, h, w, h, channels);
  const ResampleTable cols = gaussian_table(w, sigma), rows = gaussian_table(h, sigma);
  std::vector<float> scratch;
  for (int c = 0; c < channels; ++c)
    apply_tables(dst + std::size_t(c) * w * h, w, h, src + std::size_t(c) * w * h, w, h, cols, rows, scratch);
}

void gaussian_blur_plane(float* dst, const float* src, int w, int h, double sigma) {
  gaussian_blur_planes(dst, src, w, h, 1, sigma);
}

}  // namespace microsr
