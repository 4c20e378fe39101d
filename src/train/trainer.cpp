// One fine-tuning iteration: forward with a tape, L1, backward, optional clipping, Adam, EMA.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "microsr/train.h"

namespace microsr {

namespace {
Tensor zeros_like_on(Backend& backend, const Tensor& t) {
  Tensor z = backend.empty(t.shape());
  backend.fill(z, 0.f);
  return z;
}

// dst ← src for two flat buffers of the same size on the backend's device (copy_channels on a
// [1][n][1][1] view of each).
void copy_flat(Backend& backend, Tensor& dst, const Tensor& src) {
  Tensor dst4 = dst.reshaped({1, dst.numel(), 1, 1});
  backend.copy_channels(dst4, 0, src.reshaped({1, src.numel(), 1, 1}));
}

// A flat host buffer laid out like the parameter table, split into named tensors.
StateDict split_flat(const Tensor& flat_host, const RRDBNetConfig& config) {
  StateDict sd;
  int64_t offset = 0;
  for (const auto& p : config.parameter_table()) {
    Tensor t = Tensor::empty(p.shape);
    std::memcpy(t.f32(), flat_host.f32() + offset, t.bytes());
    sd.add(p.name, t);
    offset += t.numel();
  }
  return sd;
}

// With TrainerOptions::time_phases: mark() drains the device and charges the time since the
// previous mark to one phase; issued() notes the time since that mark without waiting (the
// host's time to issue the work so far). Without it, both do nothing.
class PhaseClock {
 public:
  PhaseClock(Backend& backend, bool on) : backend_(backend), on_(on) {
    if (!on_) return;
    synchronize_device(backend_);
    last_ = std::chrono::steady_clock::now();
  }
  void mark(double& phase_seconds) {
    if (!on_) return;
    synchronize_device(backend_);
    const auto now = std::chrono::steady_clock::now();
    phase_seconds = std::chrono::duration<double>(now - last_).count();
    last_ = now;
  }
  void issued(double& host_seconds) const {
    if (on_) host_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - last_).count();
  }

 private:
  Backend& backend_;
  bool on_;
  std::chrono::steady_clock::time_point last_;
};
}  // namespace

double ema_decay_at(const TrainerOptions& options, int64_t step) {
  if (!options.ema_warmup) return options.ema_decay;
  return std::min(options.ema_decay, (1.0 + double(step)) / (10.0 + double(step)));
}

Trainer::Trainer(RRDBNet& net, Backend& backend, const TrainerOptions& options)
    : net_(net), backend_(backend), options_(options) {
  require(options.ema_decay >= 0 && options.ema_decay < 1,
          "EMA decay must be in [0, 1), got " + std::to_string(options.ema_decay));
  require(options.clip_grad_norm >= 0, "gradient clipping norm must be >= 0");
  const Tensor& params = net_.parameters();
  grads_ = zeros_like_on(backend_, params);
  exp_avg_ = zeros_like_on(backend_, params);
  exp_avg_sq_ = zeros_like_on(backend_, params);
  if (options_.ema_decay > 0) {
    ema_ = backend_.empty(params.shape());
    copy_flat(backend_, ema_, params);
  }
}

double Trainer::step(const Tensor& lr_images, const Tensor& hr_images, double learning_rate) {
  const Tensor x = lr_images.device() == backend_.device() ? lr_images : backend_.to_device(lr_images);
  const Tensor target = hr_images.device() == backend_.device() ? hr_images : backend_.to_device(hr_images);

  // Forward, keeping what backward needs; L1 and its gradient ∂loss/∂sr.
  PhaseClock clock(backend_, options_.time_phases);
  RRDBNetTape tape;
  const Tensor sr = net_.forward(x, &tape);
  clock.issued(phases_.forward_issue);
  clock.mark(phases_.forward);
  require(sr.shape() == target.shape(), "training batch: the network makes " + shape_str(sr.shape()) + " from " +
                                            shape_str(x.shape()) + ", but the HR images are " +
                                            shape_str(target.shape()));
  Tensor d_sr = backend_.empty(sr.shape());
  const double loss = backend_.l1_loss(&d_sr, sr, target);
  clock.mark(phases_.loss);
  require(std::isfinite(loss), "the training loss is " + std::to_string(loss) + " at step " +
                                   std::to_string(steps_ + 1) + "; the weights were not updated");

  // Backward: every parameter's gradient, summed over the batch.
  backend_.fill(grads_, 0.f);
  net_.backward(d_sr, tape, grads_);
  tape = {};                             // free the activations before the optimizer runs
  clock.issued(phases_.backward_issue);  // sum_squares below waits for the device
  last_grad_norm_ = std::sqrt(backend_.sum_squares(grads_));
  require(std::isfinite(last_grad_norm_), "the gradients are not finite at step " + std::to_string(steps_ + 1) +
                                              " (norm " + std::to_string(last_grad_norm_) +
                                              "); the weights were not updated");
  clock.mark(phases_.backward);
  // As torch.nn.utils.clip_grad_norm_: scale by max_norm / (norm + 1e-6) when that is below 1.
  if (options_.clip_grad_norm > 0) {
    const double coef = options_.clip_grad_norm / (last_grad_norm_ + 1e-6);
    if (coef < 1.0) backend_.scale(grads_, float(coef));
  }

  // Adam on the flat buffers, then the EMA, then re-prepare the convolutions.
  AdamStep adam = options_.adam;
  adam.lr = learning_rate;
  adam.t = ++steps_;
  backend_.adam_step(net_.parameters(), exp_avg_, exp_avg_sq_, grads_, adam);
  if (ema_.defined()) backend_.ema_update(ema_, net_.parameters(), ema_decay_at(options_, steps_));
  clock.mark(phases_.optimizer);
  net_.weights_updated();
  clock.mark(phases_.prepare);
  return loss;
}

StateDict Trainer::ema_weights() const {
  if (!ema_.defined()) return weights();
  return split_flat(backend_.to_host(ema_), net_.config());
}

StateDict Trainer::optimizer_state() const {
  StateDict sd;
  sd.add("adam.exp_avg", backend_.to_host(exp_avg_));
  sd.add("adam.exp_avg_sq", backend_.to_host(exp_avg_sq_));
  if (ema_.defined()) sd.add("ema", backend_.to_host(ema_));
  return sd;
}

void Trainer::load_optimizer_state(const StateDict& state, int64_t steps_done) {
  auto load = [&](const char* key, Tensor& dst) {
    const Tensor& src = state.at(key);
    require(src.numel() == dst.numel(), std::string("optimizer state '") + key + "' has " +
                                            std::to_string(src.numel()) + " values, the network " +
                                            std::to_string(dst.numel()));
    copy_flat(backend_, dst, backend_.to_device(src));
  };
  load("adam.exp_avg", exp_avg_);
  load("adam.exp_avg_sq", exp_avg_sq_);
  if (ema_.defined()) {
    require(state.find("ema") != nullptr, "the checkpoint has no EMA weights but this run uses --ema");
    load("ema", ema_);
  }
  require(steps_done >= 0, "optimizer state: negative step count");
  steps_ = steps_done;
}

}  // namespace microsr
