// Tensors as the CUDA kernels and cuDNN see them: a View (kernels/cuda/view.h) with element
// strides, built from a Tensor's shape, layout, dtype and batch stride; and the checks the
// convolution wrapper makes on views (packed? aligned? disjoint from another view?).
#pragma once
#include <string>

#include "cuda/view.h"
#include "microsr/tensor.h"

namespace microsr {

// The view of a rank-4 f32/f16 tensor (NCHW or NHWC, channel slices included). Throws for
// other ranks and bf16 (the CUDA kernels read float and half only).
cuda::View view_of(const Tensor& t, const char* what);
// A rank-any dense tensor as a [1][1][1][numel] view (flat ops on non-image buffers).
cuda::View flat_view_of(const Tensor& t, const char* what);

// "f16[2, 32, 13, 7] strides (…)" for error messages.
std::string view_str(const cuda::View& v);

// Dense in its own order: NCHW packed (sw = 1, sh = w, sc = h·w, sn = c·h·w) or NHWC packed.
bool view_packed(const cuda::View& v);
// The largest power of two ≤ 16 dividing the data pointer and, in bytes, every stride but the
// unit one (the dimension vector loads run along).
int view_alignment(const cuda::View& v);
// True when no element of a is an element of b (byte ranges apart, or two channel slices of
// one buffer with disjoint channel ranges).
bool views_disjoint(const cuda::View& a, const cuda::View& b);

}  // namespace microsr
