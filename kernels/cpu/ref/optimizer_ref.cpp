// The optimizer's flat loops: Adam(W) and the weight EMA, the definitions and the oracle of
// kernels/cpu/optim/optimizer.cpp (the CPU backend runs the EMA loop directly). The operation order
// follows torch.optim.Adam / AdamW (torch 1.13, single-tensor path) so that our parameters track
// torch's to a few float roundings.
#include <cmath>

#include "cpu/cpu_kernels.h"
#include "microsr/backend.h"

namespace microsr::kernels {

AdamScalars adam_scalars(const AdamStep& step) {
  // Python doubles combined in double, then rounded to float where they meet a float tensor.
  const double lr = step.lr, beta1 = step.beta1, beta2 = step.beta2, wd = step.weight_decay;
  const double t = static_cast<double>(step.t);
  AdamScalars s;
  s.step_size = static_cast<float>(lr / (1.0 - std::pow(beta1, t)));
  s.correction2_sqrt = static_cast<float>(std::sqrt(1.0 - std::pow(beta2, t)));
  s.beta1 = static_cast<float>(beta1), s.beta2 = static_cast<float>(beta2);
  s.one_minus_beta1 = static_cast<float>(1.0 - beta1);
  s.one_minus_beta2 = static_cast<float>(1.0 - beta2);
  s.eps = static_cast<float>(step.eps);
  s.decay = step.decoupled ? static_cast<float>(1.0 - lr * wd) : 1.0f;
  s.coupled_wd = step.decoupled ? 0.0f : static_cast<float>(wd);
  return s;
}

void adam_step_ref(float* param, float* m, float* v, const float* grad, int64_t n, const AdamStep& step) {
  const AdamScalars s = adam_scalars(step);
  for (int64_t i = 0; i < n; ++i) {
    const float p = param[i] * s.decay;          // AdamW: p ·= 1 − lr·wd
    const float g = grad[i] + s.coupled_wd * p;  // Adam: g += wd·p
    m[i] = m[i] * s.beta1 + s.one_minus_beta1 * g;
    v[i] = v[i] * s.beta2 + s.one_minus_beta2 * g * g;
    const float denom = std::sqrt(v[i]) / s.correction2_sqrt + s.eps;
    param[i] = p - s.step_size * (m[i] / denom);
  }
}

void ema_update_ref(float* ema, const float* param, double decay, int64_t n) {
  const float keep = static_cast<float>(decay), take = static_cast<float>(1.0 - decay);
  for (int64_t i = 0; i < n; ++i) ema[i] = keep * ema[i] + take * param[i];
}

}  // namespace microsr::kernels
