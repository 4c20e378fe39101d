// The optimizer loops' run-time choice between AVX2 and the reference (optim/optimizer.h).
#include "cpu/optim/optimizer.h"

#include "cpu/cpu_isa.h"
#include "cpu/cpu_kernels.h"

namespace microsr::kernels {

void adam_step_fast(float* param, float* m, float* v, const float* grad, int64_t n, const AdamStep& step) {
  if (cpu_isa_at_least(CpuIsa::kAvx2)) return adam_step_avx2(param, m, v, grad, n, step);
  adam_step_ref(param, m, v, grad, n, step);
}

double sum_squares_fast(const float* x, int64_t n) {
  return cpu_isa_at_least(CpuIsa::kAvx2) ? sum_squares_avx2(x, n) : sum_squares_ref(x, n);
}

}  // namespace microsr::kernels
