// Checking every CUDA runtime and cuDNN status. Each check names the operation and the shapes it
// ran on, so a failure on a machine we cannot log into still says what went wrong where:
//
//   MICROSR_CUDA_CHECK(cudaMemcpyAsync(...), "to_host " + t.describe());
//   MICROSR_CUDNN_CHECK(cudnnConvolutionForward(...), "conv2d " + shapes);
//
// The context expression is only evaluated when the call failed. Out-of-memory failures throw
// OutOfMemory (the tiler halves the tile and retries on it), other CUDA failures DeviceError, and
// other cuDNN statuses a plain Error (include/microsr/error.h).
#pragma once
#include <cuda_runtime.h>
#include <cudnn.h>

#include <string>

#include "microsr/error.h"

namespace microsr::cuda_detail {

[[noreturn]] void throw_cuda_error(cudaError_t status, const char* call, const std::string& context);
[[noreturn]] void throw_cudnn_error(cudnnStatus_t status, const char* call, const std::string& context);

// cuDNN 9 groups its statuses by the thousand: 2xxx bad parameter, 3xxx not supported. They mean
// "this algorithm/engine/layout cannot do it", after which we try another way — except those
// saying that our call itself is wrong (a null pointer, a descriptor not finalized or of the wrong
// type, an attribute of the wrong type, a stream mismatch) or that this machine cannot run cuDNN
// (driver, runtime, architecture, a missing sub-library). Another way would only hide those, so
// they are errors.
inline bool cudnn_refused(cudnnStatus_t status) {
  switch (status) {
    case CUDNN_STATUS_BAD_PARAM_NULL_POINTER:
    case CUDNN_STATUS_BAD_PARAM_NOT_FINALIZED:
    case CUDNN_STATUS_BAD_PARAM_STREAM_MISMATCH:
    case CUDNN_STATUS_BAD_PARAM_ATTRIBUTE_TYPE:
    case CUDNN_STATUS_BAD_PARAM_CUDA_GRAPH_MISMATCH:
    case CUDNN_STATUS_BAD_PARAM_DESCRIPTOR_TYPE:
    case CUDNN_STATUS_NOT_SUPPORTED_INCOMPATIBLE_CUDA_DRIVER:
    case CUDNN_STATUS_NOT_SUPPORTED_INCOMPATIBLE_CUDART:
    case CUDNN_STATUS_NOT_SUPPORTED_ARCH_MISMATCH:
    case CUDNN_STATUS_NOT_SUPPORTED_SUBLIBRARY_UNAVAILABLE:
      return false;
    default:
      return status >= 2000 && status < 4000;
  }
}

}  // namespace microsr::cuda_detail

#define MICROSR_CUDA_CHECK(call, context)                                                                            \
  do {                                                                                                               \
    const cudaError_t microsr_status_ = (call);                                                                      \
    if (microsr_status_ != cudaSuccess) ::microsr::cuda_detail::throw_cuda_error(microsr_status_, #call, (context)); \
  } while (0)

#define MICROSR_CUDNN_CHECK(call, context)                                          \
  do {                                                                              \
    const cudnnStatus_t microsr_status_ = (call);                                   \
    if (microsr_status_ != CUDNN_STATUS_SUCCESS)                                    \
      ::microsr::cuda_detail::throw_cudnn_error(microsr_status_, #call, (context)); \
  } while (0)
