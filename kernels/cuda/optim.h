// Launchers of the optimizer kernels (kernels/cuda/optim.cu): flat loops over the parameter
// arena and its same-layout gradient / moment / EMA buffers (float, n elements, dense).
// The scalars are formed on the host exactly as the CPU reference forms them
// (kernels::adam_scalars, torch.optim.Adam's order), so both backends apply the same numbers.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace microsr::cuda {

struct AdamScalars {
  float step_size, correction2_sqrt;  // lr / (1 − β1^t), sqrt(1 − β2^t)
  float beta1, beta2, one_minus_beta1, one_minus_beta2, eps;
  float decay, coupled_wd;  // 1 − lr·wd (AdamW) or 1; wd (Adam) or 0
};

// One Adam(W) step, per element, as kernels/cpu/ref/optimizer_ref.cpp:
//   p = param · decay;  g = grad + coupled_wd · p
//   m = m·β1 + (1−β1)·g;  v = v·β2 + (1−β2)·g²
//   param = p − step_size · m / (sqrt(v) / correction2_sqrt + eps)
// param, m, v, grad: [n]
cudaError_t adam_step(float* param, float* m, float* v, const float* grad, int64_t n, const AdamScalars& s,
                      cudaStream_t stream);

// ema = keep · ema + take · param   (keep = decay, take = 1 − decay; ema, param: [n])
cudaError_t ema_update(float* ema, const float* param, float keep, float take, int64_t n, cudaStream_t stream);

}  // namespace microsr::cuda
