// Naive elementwise and data-movement ops: the readable definitions and test oracles.
#include <cmath>

#include "cpu/cpu_kernels.h"
#include "microsr/tensor.h"

namespace microsr::kernels {

// One rounding (a fused multiply-add), written out rather than left to the compiler's contraction,
// so that the CUDA kernel's __fmaf_rn gives the same bits on every build.
void scaled_add_ref(float* y, const float* a, float s, const float* b, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = std::fma(a[i], s, b[i]);
}

void floats_to_fp16_ref(uint16_t* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = float_to_half(x[i]);
}

// y [c][2h][2w]: output pixel (oy, ox) copies input pixel (oy/2, ox/2).
void upsample_nearest2x_ref(float* y, const float* x, int c, int h, int w) {
  const int64_t out_h = 2 * static_cast<int64_t>(h), out_w = 2 * static_cast<int64_t>(w);
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t oy = 0; oy < out_h; ++oy)
      for (int64_t ox = 0; ox < out_w; ++ox) y[(ch * out_h + oy) * out_w + ox] = x[(ch * h + oy / 2) * w + ox / 2];
}

// Input pixel (oy*r + i, ox*r + j) of channel ch goes to output channel ch*r*r + i*r + j at
// (oy, ox) — the order of torch.nn.functional.pixel_unshuffle.
void pixel_unshuffle_ref(float* y, const float* x, int c, int h, int w, int r) {
  const int64_t out_h = h / r, out_w = w / r;
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t i = 0; i < r; ++i)
      for (int64_t j = 0; j < r; ++j) {
        const int64_t out_ch = (ch * r + i) * r + j;
        for (int64_t oy = 0; oy < out_h; ++oy)
          for (int64_t ox = 0; ox < out_w; ++ox)
            y[(out_ch * out_h + oy) * out_w + ox] = x[(ch * h + oy * r + i) * w + ox * r + j];
      }
}

void leaky_relu_ref(float* y, const float* x, float slope, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] < 0.0f ? x[i] * slope : x[i];
}

}  // namespace microsr::kernels
