// The bf16 input copy filled on its own, outside a kernel's parallel region (conv/bf16_kernels.h:
// fill_bf16_input_upsampled2x), with the AVX512_BF16 conversion of conv/bf16_input_avx512.h.
#include "cpu/conv/bf16_input_avx512.h"
#include "cpu/conv/bf16_kernels.h"
#include "cpu/threads.h"

namespace microsr::kernels {

void fill_bf16_input_upsampled2x(const Bf16Input& in, const float* x, int cin, int h, int w) {
#pragma omp parallel num_threads(team_size())
  bf16::fill_input(in, x, cin, h, w, in.pairs, /*upsampled=*/true);
}

}  // namespace microsr::kernels
