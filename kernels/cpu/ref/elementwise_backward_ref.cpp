// Gradients of the elementwise and data-movement ops, and the loss: plain loops, the definitions
// and test oracles (the CPU backend runs them directly; they are memory-bound).
#include <cmath>

#include "cpu/cpu_kernels.h"

namespace microsr::kernels {

// For slope > 0 the output has the sign of the input, so y > 0 selects the same branch as z > 0.
// (The factor is picked first, then multiplied, exact for 1: the form gcc vectorizes.)
void leaky_relu_backward_ref(float* dz, const float* dy, const float* y, float slope, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    float factor = slope;
    if (y[i] > 0.0f) factor = 1.0f;
    dz[i] = dy[i] * factor;
  }
}

// Input pixel (iy, ix) was copied to the four output pixels (2iy + a, 2ix + b), a, b in {0, 1}.
void upsample_nearest2x_backward_ref(float* dx, const float* dy, int c, int h, int w) {
  const int64_t out_w = 2 * static_cast<int64_t>(w);
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t iy = 0; iy < h; ++iy)
      for (int64_t ix = 0; ix < w; ++ix) {
        const float* top = dy + (ch * 2 * h + 2 * iy) * out_w + 2 * ix;
        dx[(ch * h + iy) * w + ix] = (top[0] + top[1]) + (top[out_w] + top[out_w + 1]);
      }
}

void pixel_shuffle_ref(float* y, const float* x, int c, int h, int w, int r) {
  const int64_t out_h = static_cast<int64_t>(h) * r, out_w = static_cast<int64_t>(w) * r;
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t i = 0; i < r; ++i)
      for (int64_t j = 0; j < r; ++j) {
        const int64_t in_ch = (ch * r + i) * r + j;
        for (int64_t iy = 0; iy < h; ++iy)
          for (int64_t ix = 0; ix < w; ++ix)
            y[(ch * out_h + iy * r + i) * out_w + ix * r + j] = x[(in_ch * h + iy) * w + ix];
      }
}

double l1_loss_ref(float* dpred, const float* pred, const float* target, int64_t n, float grad_scale) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const float diff = pred[i] - target[i];
    sum += std::fabs(static_cast<double>(diff));
    if (dpred) dpred[i] = diff > 0.0f ? grad_scale : (diff < 0.0f ? -grad_scale : 0.0f);
  }
  return sum;
}

double sum_squares_ref(const float* x, int64_t n) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i]) * x[i];
  return sum;
}

}  // namespace microsr::kernels
