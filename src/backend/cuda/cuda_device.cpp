// CUDA device discovery, the backend's factory, and the public memory statistics
// (include/microsr/backend.h). Built only with the CUDA backend; src/backend/no_cuda/stand_ins.cpp has the
// stand-ins for builds without it.
#include <cuda_profiler_api.h>
#include <cuda_runtime.h>

#include <algorithm>

#include "cuda_backend.h"
#include "microsr/backend.h"

namespace microsr {

bool cuda_available(std::string* why_not) {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess || count == 0) {
    if (err != cudaSuccess) cudaGetLastError();
    if (why_not) *why_not = err != cudaSuccess ? cudaGetErrorString(err) : "the CUDA driver reports none";
    return false;
  }
  return true;
}

CudaDeviceInfo cuda_device_info(int device_index) {
  std::string why;
  if (!cuda_available(&why)) throw Error("no CUDA device: " + why);
  cudaDeviceProp prop{};
  MICROSR_CUDA_CHECK(cudaGetDeviceProperties(&prop, device_index),
                     "reading the properties of cuda:" + std::to_string(device_index));
  CudaDeviceInfo info;
  info.name = prop.name;
  info.compute_major = prop.major;
  info.compute_minor = prop.minor;
  int previous = 0;
  MICROSR_CUDA_CHECK(cudaGetDevice(&previous), "querying the current device");
  MICROSR_CUDA_CHECK(cudaSetDevice(device_index), "selecting cuda:" + std::to_string(device_index));
  std::size_t free_bytes = 0, total_bytes = 0;
  const cudaError_t status = cudaMemGetInfo(&free_bytes, &total_bytes);
  cudaSetDevice(previous);
  MICROSR_CUDA_CHECK(status, "querying the memory of cuda:" + std::to_string(device_index));
  info.free_bytes = int64_t(free_bytes);
  info.total_bytes = int64_t(total_bytes);
  return info;
}

std::unique_ptr<Backend> make_cuda_backend(int device_index, const CudaOptions& options) {
  return std::make_unique<CudaBackend>(device_index, options);
}

std::vector<std::string> cuda_conv_variants() {
  std::vector<std::string> names;
  for (const auto& v : conv_variant_table()) names.emplace_back(v.name);
  return names;
}

// 80% of what the allocator can still obtain (free device memory + its cached blocks), less one
// cuDNN workspace: the budget the CLI's --tile auto used before the backends said it themselves.
int64_t CudaBackend::memory_for_tiles() const {
  const int64_t workspace = int64_t(options_.workspace_limit);
  return std::max<int64_t>(0, allocator().stats().available * 8 / 10 - workspace);
}

int CudaBackend::bytes_per_activation() const { return options_.precision == Precision::fp16 ? 2 : 4; }

DeviceMemoryStats device_memory_stats(const Backend& backend) {
  const auto* cuda = dynamic_cast<const CudaBackend*>(&backend);
  return cuda ? cuda->allocator().stats() : DeviceMemoryStats{};
}

std::vector<std::string> device_driver_allocations(const Backend& backend) {
  const auto* cuda = dynamic_cast<const CudaBackend*>(&backend);
  return cuda ? cuda->allocator().driver_allocation_log() : std::vector<std::string>{};
}

ConvPathCounts device_conv_paths(const Backend& backend) {
  const auto* cuda = dynamic_cast<const CudaBackend*>(&backend);
  return cuda ? cuda->conv_paths() : ConvPathCounts{};
}

void reset_device_memory_peaks(Backend& backend) {
  if (auto* cuda = dynamic_cast<CudaBackend*>(&backend)) cuda->allocator().reset_peaks();
}

void set_device_memory_limit(Backend& backend, int64_t bytes) {
  require(bytes >= 0, "a device memory limit of " + std::to_string(bytes) + " bytes");
  if (auto* cuda = dynamic_cast<CudaBackend*>(&backend)) cuda->allocator().set_limit(std::size_t(bytes));
}

void synchronize_device(Backend& backend) {
  if (auto* cuda = dynamic_cast<CudaBackend*>(&backend)) cuda->synchronize("waiting for the CUDA work queued so far");
}

void device_profiler_range(Backend& backend, bool begin) {
  if (!dynamic_cast<CudaBackend*>(&backend)) return;
  synchronize_device(backend);  // the span holds exactly the work queued inside it
  MICROSR_CUDA_CHECK(begin ? cudaProfilerStart() : cudaProfilerStop(), "marking the profiler's span");
}

}  // namespace microsr
