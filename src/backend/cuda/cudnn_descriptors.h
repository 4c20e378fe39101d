// RAII holders for the legacy cuDNN descriptors, filling them from views, and the small helpers
// every cuDNN engine shares (cudnn_legacy.cpp, cudnn_graph.cpp, cudnn_backward.cpp).
#pragma once
#include <cuda_runtime.h>
#include <cudnn.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <string>

#include "cuda/view.h"
#include "cuda_check.h"

namespace microsr::cudnn {

struct TensorDescriptor {
  cudnnTensorDescriptor_t d = nullptr;
  TensorDescriptor() { MICROSR_CUDNN_CHECK(cudnnCreateTensorDescriptor(&d), "creating a tensor descriptor"); }
  ~TensorDescriptor() { cudnnDestroyTensorDescriptor(d); }
  TensorDescriptor(const TensorDescriptor&) = delete;
  TensorDescriptor& operator=(const TensorDescriptor&) = delete;
};

struct FilterDescriptor {
  cudnnFilterDescriptor_t d = nullptr;
  FilterDescriptor() { MICROSR_CUDNN_CHECK(cudnnCreateFilterDescriptor(&d), "creating a filter descriptor"); }
  ~FilterDescriptor() { cudnnDestroyFilterDescriptor(d); }
  FilterDescriptor(const FilterDescriptor&) = delete;
  FilterDescriptor& operator=(const FilterDescriptor&) = delete;
};

struct ConvolutionDescriptor {
  cudnnConvolutionDescriptor_t d = nullptr;
  ConvolutionDescriptor() {
    MICROSR_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&d), "creating a convolution descriptor");
  }
  ~ConvolutionDescriptor() { cudnnDestroyConvolutionDescriptor(d); }
  ConvolutionDescriptor(const ConvolutionDescriptor&) = delete;
  ConvolutionDescriptor& operator=(const ConvolutionDescriptor&) = delete;
};

// The legacy API takes int sizes and strides: true when every element of v is addressable so.
inline bool fits_int(const cuda::View& v) {
  const int64_t last =
      int64_t(v.n - 1) * v.sn + int64_t(v.c - 1) * v.sc + int64_t(v.h - 1) * v.sh + int64_t(v.w - 1) * v.sw;
  return last < INT_MAX;
}

inline cudnnDataType_t data_type(const cuda::View& v) { return v.half ? CUDNN_DATA_HALF : CUDNN_DATA_FLOAT; }

// The batch stride to describe. With one image it addresses nothing, so it is given the packed
// value of the other dimensions: a channel slice of a single NCHW image then looks packed to
// cuDNN (more algorithms accept it), and the stride of a huge parent buffer (or of one image of
// a split batch, see cudnn_legacy.cpp) cannot overflow the legacy API's int.
inline int64_t described_batch_stride(const cuda::View& v) {
  if (v.n > 1) return v.sn;
  const int64_t packed = std::max({int64_t(v.c) * v.sc, int64_t(v.h) * v.sh, int64_t(v.w) * v.sw});
  return std::min<int64_t>(packed, INT_MAX);
}

inline void set_tensor(TensorDescriptor& t, const cuda::View& v, const std::string& what) {
  MICROSR_CUDNN_CHECK(cudnnSetTensor4dDescriptorEx(t.d, data_type(v), v.n, v.c, v.h, v.w,
                                                   int(described_batch_stride(v)), int(v.sc), int(v.sh), int(v.sw)),
                      what);
}

// w: f32 [cout][cin][k][k] (NCHW filter) or f16 [cout][k][k][cin] (NHWC filter).
inline void set_filter(FilterDescriptor& f, bool half, int cout, int cin, int k, const std::string& what) {
  MICROSR_CUDNN_CHECK(cudnnSetFilter4dDescriptor(f.d, half ? CUDNN_DATA_HALF : CUDNN_DATA_FLOAT,
                                                 half ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW, cout, cin, k, k),
                      what);
}

// Stride-1 'same' cross-correlation (PyTorch's Conv2d), float accumulation. fp32 uses FMA math
// only: no TF32 on Ampere and later. fp16 may use tensor cores.
inline void set_same_conv(ConvolutionDescriptor& c, int k, bool half, const std::string& what) {
  MICROSR_CUDNN_CHECK(
      cudnnSetConvolution2dDescriptor(c.d, k / 2, k / 2, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT), what);
  MICROSR_CUDNN_CHECK(cudnnSetConvolutionMathType(c.d, half ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH), what);
}

// Whether a math type keeps the promise above (fp32: no tensor cores, i.e. no TF32). A perf
// result's math type is what cuDNN measured or ranked; the call itself runs with the
// descriptor's (FMA for fp32), so DEFAULT in a result is harmless.
inline bool math_allowed(cudnnMathType_t math, bool half) {
  return half || math == CUDNN_FMA_MATH || math == CUDNN_DEFAULT_MATH;
}

// MICROSR_CUDA_VERBOSE=1: say on stderr why cuDNN refused a shape (engines fall back silently).
inline bool verbose() {
  static const bool on = [] {
    const char* v = std::getenv("MICROSR_CUDA_VERBOSE");
    return v && *v && *v != '0';
  }();
  return on;
}

// True while `stream` is being captured into a CUDA graph (src/backend/cuda/cuda_graphs.cpp). Nothing
// may then be searched, timed or cached: algorithm searches synchronise, which invalidates the
// capture, and a failure seen during capture must not be remembered as "unsupported".
inline bool capturing(cudaStream_t stream) {
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  return cudaStreamIsCapturing(stream, &status) == cudaSuccess && status != cudaStreamCaptureStatusNone;
}

// cudnnGetErrorString with the number, for refusal reasons.
inline std::string status_str(cudnnStatus_t s) {
  return std::string(cudnnGetErrorString(s)) + " (" + std::to_string(int(s)) + ")";
}

}  // namespace microsr::cudnn
