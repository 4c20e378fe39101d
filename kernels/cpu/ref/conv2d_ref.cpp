// conv2d_same_ref: the readable definition of the stride-1 "same" convolution and its fused
// epilogue, and the oracle every optimized convolution is tested against. Plain loops, no tricks.
#include "cpu/cpu_kernels.h"

namespace microsr::kernels {

//   y [cout][h][w] = scale * act(sum_{ci,ky,kx} weight[co][ci][ky][kx] *
//   x[ci][oy+ky-k/2][ox+kx-k/2]
//                               + bias[co]) + residual[co][oy][ox]
// Input pixels outside the image are zero (zero padding of k/2 on every side).
void conv2d_same_ref(float* y, const float* x, const float* weight, const float* bias, int cin, int cout, int h, int w,
                     int k, const ConvEpilogue& epi) {
  const int pad = k / 2;
  for (int co = 0; co < cout; ++co) {
    for (int oy = 0; oy < h; ++oy) {
      for (int ox = 0; ox < w; ++ox) {
        float sum = 0.0f;
        for (int ci = 0; ci < cin; ++ci) {
          for (int ky = 0; ky < k; ++ky) {
            const int iy = oy + ky - pad;
            if (iy < 0 || iy >= h) continue;
            for (int kx = 0; kx < k; ++kx) {
              const int ix = ox + kx - pad;
              if (ix < 0 || ix >= w) continue;
              sum += weight[((static_cast<int64_t>(co) * cin + ci) * k + ky) * k + kx] *
                     x[(static_cast<int64_t>(ci) * h + iy) * w + ix];
            }
          }
        }
        if (bias) sum += bias[co];
        if (epi.has_lrelu && sum < 0.0f) sum *= epi.lrelu_slope;
        sum *= epi.scale;
        const int64_t out_index = (static_cast<int64_t>(co) * h + oy) * w + ox;
        if (epi.residual) sum += epi.residual[out_index];
        y[out_index] = sum;
      }
    }
  }
}

}  // namespace microsr::kernels
