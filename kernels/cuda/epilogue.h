// Launcher of the convolution epilogue (kernels/cuda/epilogue.cu): what the CPU's conv kernels do
// while storing, applied after a cuDNN convolution that did not fuse it.
#pragma once
#include <cuda_runtime.h>

#include "view.h"

namespace microsr::cuda {

struct EpilogueParams {
  View y;                       // [n][c][h][w]: where the result goes (any layout, float or half)
  View acc;                     // [n][c][h][w]: the raw convolution output (may be y itself: in place)
  View residual;                // [n][c][h][w] or data == nullptr
  const float* bias = nullptr;  // [c] or null
  bool lrelu = false;
  float slope = 0.2f, scale = 1.f;
};

// y = scale · act(acc + bias[c]) + residual, act = LeakyReLU(slope) when lrelu; rounded step by
// step as the CPU reference (kernels/cpu/ref/conv2d_ref.cpp).
cudaError_t conv_epilogue(const EpilogueParams& p, cudaStream_t stream);

}  // namespace microsr::cuda
