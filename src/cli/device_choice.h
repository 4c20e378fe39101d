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
//   precision fp32, fp16 (CUDA only: a clear error on the CPU) or bf16 (CPU with AMX only: a clear
//             error on the GPU or on a CPU without AMX, naming the missing feature)
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
// The table rows of these options, for the commands that take them (help text written once).
Option device_option(const std::string& fallback);
Option precision_option();
Option conv_option();
Option cuda_graphs_option();
Option threads_option();
// Throws UsageError unless `device` is auto, cpu, cuda or cuda:N.
void check_device_text(const std::string& device);

// The options as given, with the table's defaults. Call only in commands whose table has
// --device, --precision, --conv, --cuda-graphs and --threads.
DeviceChoice device_choice_from(const Args& args);
std::unique_ptr<Backend> make_backend(const DeviceChoice& choice);
bool is_cuda(const Backend& backend);

}  // namespace microsr::cli
