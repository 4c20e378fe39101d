// RAII holders for the legacy cuDNN descriptors, and filling them from views. Shared by the
// legacy forward engine (cudnn_legacy.cpp) and the backward passes (cudnn_backward.cpp).
#pragma once
#include <cudnn.h>

#include <climits>
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
  const int64_t last = int64_t(v.n - 1) * v.sn + int64_t(v.c - 1) * v.sc + int64_t(v.h - 1) * v.sh +
                       int64_t(v.w - 1) * v.sw;
  return last < INT_MAX;
}

inline cudnnDataType_t data_type(const cuda::View& v) { return v.half ? CUDNN_DATA_HALF : CUDNN_DATA_FLOAT; }

inline void set_tensor(TensorDescriptor& t, const cuda::View& v, const std::string& what) {
  MICROSR_CUDNN_CHECK(cudnnSetTensor4dDescriptorEx(t.d, data_type(v), v.n, v.c, v.h, v.w, int(v.sn), int(v.sc),
                                                   int(v.sh), int(v.sw)),
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

// Whether a math type keeps the promise above (fp32: no tensor cores, i.e. no TF32).
inline bool math_allowed(cudnnMathType_t math, bool half) {
  return half || math == CUDNN_FMA_MATH || math == CUDNN_DEFAULT_MATH;
}

}  // namespace microsr::cudnn
