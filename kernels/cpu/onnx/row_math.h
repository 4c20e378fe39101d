// Row kernels of the fast reductions (fast_reduce.cpp) and Resize (fast_resize.cpp), written once in
// row_math.inc as plain loops the compiler vectorises and compiled twice: row_math_avx2.cpp (AVX2 +
// FMA) and row_math_baseline.cpp (SSE2). Callers pick with kernels/cpu/cpu_isa.h.
//
// Sums accumulate in double (as the reference kernels do): a float is widened before it is added,
// so a mean over 10^6 elements keeps the reference's accuracy; the work is memory-bound either way.
#pragma once
#include <cstdint>

namespace microsr::onnx_fast {

#define MICROSR_ROW_MATH_DECLS                                                                          \
  /* sums[r] = sum of x[r·width .. r·width + width) for `rows` rows, in double */                     \
  void sum_rows(double* sums, const float* x, int64_t rows, int64_t width);                            \
  /* best[r] = max (min when `min`) of each row; NaNs are skipped, as the reference does */            \
  void extreme_rows(float* best, const float* x, int64_t rows, int64_t width, bool min);               \
  /* acc[k] += x[r·stride + k] for r < rows, k < width (a reduction over the rows, per column) */      \
  void sum_columns(double* acc, const float* x, int64_t rows, int64_t width, int64_t stride);          \
  /* best[k] = max (min) of best[k] and x[r·stride + k] over the rows */                                \
  void extreme_columns(float* best, const float* x, int64_t rows, int64_t width, int64_t stride, bool min); \
  /* y[j] = x[i0[j]]·w0[j] + x[i1[j]]·w1[j] (one row of a linear resize along the row) */              \
  void lerp_gather(float* y, const float* x, const int32_t* i0, const int32_t* i1, const float* w0,    \
                   const float* w1, int64_t n);                                                         \
  /* y[j] = a[j]·wa + b[j]·wb (two resized rows blended across rows) */                                 \
  void blend_rows(float* y, const float* a, float wa, const float* b, float wb, int64_t n);

namespace avx2 { MICROSR_ROW_MATH_DECLS }
namespace baseline { MICROSR_ROW_MATH_DECLS }
#undef MICROSR_ROW_MATH_DECLS

}  // namespace microsr::onnx_fast
