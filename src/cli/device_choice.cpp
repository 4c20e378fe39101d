#include "device_choice.h"

#include <cstdio>

namespace microsr::cli {

DeviceChoice device_choice_from(const Args& args, const std::string& default_device) {
  DeviceChoice choice;
  choice.device = args.get("--device", default_device);
  choice.precision = args.get("--precision", choice.precision);
  choice.conv = args.get("--conv", choice.conv);
  choice.graphs = args.get("--cuda-graphs", choice.graphs);
  choice.threads = args.get_int("--threads", choice.threads);
  return choice;
}

std::unique_ptr<Backend> make_backend(const DeviceChoice& choice) {
  const Precision precision = parse_precision(choice.precision);
  require(choice.graphs == "on" || choice.graphs == "off", "--cuda-graphs must be on or off, got '" + choice.graphs + "'");
  const std::string& device = choice.device;
  int index = 0;
  bool cuda = device.rfind("cuda", 0) == 0;
  if (cuda && device != "cuda") {
    const std::string n = device.substr(device.find(':') + 1);
    require(device.size() > 5 && device[4] == ':' && n.find_first_not_of("0123456789") == std::string::npos,
            "--device must be auto, cpu, cuda or cuda:N, got '" + device + "'");
    index = std::stoi(n);
  }
  require(cuda || device == "cpu" || device == "auto", "--device must be auto, cpu, cuda or cuda:N, got '" + device + "'");
  std::string why;
  if (device == "auto") {
    cuda = cuda_available(&why);
    // Plainly, once: the CUDA runtime's own words ("driver version is insufficient…") are for
    // those who asked for a GPU, and --device cuda gives them.
    if (!cuda) std::fprintf(stderr, "no usable GPU: running on the CPU (--device cuda says why)\n");
  } else if (cuda && !cuda_available(&why)) {
    throw Error("--device " + device + ": no CUDA device: " + why);
  }
  if (cuda) {
    CudaOptions options;
    options.precision = precision;
    if (!choice.conv.empty()) options.conv = choice.conv;
    options.graphs = choice.graphs == "on";
    return make_cuda_backend(index, options);
  }
  require(precision == Precision::fp32,
          "--precision fp16 needs the CUDA backend (--device cuda); the CPU computes in fp32");
  CpuOptions options;
  options.threads = choice.threads;
  options.conv = choice.conv;
  return make_cpu_backend(options);
}

bool is_cuda(const Backend& backend) { return backend.device().kind == DeviceKind::cuda; }

}  // namespace microsr::cli
