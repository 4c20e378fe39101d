// The parts of the CUDA API in include/microsr/backend.h that every build has: precision names,
// and — in builds without the CUDA backend — stand-ins that say so.
#include "microsr/backend.h"

namespace microsr {

const char* precision_name(Precision p) { return p == Precision::fp16 ? "fp16" : "fp32"; }

Precision parse_precision(const std::string& name) {
  if (name == "fp32") return Precision::fp32;
  if (name == "fp16") return Precision::fp16;
  throw Error("unknown precision '" + name + "': expected fp32 or fp16");
}

#ifndef MICROSR_WITH_CUDA
namespace {
const char* kNoCuda = "this build of microsr has no CUDA backend (it was built without nvcc/cuDNN)";
}

std::unique_ptr<Backend> make_cuda_backend(int, const CudaOptions&) { throw Error(kNoCuda); }
std::vector<std::string> cuda_conv_variants() { return {}; }
CudaDeviceInfo cuda_device_info(int) { throw Error(kNoCuda); }
DeviceMemoryStats device_memory_stats(const Backend&) { return {}; }
void reset_device_memory_peaks(Backend&) {}
void synchronize_device(Backend&) {}
void device_profiler_range(Backend&, bool) {}
#endif

}  // namespace microsr
