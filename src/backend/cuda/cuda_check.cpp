#include "cuda_check.h"

namespace microsr::cuda_detail {

namespace {
// The first line of `call`, at most 100 characters: enough to recognise it in a message.
std::string short_call(const char* call) {
  std::string s(call);
  const auto paren = s.find('(');
  if (paren != std::string::npos) s = s.substr(0, paren);
  return s.size() > 100 ? s.substr(0, 100) + "..." : s;
}
}  // namespace

void throw_cuda_error(cudaError_t status, const char* call, const std::string& context) {
  std::string message = "CUDA error in " + context + ": " + short_call(call) + " returned " + cudaGetErrorName(status) +
                        " (" + cudaGetErrorString(status) + ")";
  // Clear a non-sticky error so that the next check does not report it again.
  cudaGetLastError();
  if (status == cudaErrorMemoryAllocation)
    throw OutOfMemory(message + " — the GPU is out of memory; use a smaller --tile or --batch");
  throw DeviceError(message +
                    ". An earlier asynchronous failure may surface here; set MICROSR_CUDA_SYNC=1 to pin it down");
}

void throw_cudnn_error(cudnnStatus_t status, const char* call, const std::string& context) {
  std::string message =
      "cuDNN error in " + context + ": " + short_call(call) + " returned " + cudnnGetErrorString(status);
  if (status == CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED ||
      status == CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED)
    throw OutOfMemory(message + " — out of memory; use a smaller --tile or --batch");
  throw Error(message);
}

}  // namespace microsr::cuda_detail
