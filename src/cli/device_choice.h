// Which backend a command runs on: --device, --precision, --threads, --conv and --cuda-graphs
// (upscale, bench, finetune).
#pragma once
#include <memory>
#include <string>

#include "args.h"
#include "microsr/backend.h"

namespace microsr::cli {

// The backend the --device / --precision / --threads / --conv options ask for:
//   device    auto (CUDA when a device is there, else the CPU with a one-line notice on stderr),
//             cpu, cuda or cuda:N
//   precision fp32, or fp16 (CUDA only: a clear error on the CPU)
//   conv      a convolution variant: the CPU's (kernels/cpu/conv/variants.h) or the CUDA
//             backend's (cuda_conv_variants()); "" = the default
//   graphs    "on" (default) or "off": CUDA graphs for the forward pass (CudaOptions::graphs)
struct DeviceChoice {
  std::string device = "auto";
  std::string precision = "fp32";
  std::string conv;
  std::string graphs = "on";
  int threads = 0;
};
// The options as given (absent ones keep their defaults; --device defaults to `default_device`).
// Options a command does not accept are absent: Args has already refused them.
DeviceChoice device_choice_from(const Args& args, const std::string& default_device);
std::unique_ptr<Backend> make_backend(const DeviceChoice& choice);
bool is_cuda(const Backend& backend);

}  // namespace microsr::cli
