// Shared by the weight-gradient variants (wgrad/common.h): the batched zero-padding and the bias
// gradient.
#include "cpu/wgrad/common.h"

#include <cstring>
#include <string>

#include "cpu/threads.h"
#include "cpu/wgrad/variants.h"
#include "microsr/error.h"

namespace microsr::kernels {

namespace detail {

void fill_padded_batches(const BatchPadding& first, const BatchPadding& second, int n, int h, int w) {
  const int64_t first_planes = int64_t(n) * first.channels;
  const int64_t planes = first_planes + int64_t(n) * second.channels;
#pragma omp for schedule(static)
  for (int64_t job = 0; job < planes; ++job) {
    const bool is_first = job < first_planes;
    const BatchPadding& b = is_first ? first : second;
    const int64_t plane_index = is_first ? job : job - first_planes;
    const int64_t image = plane_index / b.channels, channel = plane_index % b.channels;
    float* dst = const_cast<float*>(b.padded.data) + plane_index * b.padded.plane;
    const float* src = b.source.image(image) + channel * h * w;
    const int row_stride = b.padded.row_stride, right = row_stride - b.pad_left - w;
    // Rows above the image, then each image row framed by zeros, then rows below + plane tail.
    std::memset(dst, 0, sizeof(float) * b.pad_top * row_stride);
    for (int iy = 0; iy < h; ++iy) {
      float* row = dst + int64_t(b.pad_top + iy) * row_stride;
      std::memset(row, 0, sizeof(float) * b.pad_left);
      std::memcpy(row + b.pad_left, src + int64_t(iy) * w, sizeof(float) * w);
      std::memset(row + b.pad_left + w, 0, sizeof(float) * right);
    }
    const int64_t used = int64_t(b.pad_top + h) * row_stride;
    std::memset(dst + used, 0, sizeof(float) * (b.padded.plane - used));
    if (plane_index == int64_t(n) * b.channels - 1) std::memset(dst + b.padded.plane, 0, sizeof(float) * b.tail_slack);
  }
}

}  // namespace detail

void detail::check_wgrad_sizes(int n, int cin, int cout, int h, int w, int k) {
  require(n >= 1 && cin >= 1 && cout >= 1 && h >= 1 && w >= 1 && k >= 1 && k % 2 == 1,
          "conv2d_backward_weight: expected n, cin, cout, h, w >= 1 and odd k, found n=" + std::to_string(n) +
              " cin=" + std::to_string(cin) + " cout=" + std::to_string(cout) + " h=" + std::to_string(h) +
              " w=" + std::to_string(w) + " k=" + std::to_string(k));
}

void conv2d_backward_bias(float* db, ImageBatch dy, int n, int cout, int64_t plane) {
#pragma omp parallel for num_threads(team_size()) schedule(static) if (int64_t(n) * cout * plane >= (1 << 16))
  for (int co = 0; co < cout; ++co) {
    double total = 0.0;
    for (int i = 0; i < n; ++i) {
      const float* row = dy.image(i) + co * plane;
      float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
      for (int64_t p = 0; p < plane; ++p) sum += row[p];
      total += sum;
    }
    db[co] += static_cast<float>(total);
  }
}

}  // namespace microsr::kernels
