// Fine-tuning RRDBNet: L1 loss, Adam, learning-rate schedules, an EMA of the weights, and the
// state a checkpoint needs to resume bit for bit.
//
// One Trainer::step is one iteration of BasicSR's SRModel with an L1 pixel loss:
//   sr = net(lr);  loss = mean |sr − hr|;  grads = ∂loss/∂θ;  (clip);  Adam;  ema ← ema·d + θ·(1−d)
// Parameters, gradients and both Adam moments are flat buffers with the same layout (the order of
// RRDBNetConfig::parameter_table()), so zeroing the gradients is one fill and Adam is one loop.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "microsr/backend.h"
#include "microsr/rrdbnet.h"
#include "microsr/weights.h"

namespace microsr {

// The learning rate as a function of the epoch (0-based), as torch's schedulers stepped once per
// epoch:  StepLR:      lr = base · γ^⌊epoch / step⌋
//         MultiStepLR: lr = base · γ^(number of milestones ≤ epoch)
//         constant:    lr = base
struct LrSchedule {
  enum class Kind { constant, step, multistep };
  Kind kind = Kind::step;
  double base_lr = 1e-4;
  int step_size = 16;           // StepLR
  std::vector<int> milestones;  // MultiStepLR, ascending epochs
  double gamma = 0.5;
  double lr_at(int epoch) const;
  std::string describe() const;
};

struct TrainerOptions {
  AdamStep adam;             // beta1, beta2, eps, weight_decay, decoupled (lr and t are set per step)
  double ema_decay = 0.999;  // 0: no EMA
  // Warm the EMA up: the decay at step t (1-based) is min(ema_decay, (1 + t) / (10 + t)), as
  // TensorFlow's ExponentialMovingAverage(num_updates) and timm's ModelEma do. Without it (BasicSR's
  // constant decay) a short run's average stays mostly the starting model: after 414 steps
  // 0.999^414 ≈ 66% of it. With it, step 414's decay is 0.979: the average spans ~50 steps.
  bool ema_warmup = true;
  double clip_grad_norm = 0;  // > 0: scale the gradients down to this global L2 norm when above
  // Benchmarks only: wait for the device after each phase of a step and keep the wall-clock time
  // of each (Trainer::last_phases). Costs a few synchronisations per step.
  bool time_phases = false;
};

// The EMA decay used at step `step` (1-based): ema_decay, or its warm-up ramp (see above).
double ema_decay_at(const TrainerOptions& options, int64_t step);

// Where one step's time went (seconds), when TrainerOptions::time_phases is on. The phases are
// sequential and cover the whole step: forward (with tape) → loss (L1 and ∂loss/∂sr) → backward
// (every gradient, plus their global norm) → optimizer (clipping, Adam, EMA) → prepare (the
// convolutions re-prepared from the updated weights).
struct TrainPhaseSeconds {
  double forward = 0, loss = 0, backward = 0, optimizer = 0, prepare = 0;
  // The host's share of the two long phases: the time to issue their work, up to the first wait
  // for the device. Close to the phase's time, the device waited on the host (launches, cuDNN's
  // host-side work); far below it, the device was the bottleneck. Equal on the CPU backend.
  double forward_issue = 0, backward_issue = 0;
};

class Trainer {
 public:
  // The network's current weights are the starting point (and the EMA's initial value).
  Trainer(RRDBNet& net, Backend& backend, const TrainerOptions& options);

  // One iteration on a batch: lr_images [B][C][h][w] and hr_images [B][C][h·s][w·s] in [0, 1],
  // host or device tensors. Returns the L1 loss before the update. Throws (leaving the weights
  // and optimizer state as they were) when the loss or the gradients are not finite.
  double step(const Tensor& lr_images, const Tensor& hr_images, double learning_rate);

  int64_t steps_done() const { return steps_; }
  double last_grad_norm() const { return last_grad_norm_; }
  const TrainPhaseSeconds& last_phases() const { return phases_; }
  void set_time_phases(bool on) { options_.time_phases = on; }

  // The weights (basicsr names, host copies) and their EMA (the weights themselves when off).
  StateDict weights() const { return net_.state_dict(); }
  StateDict ema_weights() const;

  // Everything besides the weights that resuming needs: the Adam moments and the EMA as flat
  // tensors ("adam.exp_avg", "adam.exp_avg_sq", "ema"), plus steps_done(). load_optimizer_state
  // checks every size.
  StateDict optimizer_state() const;
  void load_optimizer_state(const StateDict& state, int64_t steps_done);

 private:
  RRDBNet& net_;
  Backend& backend_;
  TrainerOptions options_;
  Tensor grads_, exp_avg_, exp_avg_sq_, ema_;  // flat, laid out like net_.parameters()
  int64_t steps_ = 0;
  double last_grad_norm_ = 0;
  TrainPhaseSeconds phases_;
};

// A training checkpoint: one safetensors file holding the weights ("weights.<key>"), the optimizer
// state ("optimizer.<key>") and, as string metadata, whatever else resuming needs (step and
// epoch counters, the data sampler's state, the run's settings). Written atomically.
struct TrainingCheckpoint {
  StateDict weights;    // basicsr names
  StateDict optimizer;  // Trainer::optimizer_state()
  std::map<std::string, std::string> info;
};
void save_checkpoint(const std::string& path, const TrainingCheckpoint& checkpoint);
TrainingCheckpoint load_checkpoint(const std::string& path);

}  // namespace microsr
