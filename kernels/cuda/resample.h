// Launchers of the resampling kernels (kernels/cuda/resample.cu): nearest ×2 upsampling and its
// gradient, pixel_unshuffle and pixel_shuffle. Views as in elementwise.h; shapes in NCHW terms.
#pragma once
#include <cuda_runtime.h>

#include "view.h"

namespace microsr::cuda {

// y[n][c][2h][2w] = x[n][c][h][w]   (nearest neighbour, torch's interpolate(scale_factor=2))
cudaError_t upsample_nearest2x_view(const View& y, const View& x, cudaStream_t stream);

// dx[n][c][h][w] = Σ of the 2×2 block dy[n][c][2h..2h+1][2w..2w+1]   (its gradient)
cudaError_t upsample_nearest2x_backward_view(const View& dx, const View& dy, cudaStream_t stream);

// y[n][c·r² + i·r + j][h/r][w/r] = x[n][c][(h/r)·r + i][(w/r)·r + j]   (torch's pixel_unshuffle)
cudaError_t pixel_unshuffle_view(const View& y, const View& x, int r, cudaStream_t stream);

// y[n][c][h·r][w·r] ← x[n][c·r²][h][w]   (torch's pixel_shuffle, the inverse of the above)
cudaError_t pixel_shuffle_view(const View& y, const View& x, int r, cudaStream_t stream);

}  // namespace microsr::cuda
