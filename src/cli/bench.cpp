// microsr bench: time one RRDBNet forward pass on a random input and print one JSON line.
// tools/compare_cpu_vs_torch.py runs it beside PyTorch, in the same run, on the same machine.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

#include "args.h"
#include "microsr/rrdbnet.h"
#include "subcommands.h"

namespace microsr::cli {

int run_bench(int argc, char** argv) {
  Args args(argc, argv, {"--model", "--size", "--reps", "--threads", "--conv"}, {});
  if (args.help()) {
    std::printf("usage: microsr bench [--model FILE] [--size 64] [--reps 3] [--threads 0] [--conv VARIANT]\n\n"
                "Times the forward pass on a 1×3×size×size input (one warm-up, then --reps runs) and prints\n"
                "{\"size\", \"seconds_median\", \"seconds_best\", \"peak_rss_mb\", \"gflops\"} as one JSON line.\n");
    return 0;
  }
  const std::string model = args.has("--model") ? args.get("--model") : default_model_path();
  const int size = args.get_int("--size", 64), reps = std::max(1, args.get_int("--reps", 3));
  auto backend = make_cpu_backend(args.get_int("--threads", 0));
  if (args.has("--conv")) set_cpu_conv_variant(args.get("--conv"));
  const StateDict sd = load_rrdbnet_weights(model);
  const RRDBNetConfig cfg = infer_rrdbnet_config(sd);
  RRDBNet net(cfg, sd, *backend);

  Tensor x = Tensor::empty({1, cfg.num_in_ch, size, size});
  std::mt19937 rng(0);
  std::uniform_real_distribution<float> uniform(0.f, 1.f);
  for (int64_t i = 0; i < x.numel(); ++i) x.f32()[i] = uniform(rng);

  net.forward(x);  // warm-up: first-touch allocations, packed weights
  std::vector<double> seconds;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    net.forward(x);
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(seconds.begin(), seconds.end());
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const double median = seconds[seconds.size() / 2];
  std::printf("{\"size\": %d, \"seconds_median\": %.6f, \"seconds_best\": %.6f, \"peak_rss_mb\": %.1f, "
              "\"gflops\": %.2f, \"backend\": \"%s\"}\n",
              size, median, seconds.front(), usage.ru_maxrss / 1024.0, 2 * cfg.macs(size, size) / median / 1e9,
              backend->name().c_str());
  return 0;
}

}  // namespace microsr::cli
