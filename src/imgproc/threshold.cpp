// From an image to a foreground mask, as OpenCV does it on uint8: gray conversion, the fixed-point
// Gaussian blur, and the Gaussian adaptive threshold (which is that blur plus an integer compare).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "microsr/error.h"
#include "microsr/segment.h"

namespace microsr {

Plane8::Plane8(int w, int h, uint8_t fill) : width(w), height(h), pixels(std::size_t(w) * h, fill) {}

namespace {

// Below this many pixels a pass runs on one thread (thread start-up would dominate). Loops hand
// out work in small dynamic chunks (rows, bands, 64 Ki pixels) rather than one static slice per
// thread, so that a thread the OS has paused (a busy machine) does not hold up the others.
constexpr long kParallelMin = 1 << 15;

// round(v·255) in [0, 255]; branch-free so that the loops calling it vectorise.
inline int to_8bit(float v) {
  const float scaled = v * 255.0f + 0.5f;
  return int(std::min(std::max(scaled, 0.0f), 255.0f));
}

// The source index for position i of a line of n pixels extended past its ends.
int border_index(int i, int n, Border border) {
  if (n == 1) return 0;
  if (border == Border::replicate) return std::clamp(i, 0, n - 1);
  while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;  // reflect101, repeated for wide kernels
  return i;
}

// A symmetric kernel of n = 2r + 1 taps as the pairs that are not zero: tap k (k < r) weighs the
// two samples at offsets k and n − 1 − k from the window start; `centre` weighs offset r.
struct SymmetricTaps {
  int radius = 0;
  uint32_t centre = 0;
  std::vector<int> offset;       // k
  std::vector<uint32_t> weight;  // taps[k]
};

SymmetricTaps symmetric_taps(const std::vector<uint16_t>& taps) {
  SymmetricTaps s;
  s.radius = int(taps.size()) / 2;
  s.centre = taps[s.radius];
  for (int k = 0; k < s.radius; ++k)
    if (taps[k] != 0) s.offset.push_back(k), s.weight.push_back(taps[k]);
  return s;
}

// Horizontal pass of the fixed-point blur for one row: out[x] = Σ_k taps[k]·row[x − r + k], in
// 1/256 units. Pixels ≤ 255 and taps summing to 256 keep the total ≤ 65280, so uint16 holds it; the
// pair sums may wrap on the way, harmlessly, since unsigned arithmetic is exact modulo 2¹⁶.
// padded: [w + 2r] scratch.
void blur_row_h(uint16_t* out, const uint8_t* row, int w, const SymmetricTaps& t, Border border, uint8_t* padded) {
  const int r = t.radius, n = 2 * r + 1;
  for (int i = 0; i < r; ++i) {
    padded[i] = row[border_index(i - r, w, border)];
    padded[w + r + i] = row[border_index(w + i, w, border)];
  }
  std::copy(row, row + w, padded + r);
  const uint16_t centre = uint16_t(t.centre);
  for (int x = 0; x < w; ++x) out[x] = uint16_t(centre * padded[x + r]);
  for (std::size_t p = 0; p < t.offset.size(); ++p) {
    const uint8_t* a = padded + t.offset[p];
    const uint8_t* b = padded + (n - 1 - t.offset[p]);
    const uint16_t c = uint16_t(t.weight[p]);
    for (int x = 0; x < w; ++x) out[x] = uint16_t(out[x] + c * uint16_t(a[x] + b[x]));
  }
}

// The blur of `src`, handed over one output row at a time: emit(y, blurred_row) runs on the worker
// threads, rows in any order. The vertical pass sums taps × (horizontal results) in 1/65536 units
// (≤ 255·65536, uint32) and rounds half up, as OpenCV's ufixedpoint32 → uint8 conversion does.
template <class Emit>
void blur8_rows(const Plane8& src, int ksize, Border border, Emit emit) {
  const int w = src.width, h = src.height;
  const SymmetricTaps t = symmetric_taps(gaussian_kernel_q8(ksize));
  const int r = t.radius;
  std::vector<uint16_t> horizontal(std::size_t(w) * h);  // [h][w], 1/256 units
  const bool parallel = long(w) * h >= kParallelMin;
#pragma omp parallel if (parallel)
  {
    std::vector<uint8_t> padded(w + 2 * r);
#pragma omp for schedule(dynamic, 16)
    for (int y = 0; y < h; ++y) blur_row_h(&horizontal[std::size_t(y) * w], src.row(y), w, t, border, padded.data());

    std::vector<uint32_t> sum(w);
    std::vector<uint8_t> out(w);
#pragma omp for schedule(dynamic, 16)
    for (int y = 0; y < h; ++y) {
      const uint16_t* mid = &horizontal[std::size_t(y) * w];
      for (int x = 0; x < w; ++x) sum[x] = t.centre * mid[x];
      for (std::size_t p = 0; p < t.offset.size(); ++p) {
        const uint16_t* a = &horizontal[std::size_t(border_index(y - r + t.offset[p], h, border)) * w];
        const uint16_t* b = &horizontal[std::size_t(border_index(y + r - t.offset[p], h, border)) * w];
        const uint32_t c = t.weight[p];
        for (int x = 0; x < w; ++x) sum[x] += c * (uint32_t(a[x]) + b[x]);
      }
      for (int x = 0; x < w; ++x) out[x] = uint8_t((sum[x] + (1u << 15)) >> 16);
      emit(y, out.data());
    }
  }
}

// cv2.getGaussianKernel(ksize, 0, CV_32F): OpenCV's tables up to 9 taps, else exp(−x²/2σ²)
// normalised in double (outer taps summed first, as OpenCV does) and cast to float.
std::vector<float> gaussian_kernel_f32(int ksize) {
  if (ksize <= 9) {
    const std::vector<uint16_t> q8 = gaussian_kernel_q8(ksize);  // the tables, exact in 1/256
    std::vector<float> taps(ksize);
    for (int i = 0; i < ksize; ++i) taps[i] = q8[i] / 256.0f;
    return taps;
  }
  const int r = ksize / 2;
  const double sigma = gaussian_sigma_for_size(ksize);
  std::vector<double> value(r);
  double total = 0;
  for (int k = 0; k < r; ++k) {
    const double x = r - k;
    value[k] = std::exp(-x * x / (2 * sigma * sigma));
    total += value[k];
  }
  total = total * 2 + 1;
  const double scale = 1 / total;
  std::vector<float> taps(ksize);
  for (int k = 0; k < r; ++k) taps[k] = taps[ksize - 1 - k] = float(value[k] * scale);
  taps[r] = float(scale);
  return taps;
}

// Eight floats in one AVX register (GCC/Clang vector extension; scalars broadcast in arithmetic).
// The library is compiled for baseline x86-64 (kernels/cpu/cpu_isa.h), where the compiler splits
// each vector into two SSE halves; these helpers are local to this file, so the ABI note GCC
// gives for returning a 32-byte vector without AVX does not matter here.
#pragma GCC diagnostic ignored "-Wpsabi"
using Floats8 = float __attribute__((vector_size(32)));
inline Floats8 load8(const float* p) {
  Floats8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store8(float* p, Floats8 v) { std::memcpy(p, &v, sizeof v); }

// out[x] for x in [x0, x0 + 32): Σ_k taps[k]·(row_k[x]), the kernel being symmetric:
// taps[r]·at(r) + Σ_{k<r} taps[k]·(at(k) + at(2r − k)), where at(k) points at the k-th input.
// Four accumulators of eight, so that the additions of one tap overlap.
template <class At>
inline void symmetric_sum32(float* out, const std::vector<float>& taps, int r, At at) {
  Floats8 acc[4];
  for (int j = 0; j < 4; ++j) acc[j] = taps[r] * load8(at(r) + 8 * j);
  for (int k = 0; k < r; ++k) {
    const float* a = at(k);
    const float* b = at(2 * r - k);
    for (int j = 0; j < 4; ++j) acc[j] += taps[k] * (load8(a + 8 * j) + load8(b + 8 * j));
  }
  for (int j = 0; j < 4; ++j) store8(out + 8 * j, acc[j]);
}

// The local mean of cv2.adaptiveThreshold(ADAPTIVE_THRESH_GAUSSIAN_C): the image in float32,
// cv2.GaussianBlur((k, k), 0, BORDER_REPLICATE) in float — rows first, then columns, as OpenCV —
// rounded half to even back to uint8. Float rounding could in principle flip a value sitting
// within ~10⁻⁵ of a half; with taps up to 9 (multiples of 1/256) the sums are exact.
// Memory: the vertical pass reads 2r + 1 rows per output row; whole rows of a 10X frame (51 × 10 KB)
// overflow the L2 cache, so it runs over bands of rows × strips of 256 columns, whose rows stay
// cached while the band slides down.
Plane8 local_mean(const Plane8& src, int ksize) {
  const int w = src.width, h = src.height, r = ksize / 2;
  const int w32 = (w + 31) / 32 * 32;  // rows padded to whole 32-float blocks
  constexpr int kStrip = 256, kBand = 64;
  const std::vector<float> taps = gaussian_kernel_f32(ksize);
  std::vector<float> horizontal(std::size_t(w32) * h);  // [h][w32]
  Plane8 mean(w, h);
  const bool parallel = long(w) * h >= kParallelMin;
#pragma omp parallel if (parallel)
  {
    std::vector<float> padded(w32 + 2 * r);  // the row, replicated r pixels left and right (and to w32)
#pragma omp for schedule(dynamic, 16)
    for (int y = 0; y < h; ++y) {
      const uint8_t* row = src.row(y);
      for (int i = 0; i < r; ++i) padded[i] = row[0];
      for (int x = 0; x < w; ++x) padded[r + x] = row[x];
      for (int i = r + w; i < w32 + 2 * r; ++i) padded[i] = row[w - 1];
      float* out = &horizontal[std::size_t(y) * w32];
      for (int x = 0; x < w32; x += 32) symmetric_sum32(out + x, taps, r, [&](int k) { return padded.data() + x + k; });
    }
    std::vector<const float*> rows(2 * r + 1);
    float sum[kStrip] = {};  // entries past a short last strip keep finite old values
#pragma omp for schedule(dynamic, 1)
    for (int y0 = 0; y0 < h; y0 += kBand)
      for (int x0 = 0; x0 < w32; x0 += kStrip) {
        const int x1 = std::min(w32, x0 + kStrip);
        for (int y = y0; y < std::min(h, y0 + kBand); ++y) {
          for (int k = 0; k <= 2 * r; ++k) rows[k] = &horizontal[std::size_t(std::clamp(y - r + k, 0, h - 1)) * w32];
          for (int x = x0; x < x1; x += 32)
            symmetric_sum32(sum + (x - x0), taps, r, [&](int k) { return rows[k] + x; });
          // Round half to even: adding and subtracting 1.5·2²³ leaves the nearest integer (default
          // rounding mode) for 0 ≤ v < 2²²; the mean lies in [0, 255].
          constexpr float kRound = 12582912.0f;
          uint8_t rounded[kStrip];  // a local array: the compiler knows it aliases nothing, and vectorises
          for (int i = 0; i < kStrip; ++i) rounded[i] = uint8_t(int((sum[i] + kRound) - kRound));
          std::memcpy(mean.row(y) + x0, rounded, std::min(x1, w) - x0);
        }
      }
  }
  return mean;
}

void check_odd_size(const char* what, int ksize, int min_size) {
  require(ksize >= min_size && ksize % 2 == 1, std::string(what) + " must be odd and at least " +
                                                   std::to_string(min_size) + ", got " + std::to_string(ksize));
}

void check_plane(const char* what, const Plane8& p) {
  require(p.width >= 1 && p.height >= 1 && p.pixels.size() == std::size_t(p.width) * p.height,
          std::string(what) + ": the image must have at least one pixel and width·height values, got " +
              std::to_string(p.width) + "x" + std::to_string(p.height) + " with " + std::to_string(p.pixels.size()));
}

// One channel (or, for colour images, the BT.601 gray) as 8-bit levels, each sample first turned
// into a level by `level` (to_8bit, or to_8bit after a gain): one pass, no copy of the image.
template <class Level>
Plane8 channel_levels(const Image& image, int channel, Level level) {
  require(channel >= 0 && channel < image.channels, "channel_to_8bit: channel " + std::to_string(channel) + " of a " +
                                                        std::to_string(image.channels) + "-channel image");
  Plane8 out(image.width, image.height);
  const float* in = image.plane(channel);
  const long n = long(out.pixels.size());
  uint8_t* dst = out.pixels.data();
#pragma omp parallel for schedule(dynamic, 1 << 16) if (n >= kParallelMin)
  for (long i = 0; i < n; ++i) dst[i] = uint8_t(level(in[i]));
  return out;
}

template <class Level>
Plane8 gray_levels(const Image& image, Level level) {
  require(image.width >= 1 && image.height >= 1 && image.channels >= 1 && image.channels <= 4,
          "to_gray8: expected a non-empty image with 1 to 4 channels, got " + std::to_string(image.width) + "x" +
              std::to_string(image.height) + "x" + std::to_string(image.channels));
  if (image.channels <= 2) return channel_levels(image, 0, level);  // gray, or gray + alpha
  Plane8 out(image.width, image.height);
  const float *r = image.plane(0), *g = image.plane(1), *b = image.plane(2);
  const long n = long(out.pixels.size());
  uint8_t* dst = out.pixels.data();
#pragma omp parallel for schedule(dynamic, 1 << 16) if (n >= kParallelMin)
  for (long i = 0; i < n; ++i)
    dst[i] = uint8_t((9798 * level(r[i]) + 19235 * level(g[i]) + 3735 * level(b[i]) + (1 << 14)) >> 15);
  return out;
}

// A lambda, not the function's address: the loops then inline it and vectorise.
constexpr auto kLevel = [](float v) { return to_8bit(v); };

}  // namespace

Plane8 channel_to_8bit(const Image& image, int channel) { return channel_levels(image, channel, kLevel); }

Plane8 to_gray8(const Image& image) { return gray_levels(image, kLevel); }

Plane8 to_gray8(const Image& image, double gain) {
  if (gain == 1.0) return to_gray8(image);
  return gray_levels(image, [gain](float v) { return to_8bit(float(std::min(1.0, double(v) * gain))); });
}

double gray_gain(const Image& image, int window_max) {
  require(window_max >= 0 && window_max <= 65535,
          "the gray window's white must be in 0..65535, got " + std::to_string(window_max));
  if (image.bit_depth != 16) return 1.0;
  if (window_max > 0) return 65535.0 / window_max;
  if (image.metadata.max_sample_value > 0) return 65535.0 / std::min(65535.0, image.metadata.max_sample_value);
  const int colour_planes = image.channels == 2 || image.channels == 4 ? image.channels - 1 : image.channels;
  const std::size_t n = std::size_t(image.width) * image.height * colour_planes;
  float brightest = 0;
  for (std::size_t i = 0; i < n; ++i) brightest = std::max(brightest, image.pixels[i]);
  const double top = std::round(double(brightest) * 65535.0);
  int bits = 8;
  while (bits < 16 && top > double((1 << bits) - 1)) ++bits;
  return 65535.0 / double((1 << bits) - 1);
}

double gaussian_sigma_for_size(int ksize) { return 0.3 * ((ksize - 1) * 0.5 - 1) + 0.8; }

std::vector<uint16_t> gaussian_kernel_q8(int ksize) {
  check_odd_size("Gaussian kernel size", ksize, 1);
  // OpenCV's fixed tables for small kernels with sigma 0 (exact in 1/256).
  switch (ksize) {
    case 1:
      return {256};
    case 3:
      return {64, 128, 64};
    case 5:
      return {16, 64, 96, 64, 16};
    case 7:
      return {8, 28, 56, 72, 56, 28, 8};
    case 9:
      return {4, 13, 30, 51, 60, 51, 30, 13, 4};
  }
  const int r = ksize / 2;
  const double sigma = gaussian_sigma_for_size(ksize);
  std::vector<double> value(r + 1);  // value[k]: the tap at distance r − k from the centre
  double total = 1;                  // the centre's exp(0)
  for (int k = 0; k < r; ++k) {
    const double x = r - k;
    value[k] = std::exp(-x * x / (2 * sigma * sigma));
    total += 2 * value[k];
  }
  std::vector<uint16_t> taps(ksize);
  double carried = 0;  // rounding error diffused into the next tap inwards
  int outer_sum = 0;
  for (int k = 0; k < r; ++k) {
    const double wanted = value[k] / total * 256 + carried;
    const int q = int(std::lrint(wanted));
    carried = wanted - q;
    taps[k] = taps[ksize - 1 - k] = uint16_t(q);
    outer_sum += 2 * q;
  }
  taps[r] = uint16_t(256 - outer_sum);
  return taps;
}

Plane8 gaussian_blur8(const Plane8& src, int ksize, Border border) {
  check_plane("gaussian_blur8", src);
  check_odd_size("Gaussian blur kernel size", ksize, 1);
  if (ksize == 1) return src;
  Plane8 dst(src.width, src.height);
  blur8_rows(src, ksize, border, [&](int y, const uint8_t* row) { std::copy(row, row + src.width, dst.row(y)); });
  return dst;
}

Plane8 adaptive_threshold_gaussian(const Plane8& src, int block_size, double c, ThresholdType type) {
  check_plane("adaptive threshold", src);
  check_odd_size("adaptive threshold block size", block_size, 3);
  require(std::isfinite(c), "adaptive threshold: C must be a finite number");
  // In integers: binary keeps pixel − mean > −ceil(C); binary_inv keeps pixel − mean ≤ −floor(C).
  const double clamped = std::clamp(c, -1000.0, 1000.0);  // beyond ±255 every pixel decides alike
  const int delta = type == ThresholdType::binary ? int(std::ceil(clamped)) : int(std::floor(clamped));
  Plane8 dst(src.width, src.height);
  const Plane8 mean = local_mean(src, block_size);
  const long n = long(src.pixels.size());
  const uint8_t *in = src.pixels.data(), *m = mean.pixels.data();
  uint8_t* out = dst.pixels.data();
  const uint8_t when_above = type == ThresholdType::binary ? 255 : 0;
#pragma omp parallel for schedule(dynamic, 1 << 16) if (n >= kParallelMin)
  for (long i = 0; i < n; ++i) out[i] = int(in[i]) - int(m[i]) > -delta ? when_above : uint8_t(255 - when_above);
  return dst;
}

}  // namespace microsr
