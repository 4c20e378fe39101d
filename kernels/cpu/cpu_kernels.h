// Raw-pointer CPU kernels. One signature style: outputs first, then inputs, then sizes.
// All image tensors are one image of a batch, NCHW with N stripped: [C][H][W], dense, float32.
//
// `*_ref` functions (kernels/cpu/ref/) are naive loops: the readable definition of each op and the
// oracle every optimized kernel is tested against. Optimized kernels live in kernels/cpu/.
#pragma once
#include <cstdint>

namespace microsr {
struct AdamStep;  // microsr/backend.h
}

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
  // [Cout][H][W]. May be y itself (every optimized kernel reads each residual element just
  // before its one store to the same place; conv2d_backward_data accumulates this way), but must
  // not overlap x.
  const float* residual = nullptr;
};

// Stride-1 "same" convolution, odd square kernel k, zero padding k/2.
//   y        [cout][h][w]
//   x        [cin][h][w]
//   weight   [cout][cin][k][k]      (PyTorch layout)
//   bias     [cout] or null
void conv2d_same_ref(float* y, const float* x, const float* weight, const float* bias, int cin, int cout, int h, int w,
                     int k, const ConvEpilogue& epi);

// y = a * s + b, elementwise over n floats (y may alias a or b), one rounding (std::fma).
void scaled_add_ref(float* y, const float* a, float s, const float* b, int64_t n);
// The same bits, vectorized (AVX2 FMA from avx2 up: kernels/cpu/elementwise_avx2.cpp) and split
// among team_size() threads (kernels/cpu/elementwise.cpp): RRDBNet's residual around each RRDB.
void scaled_add(float* y, const float* a, float s, const float* b, int64_t n);
void scaled_add_avx2(float* y, const float* a, float s, const float* b, int64_t n);
// y = x, n floats (no overlap), split among team_size() threads: one thread's memcpy does not reach
// the memory bandwidth that a dense block's 50 MB input copy (64 channels at 440x440) can use.
void copy_floats(float* y, const float* x, int64_t n);

// ---- fp16 storage (IEEE binary16 bit patterns) -------------------------------------------------
// y[i] = float_to_half(x[i]) (microsr/tensor.h: rounded to nearest, ties to even; from 65520 up
// infinity, below 2^-14 subnormal, NaN stays a quiet NaN with its payload's top bits, as F16C does).
void floats_to_fp16_ref(uint16_t* y, const float* x, int64_t n);
// The same bits, with F16C (vcvtps2ph) from avx2 up (kernels/cpu/elementwise_avx2.cpp), split among
// team_size() threads: the dense block's input, stored in fp16 (conv/fp16.h).
void floats_to_fp16(uint16_t* y, const float* x, int64_t n);
void floats_to_fp16_avx2(uint16_t* y, const float* x, int64_t n);

// y[c][2h][2w] = x[c][h][w] (nearest-neighbour ×2, as torch's F.interpolate(scale_factor=2)).
void upsample_nearest2x_ref(float* y, const float* x, int c, int h, int w);

// pixel_unshuffle by r: y[c*r*r + i*r + j][h/r][w/r] = x[c][h/r*r... ] (torch.nn.functional).
//   y [c*r*r][h/r][w/r], x [c][h][w], h and w divisible by r.
void pixel_unshuffle_ref(float* y, const float* x, int c, int h, int w, int r);

// y = LeakyReLU(x, slope), n floats (may alias).
void leaky_relu_ref(float* y, const float* x, float slope, int64_t n);

// ---- training: gradients of the ops above (kernels/cpu/ref/*_backward_ref.cpp) -----------------

// Gradient of y = conv_same(x, weight) w.r.t. x, for one image:
//   dx [cin][h][w] (+)= Σ_co,ky,kx weight[co][ci][ky][kx] · dy[co][iy − ky + k/2][ix − kx + k/2]
//   dy [cout][h][w], weight [cout][cin][k][k]; dy outside the image counts as 0.
// accumulate: add into dx; otherwise overwrite it.
void conv2d_backward_data_ref(float* dx, const float* dy, const float* weight, int cin, int cout, int h, int w, int k,
                              bool accumulate);

// Gradients of y = conv_same(x, weight) + bias w.r.t. weight and bias, for one image, ADDED:
//   dw [cout][cin][k][k] += Σ_oy,ox dy[co][oy][ox] · x[ci][oy + ky − k/2][ox + kx − k/2]
//   db [cout]            += Σ_oy,ox dy[co][oy][ox]      (db may be null)
//   x [cin][h][w], dy [cout][h][w]; x outside the image counts as 0.
void conv2d_backward_weight_ref(float* dw, float* db, const float* x, const float* dy, int cin, int cout, int h, int w,
                                int k);

// dz = dy · (y > 0 ? 1 : slope), n floats, y the LeakyReLU's OUTPUT (dz may alias dy).
void leaky_relu_backward_ref(float* dz, const float* dy, const float* y, float slope, int64_t n);

// dx [c][h][w] = sum of the 2x2 block dy [c][2·iy .. 2·iy+1][2·ix .. 2·ix+1] (dy is [c][2h][2w]).
void upsample_nearest2x_backward_ref(float* dx, const float* dy, int c, int h, int w);

// The inverse of pixel_unshuffle_ref: y [c][h·r][w·r], x [c·r·r][h][w],
//   y[ch][oy·r + i][ox·r + j] = x[ch·r·r + i·r + j][oy][ox]   (torch.nn.functional.pixel_shuffle).
void pixel_shuffle_ref(float* y, const float* x, int c, int h, int w, int r);

// Returns Σ |pred − target| over n floats (in double). When dpred is not null, also
//   dpred[i] = grad_scale · sign(pred[i] − target[i])   (0 where they are equal).
double l1_loss_ref(float* dpred, const float* pred, const float* target, int64_t n, float grad_scale);

// Σ x², n floats, accumulated in double.
double sum_squares_ref(const float* x, int64_t n);

// ---- optimizer (kernels/cpu/ref/optimizer_ref.cpp) ---------------------------------------------

// One Adam / AdamW step over n floats, as torch.optim.Adam(W) does it (see microsr::AdamStep):
//   g = grad (+ wd·param for Adam);  param ·= 1 − lr·wd first for AdamW;
//   m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²;
//   param −= (lr / (1 − β1^t)) · m / (sqrt(v) / sqrt(1 − β2^t) + eps)
// The scalars (1 − β, the corrections, lr·wd) are formed in double from the double
// hyperparameters, as torch does with Python floats, then rounded to float.
void adam_step_ref(float* param, float* m, float* v, const float* grad, int64_t n, const AdamStep& step);
// The per-step scalars of that formula (shared with the optimized loop, kernels/cpu/optim/optimizer.cpp).
struct AdamScalars {
  float step_size, correction2_sqrt;  // lr / (1 − β1^t), sqrt(1 − β2^t)
  float beta1, beta2, one_minus_beta1, one_minus_beta2, eps;
  float decay, coupled_wd;  // 1 − lr·wd (AdamW) or 1; wd (Adam) or 0
};
AdamScalars adam_scalars(const AdamStep& step);

// ema = decay · ema + (1 − decay) · param, n floats (1 − decay formed in double, then rounded).
void ema_update_ref(float* ema, const float* param, double decay, int64_t n);

}  // namespace microsr::kernels
