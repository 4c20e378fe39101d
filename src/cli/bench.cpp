// microsr bench: time RRDBNet forward passes on a random input and print one JSON line.
// tools/compare_cpu_vs_torch.py (CPU) and tools/gpu_check.sh (CUDA) run it beside PyTorch, in
// the same run, on the same machine.
//
// Timing: one warm-up pass (weight packing, cuDNN algorithm searches, first allocations), then
// --reps passes; each is timed from the input on the device to the output on the device, with
// the device's queue drained (the host → device and device → host copies are not included).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

#include "args.h"
#include "backend/timed_backend.h"
#include "microsr/rrdbnet.h"
#include "subcommands.h"
#include "upscale_jobs.h"

namespace microsr::cli {

namespace {

// "N" or "WxH" (also "W×H" spelt with an x) → width, height.
void parse_size(const std::string& text, int& width, int& height) {
  const auto x = text.find('x');
  try {
    std::size_t used = 0;
    if (x == std::string::npos) {
      width = height = std::stoi(text, &used);
      if (used == text.size() && width > 0) return;
    } else {
      width = std::stoi(text.substr(0, x), &used);
      const bool first = used == x;
      height = std::stoi(text.substr(x + 1), &used);
      if (first && used == text.size() - x - 1 && width > 0 && height > 0) return;
    }
  } catch (const std::logic_error&) {
  }
  throw UsageError("--size expects N or WxH (e.g. 64 or 1600x1200), got '" + text + "'");
}

void check_size(const std::string& text) {
  int width = 0, height = 0;
  parse_size(text, width, height);
}

const CommandSpec kSpec{
    "bench",
    "[options]",
    R"(Times the forward pass of the model on a random B×3×H×W input, as upscale runs it
(RRDBNet::forward_inference): a warm-up (on CUDA: the algorithm choices, then a second one that
records the CUDA graph unless --cuda-graphs off), then R timed runs, each from the input on the
device to the output on the device. Prints one JSON line:
  {"size": "WxH", "width", "height", "batch", "device", "precision", "graphs", "seconds_median",
   "seconds_best", "peak_rss_mb", "peak_device_mb", "gflops", "backend",
   "conv_paths": {fused, unfused, packed_input, packed_output, fallback},
   "warmup_s": {first_pass, second_pass}}
peak_device_mb is the most device memory the CUDA backend's allocator held (weights included;
0 on the CPU); gflops counts 2 × multiply-accumulates of the batch per median second; warmup_s
times the warm-up passes, to the output on the device (second_pass: 0 when there is none).

--mode train times one fine-tuning iteration instead (forward, L1, backward, Adam, EMA) on a
random batch of B LR patches of --size (fp32 only) and prints
  {"mode": "train", "size", "batch", "seconds_median", "seconds_best", "images_per_s",
   "peak_rss_mb", "peak_device_mb", "backend", "phases_s": {forward, loss, backward, optimizer,
   prepare}, "phases_issue_s": {forward, backward}}  (the phases from more steps, the device drained
   after each; issue: the host's time to issue a phase's work, before its first wait)
Both modes bracket their timed passes with the CUDA profiler's span (ncu --profile-from-start off).
)",
    {
        text("--model", "FILE", "", "the model to time").default_is("the fetched RealESRGAN_x4plus"),
        choice("--mode", {"forward", "train"}, "forward", "what to time"),
        text("--size", "N|WxH", "", "input size in pixels (train: the LR patch side, 1..1024)")
            .checked_by(check_size)
            .default_is("64; 32 with --mode train"),
        integer("--batch", "B", "", "inputs per pass (train: 1..256)").at_least(1).default_is("1; 4 with --mode train"),
        integer("--reps", "R", "3", "timed runs").at_least(1),
        device_option("cpu"),
        precision_option(),
        conv_option(),
        cuda_graphs_option(),
        threads_option(),
        text("--layer-times", "FILE.csv", "",
             "then time each operation of R more passes (steps) on their own, the device\n"
             "drained around each, and write per pass: op, shape, calls, seconds, share,\n"
             "gflop, tflop_per_s (where the time goes, by layer shape)"),
    },
    ""};

}  // namespace

