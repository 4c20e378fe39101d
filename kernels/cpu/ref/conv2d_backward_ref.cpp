// The gradients of conv2d_same_ref w.r.t. its input, weight and bias: plain loops that spell out
// the chain rule, and the oracle every optimized backward kernel is tested against.
#include "cpu/cpu_kernels.h"

namespace microsr::kernels {

// Forward: y[co][oy][ox] = Σ_ci,ky,kx weight[co][ci][ky][kx] · x[ci][oy + ky − pad][ox + kx − pad].
// Each product that used input pixel (ci, iy, ix) sends dy[co][oy][ox] · weight back to it, with
// oy = iy − ky + pad, ox = ix − kx + pad; products that fell outside the output do not exist.
void conv2d_backward_data_ref(float* dx, const float* dy, const float* weight, int cin, int cout, int h, int w, int k,
                              bool accumulate) {
  const int pad = k / 2;
  for (int ci = 0; ci < cin; ++ci)
    for (int iy = 0; iy < h; ++iy)
      for (int ix = 0; ix < w; ++ix) {
        float sum = 0.0f;
        for (int co = 0; co < cout; ++co)
          for (int ky = 0; ky < k; ++ky) {
            const int oy = iy - ky + pad;
            if (oy < 0 || oy >= h) continue;
            for (int kx = 0; kx < k; ++kx) {
              const int ox = ix - kx + pad;
              if (ox < 0 || ox >= w) continue;
              sum += weight[((static_cast<int64_t>(co) * cin + ci) * k + ky) * k + kx] *
                     dy[(static_cast<int64_t>(co) * h + oy) * w + ox];
            }
          }
        float& out = dx[(static_cast<int64_t>(ci) * h + iy) * w + ix];
        out = accumulate ? out + sum : sum;
      }
}

// Each weight tap is used once per output pixel, with the input pixel at the tap's offset.
void conv2d_backward_weight_ref(float* dw, float* db, const float* x, const float* dy, int cin, int cout, int h, int w,
                                int k) {
  const int pad = k / 2;
  for (int co = 0; co < cout; ++co) {
    const float* dy_plane = dy + static_cast<int64_t>(co) * h * w;
    if (db) {
      float sum = 0.0f;
      for (int64_t p = 0; p < static_cast<int64_t>(h) * w; ++p) sum += dy_plane[p];
      db[co] += sum;
    }
    for (int ci = 0; ci < cin; ++ci) {
      const float* x_plane = x + static_cast<int64_t>(ci) * h * w;
      for (int ky = 0; ky < k; ++ky)
        for (int kx = 0; kx < k; ++kx) {
          float sum = 0.0f;
          for (int oy = 0; oy < h; ++oy) {
            const int iy = oy + ky - pad;
            if (iy < 0 || iy >= h) continue;
            for (int ox = 0; ox < w; ++ox) {
              const int ix = ox + kx - pad;
              if (ix < 0 || ix >= w) continue;
              sum += dy_plane[static_cast<int64_t>(oy) * w + ox] * x_plane[static_cast<int64_t>(iy) * w + ix];
            }
          }
          dw[((static_cast<int64_t>(co) * cin + ci) * k + ky) * k + kx] += sum;
        }
    }
  }
}

}  // namespace microsr::kernels
