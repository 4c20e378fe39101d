// microsr bench --mode train: time one fine-tuning iteration (forward with tape, L1, backward,
// Adam, EMA) of the full model on a random batch and print one JSON line.
// tools/compare_train_step_vs_torch.py runs it beside PyTorch doing the same step, in one run.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

#include "args.h"
#include "backend/timed_backend.h"
#include "device_choice.h"
#include "microsr/train.h"
#include "subcommands.h"

namespace microsr::cli {

int run_bench_train(const Args& args) {
  const std::string model = args.has("--model") ? args.get("--model") : default_model_path();
  require_usage(args.get("--size").find('x') == std::string::npos,
                "--mode train: --size is one number N (the LR patch side), got '" + args.get("--size") + "'");
  const int size = args.has("--size") ? args.get_int("--size") : 32;
  const int batch = args.has("--batch") ? args.get_int("--batch") : 4;
  const int reps = args.get_int("--reps");
  require_usage(size >= 1 && size <= 1024 && batch >= 1 && batch <= 256, "--size 1..1024 and --batch 1..256");
  auto backend = make_backend(device_choice_from(args));
  const StateDict sd = load_rrdbnet_weights(model);
  const RRDBNetConfig cfg = infer_rrdbnet_config(sd);
  RRDBNet net(cfg, sd, *backend);
  TrainerOptions options;  // the seed's Adam, BasicSR's EMA
  Trainer trainer(net, *backend, options);

  Tensor lr = Tensor::empty({batch, cfg.num_in_ch, size, size});
  Tensor hr = Tensor::empty({batch, cfg.num_out_ch, size * cfg.scale, size * cfg.scale});
  std::mt19937 rng(0);
  std::uniform_real_distribution<float> uniform(0.f, 1.f);
  for (int64_t i = 0; i < lr.numel(); ++i) lr.f32()[i] = uniform(rng);
  for (int64_t i = 0; i < hr.numel(); ++i) hr.f32()[i] = uniform(rng);
  const Tensor lr_dev = backend->to_device(lr), hr_dev = backend->to_device(hr);

  trainer.step(lr_dev, hr_dev, 1e-4);  // warm-up: allocations, packed weights, cuDNN plans
  synchronize_device(*backend);
  std::vector<double> seconds;
  device_profiler_range(*backend, true);  // ncu --profile-from-start off: the timed steps only
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    trainer.step(lr_dev, hr_dev, 1e-4);  // returns the loss: the device is drained
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  device_profiler_range(*backend, false);
  std::sort(seconds.begin(), seconds.end());

  // Where the time goes: the same steps again, the device drained after each phase (so their sum
  // is a little above the step time measured without the waits). Medians per phase.
  trainer.set_time_phases(true);
  std::vector<TrainPhaseSeconds> phase_runs;
  for (int r = 0; r < reps; ++r) {
    trainer.step(lr_dev, hr_dev, 1e-4);
    phase_runs.push_back(trainer.last_phases());
  }
  auto phase_median = [&](double TrainPhaseSeconds::*phase) {
    std::vector<double> v;
    for (const auto& p : phase_runs) v.push_back(p.*phase);
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const double device_mb = double(device_memory_stats(*backend).peak_reserved) / (1 << 20);
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const double median = seconds[seconds.size() / 2];
  std::printf(
      "{\"mode\": \"train\", \"size\": %d, \"batch\": %d, \"seconds_median\": %.6f, \"seconds_best\": %.6f, "
      "\"images_per_s\": %.3f, \"peak_rss_mb\": %.1f, \"peak_device_mb\": %.1f, \"backend\": \"%s\", "
      "\"phases_s\": {\"forward\": %.6f, \"loss\": %.6f, \"backward\": %.6f, \"optimizer\": %.6f, "
      "\"prepare\": %.6f}, \"phases_issue_s\": {\"forward\": %.6f, \"backward\": %.6f}}\n",
      size, batch, median, seconds.front(), batch / median, usage.ru_maxrss / 1024.0, device_mb,
      backend->name().c_str(), phase_median(&TrainPhaseSeconds::forward), phase_median(&TrainPhaseSeconds::loss),
      phase_median(&TrainPhaseSeconds::backward), phase_median(&TrainPhaseSeconds::optimizer),
      phase_median(&TrainPhaseSeconds::prepare), phase_median(&TrainPhaseSeconds::forward_issue),
      phase_median(&TrainPhaseSeconds::backward_issue));
  if (args.has("--layer-times")) {
    // The same step through a TimedBackend, on a network and trainer of their own.
    TimedBackend timed(*backend);
    RRDBNet timed_net(cfg, sd, timed);
    Trainer timed_trainer(timed_net, timed, options);
    timed_trainer.step(lr_dev, hr_dev, 1e-4);
    timed.set_timing(true);
    for (int r = 0; r < reps; ++r) timed_trainer.step(lr_dev, hr_dev, 1e-4);
    timed.write_csv(args.get("--layer-times"), reps);
  }
  return 0;
}

}  // namespace microsr::cli
