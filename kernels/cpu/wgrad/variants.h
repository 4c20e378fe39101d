// Weight (and bias) gradients of a stride-1 "same" convolution, odd square kernel k, over a whole
// batch (ImageBatch: image i at data + i * image_stride, each image dense [C][H][W]): the numbered
// variant table of the wgrad family, one file per variant (wgrad/v1_direct.cpp, ...).
//
// They compute what conv2d_backward_weight_ref (cpu_kernels.h) defines, summed over the batch;
// tests/test_backward_cpu.cpp checks every variant against it on odd shapes and
// bench/bench_conv_backward.cpp times every variant (ratios to torch:
// tools/bench_conv_backward_torch.py; figures in docs/kernels.md).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "cpu/image_batch.h"

namespace microsr::kernels {

// ---- gradients w.r.t. the weight and bias: a numbered variant table --------------------------
//   dw [cout][cin][k][k] += Σ_i,oy,ox dy[i][co][oy][ox] · x[i][ci][oy+ky−k/2][ox+kx−k/2]
//   db [cout]            += Σ_i,oy,ox dy[i][co][oy][ox]        (db may be null)
//   x[i] [cin][h][w], dy[i] [cout][h][w]
using ConvBackwardWeightFn = void (*)(float* dw, float* db, ImageBatch x, ImageBatch dy, int n, int cin, int cout,
                                      int h, int w, int k);

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

// The variants (wgrad/v1_direct.cpp, wgrad/v2_winograd43.cpp, wgrad/v3_winograd43_outer.cpp).
void conv2d_backward_weight_direct(float* dw, float* db, ImageBatch x, ImageBatch dy, int n, int cin, int cout, int h,
                                   int w, int k);
// k == 3 only; other k run conv2d_backward_weight_direct.
void conv2d_backward_weight_winograd43(float* dw, float* db, ImageBatch x, ImageBatch dy, int n, int cin, int cout,
                                       int h, int w, int k);
// The same as outer products (wgrad/v3_winograd43_outer.cpp); k == 3 only, as above.
void conv2d_backward_weight_winograd43_outer(float* dw, float* db, ImageBatch x, ImageBatch dy, int n, int cin,
                                             int cout, int h, int w, int k);

// db [cout] += Σ_i,p dy[i][co][p] (shared by the variants; parallel over channels; wgrad/common.cpp).
void conv2d_backward_bias(float* db, ImageBatch dy, int n, int cout, int64_t plane);

}  // namespace microsr::kernels
