// Launchers of the elementwise kernels (kernels/cuda/elementwise.cu) and of the layout/dtype
// conversion (kernels/cuda/layout.cu). Views, not tensors: device pointers with strides and an
// element type (view.h); each launcher enqueues on `stream` and returns the launch's status so
// that the caller can name the operation and shapes in its error. All shapes are NCHW-indexed;
// the views say where each element lives (NCHW, NHWC, channel slices, float or half).
#pragma once
#include <cuda_runtime.h>

#include "view.h"

namespace microsr::cuda {

// dst[n][c][h][w] = scale · src[n][c][h][w] — also a layout and type conversion (NCHW f32 ↔
// NHWC f16, slices to dense and back). dst and src have the same n, c, h, w; dst must not
// overlap src unless they are the same view.
cudaError_t copy_view(const View& dst, const View& src, float scale, cudaStream_t stream);

// y = a · s + b, elementwise, same n, c, h, w (y may be a or b). Rounded as the CPU reference
// is compiled: one fused multiply-add (see elementwise.cu).
cudaError_t scaled_add_view(const View& y, const View& a, float s, const View& b, cudaStream_t stream);

// dst = value.
cudaError_t fill_view(const View& dst, float value, cudaStream_t stream);

// dst *= s.
cudaError_t scale_view(const View& dst, float s, cudaStream_t stream);

// dz = dy · (y > 0 ? 1 : slope)   (the gradient of LeakyReLU given its output y; dz may be dy).
cudaError_t leaky_relu_backward_view(const View& dz, const View& dy, const View& y, float slope, cudaStream_t stream);

}  // namespace microsr::cuda
