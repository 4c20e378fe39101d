// Optimized CPU convolution gradients (stride-1 "same" convolution, odd square kernel k) over a
// whole batch. Image i of every batched argument starts at pointer + i * its image stride, so the
// dense block's channel slices (stride = the parent's C·H·W) work as they are; each image is
// dense [C][H][W].
//
// They compute what conv2d_backward_data_ref / conv2d_backward_weight_ref (cpu_kernels.h) define,
// summed over the batch; tests/test_backward_cpu.cpp checks them against those on odd shapes and
// bench/bench_conv_backward.cpp times them (ratios to torch: tools/bench_conv_backward_torch.py).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "cpu/conv2d_variants.h"

namespace microsr::kernels {

// A batch of n dense [C][H][W] float images, image i at data + i * image_stride.
struct ImageBatch {
  const float* data = nullptr;
  int64_t image_stride = 0;
  const float* image(int64_t i) const { return data + i * image_stride; }
};
struct MutableImageBatch {
  float* data = nullptr;
  int64_t image_stride = 0;
  float* image(int64_t i) const { return data + i * image_stride; }
};

// ---- gradient w.r.t. the input ---------------------------------------------------------------
// dx[i] [cin][h][w] (+)= conv_same(dy[i] [cout][h][w], weight^T flipped), weight [cout][cin][k][k]:
// the forward convolution of dy with the weights transposed (Cin <-> Cout) and turned by 180°,
// packed once per call into `format` and run by conv2d_packed (accumulate: through the
// epilogue's residual, which may be the output itself).
void conv2d_backward_data(MutableImageBatch dx, ImageBatch dy, const float* weight, int n, int cin,
                          int cout, int h, int w, int k, bool accumulate, ConvWeightFormat format);
inline void conv2d_backward_data(MutableImageBatch dx, ImageBatch dy, const float* weight, int n,
                                 int cin, int cout, int h, int w, int k, bool accumulate) {
  conv2d_backward_data(dx, dy, weight, n, cin, cout, h, w, k, accumulate,
                       best_conv_weight_format(cout, cin, k));
}
// weight_t [cin][cout][k][k] = weight [cout][cin][k-1-ky][k-1-kx]: the backward-data weights.
std::vector<float> transpose_flip_weights(const float* weight, int cin, int cout, int k);

// ---- gradients w.r.t. the weight and bias: a numbered variant table --------------------------
//   dw [cout][cin][k][k] += Σ_i,oy,ox dy[i][co][oy][ox] · x[i][ci][oy+ky−k/2][ox+kx−k/2]
//   db [cout]            += Σ_i,oy,ox dy[i][co][oy][ox]        (db may be null)
//   x[i] [cin][h][w], dy[i] [cout][h][w]
using ConvBackwardWeightFn = void (*)(float* dw, float* db, ImageBatch x, ImageBatch dy, int n,
                                      int cin, int cout, int h, int w, int k);

struct ConvBackwardWeightVariant {
  const char* name;     // "wgrad_v1_direct", ... — stable, used by tests and bench filters
  const char* summary;  // one line: what this variant changes
  ConvBackwardWeightFn fn;
};

const std::vector<ConvBackwardWeightVariant>& conv2d_backward_weight_variants();
// The fastest variant for this layer shape (what the CPU backend runs).
const ConvBackwardWeightVariant& conv2d_backward_weight_best(int cin, int cout, int k);
// Throws microsr::Error naming the known variants when `name` is not one of them.
const ConvBackwardWeightVariant& conv2d_backward_weight_variant(const std::string& name);

// The variants (conv2d_backward_weight.cpp, conv2d_backward_weight_winograd*.cpp).
void conv2d_backward_weight_direct(float* dw, float* db, ImageBatch x, ImageBatch dy, int n,
                                   int cin, int cout, int h, int w, int k);
// k == 3 only; other k run conv2d_backward_weight_direct.
void conv2d_backward_weight_winograd43(float* dw, float* db, ImageBatch x, ImageBatch dy, int n,
                                       int cin, int cout, int h, int w, int k);
// The same as outer products (conv2d_backward_weight_winograd_v3.cpp); k == 3 only, as above.
void conv2d_backward_weight_winograd43_outer(float* dw, float* db, ImageBatch x, ImageBatch dy,
                                             int n, int cin, int cout, int h, int w, int k);

// db [cout] += Σ_i,p dy[i][co][p] (shared by the variants; parallel over channels).
void conv2d_backward_bias(float* db, ImageBatch dy, int n, int cout, int64_t plane);

}  // namespace microsr::kernels
