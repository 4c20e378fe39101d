// conv2d_backward_data: the gradient of a stride-1 "same" convolution w.r.t. its input is itself a
// "same" convolution — of dy, with the weights transposed (Cin <-> Cout) and turned by 180°:
//   dx[ci][iy][ix] = Σ_co,ky,kx w[co][ci][ky][kx] · dy[co][iy − ky + k/2][ix − kx + k/2]
//                  = Σ_co,ky,kx w[co][ci][k−1−ky][k−1−kx] · dy[co][iy + ky − k/2][ix + kx − k/2]
// (substituting ky -> k−1−ky, and k−1 = 2·(k/2)). So it reuses the forward kernels unchanged:
// Winograd F(4x4,3x3) for k == 3, the direct kernel otherwise, with their packing done once per
// call for the whole batch. Accumulating into dx goes through the fused epilogue's residual,
// pointed at dx itself (each element is read just before its one store).
//
// Figures: docs/kernels.md (BM_dgrad of bench/bench_conv_backward.cpp).
#include <omp.h>

#include "cpu/dgrad/dgrad.h"
#include "cpu/threads.h"
#include "microsr/error.h"

namespace microsr::kernels {

std::vector<float> transpose_flip_weights(const float* weight, int cin, int cout, int k) {
  const int64_t taps = static_cast<int64_t>(k) * k;
  std::vector<float> flipped(static_cast<size_t>(cin) * cout * taps);
  // One (ci, co) kernel per iteration: taps reversed (t -> taps−1−t turns ky, kx by 180°).
#pragma omp parallel for num_threads(team_size()) schedule(static) if (cin * cout >= 4096)
  for (int ci = 0; ci < cin; ++ci)
    for (int co = 0; co < cout; ++co) {
      const float* src = weight + (static_cast<int64_t>(co) * cin + ci) * taps;
      float* dst = flipped.data() + (static_cast<int64_t>(ci) * cout + co) * taps;
      for (int64_t t = 0; t < taps; ++t) dst[t] = src[taps - 1 - t];
    }
  return flipped;
}

void conv2d_backward_data(MutableImageBatch dx, ImageBatch dy, const float* weight, int n, int cin, int cout, int h,
                          int w, int k, bool accumulate, ConvWeightFormat format) {
  require(n >= 1 && cin >= 1 && cout >= 1 && h >= 1 && w >= 1 && k >= 1 && k % 2 == 1,
          "conv2d_backward_data: expected n, cin, cout, h, w >= 1 and odd k, found n=" + std::to_string(n) +
              " cin=" + std::to_string(cin) + " cout=" + std::to_string(cout) + " h=" + std::to_string(h) +
              " w=" + std::to_string(w) + " k=" + std::to_string(k));
  // The transposed convolution maps cout channels (dy) to cin channels (dx).
  const std::vector<float> flipped = transpose_flip_weights(weight, cin, cout, k);
  const PackedConvWeights packed = pack_conv_weights(flipped.data(), nullptr, cout, cin, k, format);
  for (int i = 0; i < n; ++i) {
    ConvEpilogue epi;
    epi.residual = accumulate ? dx.image(i) : nullptr;
    conv2d_packed(dx.image(i), dy.image(i), packed, h, w, epi);
  }
}

}  // namespace microsr::kernels
