// Row kernels of the fast ONNX ops (fast_vector.cpp), written once in vector_math.inc as plain
// loops the compiler vectorises, and compiled twice: vector_math_avx2.cpp (AVX2 + FMA, 8 floats a
// step) and vector_math_baseline.cpp (SSE2). Callers pick with kernels/cpu/cpu_isa.h.
//
// exp and erf are our own polynomials (libm's do not vectorise):
//   exp(x) = 2^n · e^r, n = round(x / ln 2), |r| <= ln2 / 2, e^r by its Taylor series to r^7
//            (relative error < 2e-7); x clamped to [-87.3, 88.7] (no inf, no denormals).
//   erf(x) = sign(x) · (1 - t · poly(t) · exp(-x²)), t = 1 / (1 + 0.3275911 |x|)
//            (Abramowitz & Stegun 7.1.26, absolute error < 1.5e-7).
#pragma once
#include <cstdint>

namespace microsr::onnx_fast {

#define MICROSR_VECTOR_MATH_DECLS                                                                        \
  /* y[i] = exp(x[i]) */                                                                                 \
  void exp_array(float* y, const float* x, int64_t n);                                                   \
  /* y[i] = erf(x[i]) */                                                                                 \
  void erf_array(float* y, const float* x, int64_t n);                                                   \
  /* each of `rows` rows of `width`: y = softmax(x) */                                                   \
  void softmax_rows(float* y, const float* x, int64_t rows, int64_t width);                              \
  /* each row: y = (x - mean) / sqrt(var + eps) · scale + bias (bias may be null); mean and inv_std */   \
  /* (may be null) get the row's statistics */                                                           \
  void layer_norm_rows(float* y, const float* x, int64_t rows, int64_t width, const float* scale,        \
                       const float* bias, float eps, float* mean, float* inv_std);

namespace avx2 { MICROSR_VECTOR_MATH_DECLS }
namespace baseline { MICROSR_VECTOR_MATH_DECLS }
#undef MICROSR_VECTOR_MATH_DECLS

}  // namespace microsr::onnx_fast
