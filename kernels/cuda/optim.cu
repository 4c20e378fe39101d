// Adam(W) and the EMA of the weights: one thread per parameter, grid-stride. Products and sums
// are rounded one at a time (no fused multiply-add), as the CPU reference loop.
#include "common.cuh"
#include "optim.h"

namespace microsr::cuda {
namespace {

// param, m, v, grad: [n]
__global__ void adam_kernel(float* param, float* m, float* v, const float* grad, int64_t n, AdamScalars s) {
  MICROSR_FLAT_LOOP(i, n) {
    const float p = __fmul_rn(param[i], s.decay);
    const float g = __fadd_rn(grad[i], __fmul_rn(s.coupled_wd, p));
    const float mi = __fadd_rn(__fmul_rn(m[i], s.beta1), __fmul_rn(s.one_minus_beta1, g));
    const float vi = __fadd_rn(__fmul_rn(v[i], s.beta2), __fmul_rn(__fmul_rn(s.one_minus_beta2, g), g));
    m[i] = mi;
    v[i] = vi;
    const float denom = __fadd_rn(__fdiv_rn(sqrtf(vi), s.correction2_sqrt), s.eps);
    param[i] = __fsub_rn(p, __fmul_rn(s.step_size, __fdiv_rn(mi, denom)));
  }
}

// ema, param: [n]
__global__ void ema_kernel(float* ema, const float* param, float keep, float take, int64_t n) {
  MICROSR_FLAT_LOOP(i, n) ema[i] = __fadd_rn(__fmul_rn(keep, ema[i]), __fmul_rn(take, param[i]));
}

}  // namespace

cudaError_t adam_step(float* param, float* m, float* v, const float* grad, int64_t n, const AdamScalars& s,
                      cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  adam_kernel<<<flat_grid(n), kThreads, 0, stream>>>(param, m, v, grad, n, s);
  return cudaGetLastError();
}

cudaError_t ema_update(float* ema, const float* param, float keep, float take, int64_t n, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  ema_kernel<<<flat_grid(n), kThreads, 0, stream>>>(ema, param, keep, take, n);
  return cudaGetLastError();
}

}  // namespace microsr::cuda
