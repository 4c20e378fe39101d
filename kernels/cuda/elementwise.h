// Launchers for the CUDA elementwise kernels (kernels/cuda/elementwise.cu). Raw device pointers,
// one image at a time ([C][H][W], N stripped), on the given stream; each returns the launch's
// cudaError_t so that the caller can name the operation and shapes in its error message.
// The CUDA backend (include/microsr/backend.h) builds its typed, shape-checked entries on these.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace microsr::cuda {

// y = a * s + b over n floats (y may alias a or b).
cudaError_t scaled_add(float* y, const float* a, float s, const float* b, int64_t n, cudaStream_t stream);
// y[c][2h][2w] = x[c][h][w] (nearest ×2).
cudaError_t upsample_nearest2x(float* y, const float* x, int c, int h, int w, cudaStream_t stream);
// y[c·r² + i·r + j][h/r][w/r] = x[c][(h/r)·r + i][(w/r)·r + j].
cudaError_t pixel_unshuffle(float* y, const float* x, int c, int h, int w, int r, cudaStream_t stream);
// y = LeakyReLU(x, slope) over n floats (may alias).
cudaError_t leaky_relu(float* y, const float* x, float slope, int64_t n, cudaStream_t stream);

}  // namespace microsr::cuda
