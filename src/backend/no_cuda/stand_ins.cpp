// The CUDA API of include/microsr/backend.h in a build without the CUDA backend (CMake compiles
// this folder instead of src/backend/cuda when nvcc or cuDNN is missing). Whatever needs a GPU
// says so with one message; queries answer "nothing here".
#include "microsr/backend.h"

namespace microsr {

namespace {
const char* kNoCudaBackend = "this build of microsr has no CUDA backend (it was built without nvcc/cuDNN)";
}

bool cuda_available(std::string* why_not) {
  if (why_not) *why_not = kNoCudaBackend;
  return false;
}
std::unique_ptr<Backend> make_cuda_backend(int, const CudaOptions&) { throw Error(kNoCudaBackend); }
std::vector<std::string> cuda_conv_variants() { return {}; }
CudaDeviceInfo cuda_device_info(int) { throw Error(kNoCudaBackend); }
DeviceMemoryStats device_memory_stats(const Backend&) { return {}; }
void reset_device_memory_peaks(Backend&) {}
ConvPathCounts device_conv_paths(const Backend&) { return {}; }
std::vector<std::string> device_driver_allocations(const Backend&) { return {}; }
void set_device_memory_limit(Backend&, int64_t) {}
void synchronize_device(Backend&) {}
void device_profiler_range(Backend&, bool) {}

}  // namespace microsr
