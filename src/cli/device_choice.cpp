#include "device_choice.h"

#include <omp.h>

#include <cstdio>

namespace microsr::cli {

Option device_option(const std::string& fallback) {
  return text("--device", "DEV", fallback,
              "auto (cuda when a CUDA device is present, else cpu), cpu, cuda or cuda:N\n"
              "(MICROSR_CUDA_MEMORY_LIMIT=6G: take at most 6 GiB of the GPU's memory)")
      .checked_by(check_device_text);
}

Option precision_option() {
  return choice("--precision", {"fp32", "fp16", "bf16"}, "fp32",
                "fp16 on CUDA: half-precision tensor cores; on the CPU: fp32 arithmetic\n"
                "with the dense blocks' activations stored in fp16 (AVX2 + F16C: less\n"
                "memory traffic for CPUs without bf16). Stops with an error instead of\n"
                "writing a black image if fp16 overflows. bf16 is CPU only: bf16\n"
                "products on AMX tiles (or AVX512_BF16 without AMX), fp32 sums (needs a\n"
                "CPU with one of them)");
}

Option conv_option() {
  return text("--conv", "VARIANT", "",
              "convolution variant (CUDA: legacy_find, legacy_heuristic, graph,\n"
              "graph_fused; CPU: those of kernels/cpu/conv/variants.h)")
      .default_is("graph_fused in fp16, graph in fp32 on CUDA; the CPU's own choice");
}

Option cuda_graphs_option() {
  return choice("--cuda-graphs", {"on", "off"}, "on",
                "CUDA: record the forward pass per tile shape as a CUDA graph and replay\n"
                "it (MICROSR_CUDA_GRAPHS=0 also turns it off)");
}

Option threads_option() { return integer("--threads", "N", "0", "CPU threads; 0 = all cores").at_least(0); }

void check_device_text(const std::string& device) {
  const bool numbered = device.starts_with("cuda:") && device.size() > 5 &&
                        device.find_first_not_of("0123456789", 5) == std::string::npos;
  require_usage(device == "auto" || device == "cpu" || device == "cuda" || numbered,
                "--device must be auto, cpu, cuda or cuda:N, got '" + device + "'");
}

DeviceChoice device_choice_from(const Args& args) {
  DeviceChoice choice;
  choice.device = args.get("--device");
  choice.precision = args.get("--precision");
  choice.conv = args.get("--conv");
  choice.graphs = args.get("--cuda-graphs");
  choice.threads = args.get_int("--threads");
  // The program owns its process: --threads also bounds the work outside the backend (image
  // decoding and encoding, resizing, detection), as a user limiting a shared machine expects.
  // The library itself never sets this process-wide (CpuOptions::threads is per backend).
  if (choice.threads > 0) omp_set_num_threads(choice.threads);
  return choice;
}

std::unique_ptr<Backend> make_backend(const DeviceChoice& choice) {
  const Precision precision = parse_precision(choice.precision);
  require(choice.graphs == "on" || choice.graphs == "off",
          "--cuda-graphs must be on or off, got '" + choice.graphs + "'");
  const std::string& device = choice.device;
  int index = 0;
  bool cuda = device.rfind("cuda", 0) == 0;
  if (cuda && device != "cuda") {
    const std::string n = device.substr(device.find(':') + 1);
    require(device.size() > 5 && device[4] == ':' && n.find_first_not_of("0123456789") == std::string::npos,
            "--device must be auto, cpu, cuda or cuda:N, got '" + device + "'");
    index = std::stoi(n);
  }
  require(cuda || device == "cpu" || device == "auto",
          "--device must be auto, cpu, cuda or cuda:N, got '" + device + "'");
  std::string why;
  if (device == "auto") {
    cuda = cuda_available(&why);
    // Plainly, once: the CUDA runtime's own words ("driver version is insufficient…") are for
    // those who asked for a GPU, and --device cuda gives them.
    if (!cuda) std::fprintf(stderr, "no usable GPU: running on the CPU (--device cuda says why)\n");
  } else if (cuda && !cuda_available(&why)) {
    throw Error("--device " + device + ": no CUDA device: " + why);
  }
  if (cuda && precision == Precision::bf16)
    throw Error(
        "--precision bf16 runs on the CPU only (AMX or AVX512_BF16); use --device cpu, or fp16/fp32 on the GPU");
  if (cuda) {
    CudaOptions options;
    options.precision = precision;
    if (!choice.conv.empty()) options.conv = choice.conv;
    options.graphs = choice.graphs == "on";
    return make_cuda_backend(index, options);
  }
  if (precision != Precision::fp32) {
    const std::string name = precision_name(precision);
    const std::string why = cpu_precision_unavailable(precision);
    if (!why.empty()) throw Error("--precision " + name + " on the CPU: " + why + "; use --precision fp32");
    require(choice.conv.empty(),
            "--conv picks an fp32 CPU kernel; --precision " + name + " runs its own kernels (drop --conv)");
    if (const std::string advice = cpu_precision_advice(precision); !advice.empty())
      std::fprintf(stderr, "note: %s\n", advice.c_str());
  }
  CpuOptions options;
  options.threads = choice.threads;
  options.conv = choice.conv;
  options.precision = precision;
  return make_cpu_backend(options);
}

bool is_cuda(const Backend& backend) { return backend.device().kind == DeviceKind::cuda; }

}  // namespace microsr::cli
