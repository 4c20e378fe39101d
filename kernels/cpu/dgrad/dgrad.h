// The gradient of a stride-1 "same" convolution w.r.t. its input, over a whole batch
// (dgrad/transposed_conv.cpp). It has no kernels of its own: it runs the forward convolution
// (conv/) on transposed, flipped weights, so its variants are the forward's weight formats
// (conv_weight_formats() in conv/variants.h), which tests/test_backward_cpu.cpp and
// bench/bench_conv_backward.cpp iterate.
#pragma once
#include <cstdint>
#include <vector>

#include "cpu/conv/variants.h"
#include "cpu/image_batch.h"

namespace microsr::kernels {

// dx[i] [cin][h][w] (+)= conv_same(dy[i] [cout][h][w], weight^T flipped), weight [cout][cin][k][k]:
// the forward convolution of dy with the weights transposed (Cin <-> Cout) and turned by 180°,
// packed once per call into `format` and run by conv2d_packed (accumulate: through the
// epilogue's residual, which may be the output itself).
void conv2d_backward_data(MutableImageBatch dx, ImageBatch dy, const float* weight, int n, int cin, int cout, int h,
                          int w, int k, bool accumulate, ConvWeightFormat format);
inline void conv2d_backward_data(MutableImageBatch dx, ImageBatch dy, const float* weight, int n, int cin, int cout,
                                 int h, int w, int k, bool accumulate) {
  conv2d_backward_data(dx, dy, weight, n, cin, cout, h, w, k, accumulate, best_conv_weight_format(cout, cin, k));
}
// weight_t [cin][cout][k][k] = weight [cout][cin][k-1-ky][k-1-kx]: the backward-data weights.
std::vector<float> transpose_flip_weights(const float* weight, int cin, int cout, int k);

}  // namespace microsr::kernels
