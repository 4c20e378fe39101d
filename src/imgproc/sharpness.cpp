// Sharpness (variance of the Laplacian) and edge strength (mean Sobel gradient magnitude) of an
// 8-bit grey image, as OpenCV computes them (see include/microsr/metrics.h).
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "microsr/error.h"
#include "microsr/metrics.h"

namespace microsr {

namespace {

// OpenCV's BORDER_REFLECT_101 for one step past either end: −1 → 1, n → n − 2 (…c b | a b c…).
// A line of one pixel reflects onto itself, as cv::borderInterpolate does.
int reflect101(int i, int n) {
  if (n == 1) return 0;
  return i < 0 ? -i : i >= n ? 2 * n - 2 - i : i;
}

void check_gray(const char* what, const Plane8& gray) {
  require(gray.width >= 1 && gray.height >= 1 && gray.pixels.size() == std::size_t(gray.width) * gray.height,
          std::string(what) + ": expected a non-empty grey image with width·height pixels, got " +
              std::to_string(gray.width) + "×" + std::to_string(gray.height));
}

// The columns left and right of each x, reflected at the image's sides (rows are reflected the
// same way with reflect101 as they are visited).
struct Neighbours {
  std::vector<int> left, right;  // [width]: the column of x−1 and x+1 after reflection
  explicit Neighbours(int width) : left(width), right(width) {
    for (int x = 0; x < width; ++x) left[x] = reflect101(x - 1, width), right[x] = reflect101(x + 1, width);
  }
};

}  // namespace

double laplacian_variance(const Plane8& gray) {
  check_gray("laplacian_variance", gray);
  const int w = gray.width, h = gray.height;
  const Neighbours nb(w);
  // The responses are integers in [−1020, 1020]: their sum and sum of squares are exact in 64 and
  // 128 bits, and the variance (n·Σv² − (Σv)²) / n² is then rounded once.
  int64_t sum = 0;
  __int128 sum_sq = 0;
  for (int y = 0; y < h; ++y) {
    const uint8_t *up = gray.row(reflect101(y - 1, h)), *row = gray.row(y), *down = gray.row(reflect101(y + 1, h));
    int64_t row_sq = 0;
    for (int x = 0; x < w; ++x) {
      const int v = up[x] + down[x] + row[nb.left[x]] + row[nb.right[x]] - 4 * row[x];
      sum += v;
      row_sq += v * v;
    }
    sum_sq += row_sq;
  }
  const __int128 n = __int128(w) * h;
  return double(n * sum_sq - __int128(sum) * sum) / (double(n) * double(n));
}

double mean_sobel_magnitude(const Plane8& gray) {
  check_gray("mean_sobel_magnitude", gray);
  const int w = gray.width, h = gray.height;
  const Neighbours nb(w);
  double sum = 0;
  for (int y = 0; y < h; ++y) {
    const uint8_t *up = gray.row(reflect101(y - 1, h)), *row = gray.row(y), *down = gray.row(reflect101(y + 1, h));
    double row_sum = 0;
    for (int x = 0; x < w; ++x) {
      const int l = nb.left[x], r = nb.right[x];
      // Sobel 3×3: a [1 2 1] smoothing across the derivative [−1 0 1].
      const int gx = (up[r] + 2 * row[r] + down[r]) - (up[l] + 2 * row[l] + down[l]);
      const int gy = (down[l] + 2 * down[x] + down[r]) - (up[l] + 2 * up[x] + up[r]);
      row_sum += std::sqrt(double(gx * gx + gy * gy));
    }
    sum += row_sum;
  }
  return sum / (double(w) * h);
}

double sharpness(const Image& image) { return laplacian_variance(to_gray8(image)); }

double edge_strength(const Image& image) { return mean_sobel_magnitude(to_gray8(image)); }

}  // namespace microsr