int run_bench(int argc, char** argv) {
  const Args args(argc, argv, kSpec);
  if (args.help()) {
    std::fputs(help_text(kSpec).c_str(), stdout);
    return 0;
  }
  if (args.get("--mode") == "train") {
    require_usage(args.get("--precision") == "fp32", "--mode train runs in fp32");
    return run_bench_train(args);
  }
  int width = 64, height = 64;
  if (args.has("--size")) parse_size(args.get("--size"), width, height);
  const int reps = args.get_int("--reps"), batch = args.has("--batch") ? args.get_int("--batch") : 1;
  const DeviceChoice choice = device_choice_from(args);
  auto backend = make_backend(choice);
  const std::string model = args.has("--model") ? args.get("--model") : default_model_path();

  std::unique_ptr<RRDBNet> net;
  {  // the file's tensors go as soon as the network has its own copy
    const StateDict sd = load_rrdbnet_weights(model);
    net = std::make_unique<RRDBNet>(infer_rrdbnet_config(sd), sd, *backend);
  }
  const RRDBNetConfig cfg = net->config();  // a copy: --layer-times lets the network go

  Tensor host = Tensor::empty({batch, cfg.num_in_ch, height, width});
  std::mt19937 rng(0);
  std::uniform_real_distribution<float> uniform(0.f, 1.f);
  for (int64_t i = 0; i < host.numel(); ++i) host.f32()[i] = uniform(rng);
  const Tensor x = backend->to_device(host);

  // One pass, timed to the output on the device. The warm-up passes are timed too: they are what a
  // program's first image at a new size pays (upscale's time line gives its first image apart),
  // so they are reported beside the median of the timed passes.
  const auto seconds_of_pass = [&] {
    const auto t0 = std::chrono::steady_clock::now();
    const Tensor y = net->forward_inference(x);  // held until the device is done with it
    synchronize_device(*backend);
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  synchronize_device(*backend);
  const double first_pass_s = seconds_of_pass();  // warm-up: packed weights, cuDNN plans, first allocations
  const double second_pass_s =
      is_cuda(*backend) && choice.graphs == "on" ? seconds_of_pass() : 0.0;  // records the CUDA graph
  std::vector<double> seconds;
  device_profiler_range(*backend, true);  // ncu --profile-from-start off: the timed passes only
  for (int r = 0; r < reps; ++r) seconds.push_back(seconds_of_pass());
  device_profiler_range(*backend, false);
  std::sort(seconds.begin(), seconds.end());
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const double median = seconds[seconds.size() / 2];
  const double peak_device_mb = double(device_memory_stats(*backend).peak_reserved) / (1 << 20);
  // The device as asked for ("cuda", "cuda:1"); auto says which it became.
  const std::string device = !is_cuda(*backend) ? "cpu" : choice.device == "auto" ? "cuda" : choice.device;
  const ConvPathCounts paths = device_conv_paths(*backend);  // every pass so far, warm-ups included
  std::printf(
      "{\"size\": \"%dx%d\", \"width\": %d, \"height\": %d, \"batch\": %d, \"device\": \"%s\", "
      "\"precision\": \"%s\", \"graphs\": \"%s\", \"seconds_median\": %.6f, \"seconds_best\": %.6f, \"peak_rss_mb\": "
      "%.1f, "
      "\"peak_device_mb\": %.1f, \"gflops\": %.2f, \"backend\": \"%s\", \"conv_paths\": {\"fused\": %lld, "
      "\"unfused\": %lld, \"packed_input\": %lld, \"packed_output\": %lld, \"fallback\": %lld}, "
      "\"warmup_s\": {\"first_pass\": %.6f, \"second_pass\": %.6f}}\n",
      width, height, width, height, batch, device.c_str(), choice.precision.c_str(),
      is_cuda(*backend) ? choice.graphs.c_str() : "n/a", median, seconds.front(), usage.ru_maxrss / 1024.0,
      peak_device_mb, 2 * cfg.macs(height, width) * batch / median / 1e9, backend->name().c_str(),
      (long long)paths.fused, (long long)paths.unfused, (long long)paths.packed_input, (long long)paths.packed_output,
      (long long)paths.fallback, first_pass_s, second_pass_s);
  if (args.has("--layer-times")) {
    // The same pass through a TimedBackend, on a network of its own with the same weights: the
    // first one (and its CUDA graph's memory) goes first. Plans are per shape, so the warm-up
    // finds most of them made.
    const StateDict weights = net->state_dict();
    net.reset();
    TimedBackend timed(*backend);
    RRDBNet timed_net(cfg, weights, timed);
    timed_net.forward(x);
    timed.set_timing(true);
    for (int r = 0; r < reps; ++r) timed_net.forward(x);
    timed.write_csv(args.get("--layer-times"), reps);
  }
  return 0;
}

}  // namespace microsr::cli
