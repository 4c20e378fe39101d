// CUDA device discovery. The CUDA backend proper (cuDNN convolutions, custom kernels) is built
// on top of this; see include/microsr/backend.h.
#include <cuda_runtime.h>

#include "microsr/backend.h"

namespace microsr {

bool cuda_available(std::string* why_not) {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess || count == 0) {
    if (why_not)
      *why_not = err != cudaSuccess ? std::string("no CUDA device: ") + cudaGetErrorString(err)
                                    : std::string("no CUDA device present");
    return false;
  }
  return true;
}

}  // namespace microsr
