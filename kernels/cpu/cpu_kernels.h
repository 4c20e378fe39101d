// Raw-pointer CPU kernels. One signature style: outputs first, then inputs, then sizes.
// All image tensors are one image of a batch, NCHW with N stripped: [C][H][W], dense, float32.
//
// `*_ref` functions (kernels/cpu/ref/) are naive loops: the readable definition of each op and the
// oracle every optimized kernel is tested against. Optimized kernels live in kernels/cpu/.
#pragma once
#include <cstdint>

namespace microsr::kernels {

// What happens to a convolution's output before it is stored:
//   out = scale * act(conv(x) + bias) + residual
// act is LeakyReLU(slope) when has_lrelu, identity otherwise; residual may be null.
// This covers every conv in RRDBNet: plain, conv+LeakyReLU(0.2), and the dense block's
// "0.2 * conv5(...) + x" residual.
struct ConvEpilogue {
  bool has_lrelu = false;
  float lrelu_slope = 0.2f;
  float scale = 1.0f;
  const float* residual = nullptr;  // [Cout][H][W], may alias nothing else
};

// Stride-1 "same" convolution, odd square kernel k, zero padding k/2.
//   y        [cout][h][w]
//   x        [cin][h][w]
//   weight   [cout][cin][k][k]      (PyTorch layout)
//   bias     [cout] or null
void conv2d_same_ref(float* y, const float* x, const float* weight, const float* bias,
                     int cin, int cout, int h, int w, int k, const ConvEpilogue& epi);

// y = a * s + b, elementwise over n floats (y may alias a or b).
void scaled_add_ref(float* y, const float* a, float s, const float* b, int64_t n);

// y[c][2h][2w] = x[c][h][w] (nearest-neighbour ×2, as torch's F.interpolate(scale_factor=2)).
void upsample_nearest2x_ref(float* y, const float* x, int c, int h, int w);

// pixel_unshuffle by r: y[c*r*r + i*r + j][h/r][w/r] = x[c][h/r*r... ] (torch.nn.functional).
//   y [c*r*r][h/r][w/r], x [c][h][w], h and w divisible by r.
void pixel_unshuffle_ref(float* y, const float* x, int c, int h, int w, int r);

// y = LeakyReLU(x, slope), n floats (may alias).
void leaky_relu_ref(float* y, const float* x, float slope, int64_t n);

}  // namespace microsr::kernels
