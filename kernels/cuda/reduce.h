// Launchers of the reductions (kernels/cuda/reduce.cu). Sums are accumulated in double, per block
// into `partials` (kMaxPartials doubles of scratch), then one block adds the partials in a fixed
// order into *result: the same inputs give the same bits on every run.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "view.h"

namespace microsr::cuda {

constexpr int kMaxPartials = 1024;

// *result = Σ t²   (t: [n][c][h][w] view)
cudaError_t sum_squares_view(double* result, double* partials, const View& t, cudaStream_t stream);

// *result = Σ |pred − target|; if dpred.data, also dpred = sign(pred − target) · grad_scale
// (0 where equal). pred, target, dpred: views of the same shape.
cudaError_t l1_view(double* result, double* partials, const View& dpred, const View& pred, const View& target,
                    float grad_scale, cudaStream_t stream);

// db[c] += Σ_{n,h,w} dy[n][c][h][w]   (a convolution's bias gradient; dy.c ≤ 65535)
cudaError_t channel_sum_accumulate(float* db, const View& dy, cudaStream_t stream);

// *count += number of NaN or ±Inf elements of v (an unsigned long long in device memory).
cudaError_t count_nonfinite(unsigned long long* count, const View& v, cudaStream_t stream);

}  // namespace microsr::cuda
