// Checking every CUDA runtime and cuDNN status. Each check names the operation and the shapes it
// ran on, so a failure on a machine we cannot log into still says what went wrong where:
//
//   MICROSR_CUDA_CHECK(cudaMemcpyAsync(...), "to_host " + t.describe());
//   MICROSR_CUDNN_CHECK(cudnnConvolutionForward(...), "conv2d " + shapes);
//
// The context expression is only evaluated when the call failed. Out-of-memory failures say
// "out of memory" (the tiler halves the tile and retries on exactly that phrase).
#pragma once
#include <cuda_runtime.h>
#include <cudnn.h>

#include <string>

#include "microsr/error.h"

namespace microsr::cuda_detail {

[[noreturn]] void throw_cuda_error(cudaError_t status, const char* call, const std::string& context);
[[noreturn]] void throw_cudnn_error(cudnnStatus_t status, const char* call, const std::string& context);

// cuDNN 9 groups its statuses by the thousand: 2xxx bad parameter, 3xxx not supported. Either
// means "this algorithm/engine/layout cannot do it", after which we try another way.
inline bool cudnn_refused(cudnnStatus_t status) { return status >= 2000 && status < 4000; }

}  // namespace microsr::cuda_detail

#define MICROSR_CUDA_CHECK(call, context)                                              \
  do {                                                                                 \
    const cudaError_t microsr_status_ = (call);                                        \
    if (microsr_status_ != cudaSuccess)                                                \
      ::microsr::cuda_detail::throw_cuda_error(microsr_status_, #call, (context));     \
  } while (0)

#define MICROSR_CUDNN_CHECK(call, context)                                             \
  do {                                                                                 \
    const cudnnStatus_t microsr_status_ = (call);                                      \
    if (microsr_status_ != CUDNN_STATUS_SUCCESS)                                       \
      ::microsr::cuda_detail::throw_cudnn_error(microsr_status_, #call, (context));    \
  } while (0)
