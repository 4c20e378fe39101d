// RRDBNet training against PyTorch: the loss, every parameter's gradient after one backward
// pass, and ten optimizer iterations (Adam or AdamW, StepLR, clipping, EMA), on small random nets.
// Goldens: tools/make_train_goldens.py (float64 PyTorch on the stored float32 weights and data).
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <map>

#include "microsr/rrdbnet.h"
#include "microsr/train.h"
#include "microsr/weights.h"
#include "test_helpers.h"

namespace microsr {
namespace {

using testing::data_path;
using testing::expect_close;

struct TrainFixture {
  StateDict all;
  std::map<std::string, std::string> meta;
  RRDBNetConfig config;
  StateDict weights;  // the initial weights, basicsr names

  explicit TrainFixture(const std::string& name) {
    all = load_safetensors(data_path("train/" + name + ".safetensors"), &meta);
    auto number = [&](const char* key) { return std::stoi(meta.at(key)); };
    config.num_in_ch = number("num_in_ch");
    config.num_out_ch = number("num_out_ch");
    config.scale = number("scale");
    config.num_feat = number("num_feat");
    config.num_block = number("num_block");
    config.num_grow_ch = number("num_grow_ch");
    for (const auto& p : config.parameter_table()) weights.add(p.name, all.at(p.name));
  }
  double value(const char* key) const { return std::stod(meta.at(key)); }

  TrainerOptions trainer_options() const {
    TrainerOptions o;
    o.adam.beta1 = value("beta1");
    o.adam.beta2 = value("beta2");
    o.adam.eps = value("eps");
    o.adam.weight_decay = value("weight_decay");
    o.adam.decoupled = value("decoupled") != 0;
    o.clip_grad_norm = value("clip_grad_norm");
    o.ema_decay = value("ema");
    o.ema_warmup = value("ema_warmup") != 0;
    return o;
  }
};

class TrainGolden : public ::testing::TestWithParam<std::string> {};

// One forward + L1 + backward. Tolerances: the loss to 1e-6 relative (a mean of float32 values);
// each gradient tensor to 2e-5 of its own largest magnitude — float32 sums over the batch and
// the image (a few thousand terms per weight) against float64 sums.
TEST_P(TrainGolden, LossAndEveryGradientMatchPyTorch) {
  const TrainFixture f(GetParam());
  auto backend = make_cpu_backend();
  RRDBNet net(f.config, f.weights, *backend);

  RRDBNetTape tape;
  const Tensor sr = net.forward(f.all.at("lr"), &tape);
  Tensor d_sr = Tensor::empty(sr.shape());
  const double loss = backend->l1_loss(&d_sr, sr, f.all.at("hr"));
  EXPECT_NEAR(loss, f.all.at("loss0").f32()[0], 1e-6 * loss);

  Tensor grads = Tensor::zeros(net.parameters().shape());
  net.backward(d_sr, tape, grads);
  int64_t offset = 0;
  for (const auto& p : f.config.parameter_table()) {
    const Tensor got = Tensor::borrow(grads.f32() + offset, p.shape);
    offset += got.numel();
    const Tensor& expected = f.all.at("grad." + p.name);
    double largest = 0;
    for (int64_t i = 0; i < expected.numel(); ++i) largest = std::max(largest, double(std::abs(expected.f32()[i])));
    expect_close(got, expected, 2e-5 * largest + 1e-9, GetParam() + " grad." + p.name);
  }
}

// Ten iterations on the same batch with the fixture's optimizer. Tolerances: losses 1e-4
// relative, weights and EMA 2e-5 absolute. Adam's update is ~lr·sign(g) for every weight, so a
// float32 gradient error is not amplified unless a gradient is ~0, and the net is tiny and smooth
// enough over ten steps that float32 and float64 stay this close.
TEST_P(TrainGolden, TenOptimizerStepsMatchPyTorch) {
  const TrainFixture f(GetParam());
  auto backend = make_cpu_backend();
  RRDBNet net(f.config, f.weights, *backend);
  Trainer trainer(net, *backend, f.trainer_options());

  LrSchedule schedule;  // stepped per iteration in the fixture
  schedule.kind = LrSchedule::Kind::step;
  schedule.base_lr = f.value("lr");
  schedule.step_size = int(f.value("lr_step"));
  schedule.gamma = f.value("lr_gamma");

  const Tensor& losses = f.all.at("losses");
  for (int64_t i = 0; i < losses.numel(); ++i) {
    const double loss = trainer.step(f.all.at("lr"), f.all.at("hr"), schedule.lr_at(int(i)));
    EXPECT_NEAR(loss, losses.f32()[i], 1e-4 * losses.f32()[i]) << "iteration " << i;
  }
  EXPECT_EQ(trainer.steps_done(), losses.numel());
  const StateDict final_weights = trainer.weights();
  const StateDict ema = trainer.ema_weights();
  for (const auto& p : f.config.parameter_table()) {
    expect_close(final_weights.at(p.name), f.all.at("final." + p.name), 2e-5, "final." + p.name);
    if (f.value("ema") > 0) expect_close(ema.at(p.name), f.all.at("ema." + p.name), 2e-5, "ema." + p.name);
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, TrainGolden, ::testing::Values("x4_f8_b2_g4_adam", "x2_f6_b1_g3_adamw_clip"));

// The EMA's warm-up ramp, and that it ends at the configured decay.
TEST(EmaDecay, WarmUpRampsUpToTheConfiguredDecay) {
  TrainerOptions o;
  o.ema_decay = 0.999;
  ASSERT_TRUE(o.ema_warmup) << "the default";
  EXPECT_DOUBLE_EQ(ema_decay_at(o, 1), 2.0 / 11.0);
  EXPECT_DOUBLE_EQ(ema_decay_at(o, 414), 415.0 / 424.0);
  EXPECT_DOUBLE_EQ(ema_decay_at(o, 8991), 0.999);  // (1 + t)/(10 + t) reaches 0.999 at t = 8991
  EXPECT_DOUBLE_EQ(ema_decay_at(o, 1000000), 0.999);
  o.ema_warmup = false;  // BasicSR's constant decay
  EXPECT_DOUBLE_EQ(ema_decay_at(o, 1), 0.999);
}

// Without warm-up, one step gives ema = d·θ₀ + (1 − d)·θ₁ exactly as BasicSR's model_ema.
TEST(EmaDecay, ConstantDecayIsBasicSRsAverage) {
  const TrainFixture f("x4_f8_b2_g4_adam");
  auto backend = make_cpu_backend();
  TrainerOptions options = f.trainer_options();
  options.ema_decay = 0.9, options.ema_warmup = false;
  RRDBNet net(f.config, f.weights, *backend);
  Trainer trainer(net, *backend, options);
  trainer.step(f.all.at("lr"), f.all.at("hr"), 1e-3);
  const StateDict after = trainer.weights(), ema = trainer.ema_weights();
  for (const auto& p : f.config.parameter_table()) {
    Tensor expected = Tensor::empty(p.shape);
    const float* before = f.weights.at(p.name).f32();
    for (int64_t i = 0; i < expected.numel(); ++i)
      expected.f32()[i] = 0.9f * before[i] + (1.0f - 0.9f) * after.at(p.name).f32()[i];
    expect_close(ema.at(p.name), expected, 1e-7, "ema." + p.name);
  }
}

// Resuming from the optimizer state gives the same iterations as never stopping.
TEST(Trainer, ResumedRunMatchesUninterruptedRun) {
  const TrainFixture f("x4_f8_b2_g4_adam");
  auto backend = make_cpu_backend();
  const TrainerOptions options = f.trainer_options();
  const Tensor& lr = f.all.at("lr");
  const Tensor& hr = f.all.at("hr");

  RRDBNet straight_net(f.config, f.weights, *backend);
  Trainer straight(straight_net, *backend, options);
  std::vector<double> expected;
  for (int i = 0; i < 4; ++i) expected.push_back(straight.step(lr, hr, 1e-3));

  RRDBNet first_net(f.config, f.weights, *backend);
  Trainer first(first_net, *backend, options);
  first.step(lr, hr, 1e-3);
  first.step(lr, hr, 1e-3);
  const StateDict weights = first.weights();
  const StateDict state = first.optimizer_state();

  RRDBNet resumed_net(f.config, weights, *backend);
  Trainer resumed(resumed_net, *backend, options);
  resumed.load_optimizer_state(state, first.steps_done());
  EXPECT_EQ(resumed.step(lr, hr, 1e-3), expected[2]);
  EXPECT_EQ(resumed.step(lr, hr, 1e-3), expected[3]);
}

TEST(Trainer, NonFiniteLossLeavesTheWeightsAlone) {
  const TrainFixture f("x4_f8_b2_g4_adam");
  auto backend = make_cpu_backend();
  RRDBNet net(f.config, f.weights, *backend);
  Trainer trainer(net, *backend, f.trainer_options());
  Tensor bad_hr = f.all.at("hr").clone();
  bad_hr.f32()[5] = std::nanf("");
  testing::expect_error([&] { trainer.step(f.all.at("lr"), bad_hr, 1e-3); }, "loss is nan");
  EXPECT_EQ(trainer.steps_done(), 0);
  for (const auto& p : f.config.parameter_table())
    expect_close(trainer.weights().at(p.name), f.weights.at(p.name), 0.0, p.name);
}

// bench --mode train's phases: each step's time split into consecutive phases, and for forward
// and backward the host's time to issue the work, which cannot exceed the phase it belongs to.
TEST(Trainer, PhaseTimesSplitTheStepAndIssueTimesFitInsideTheirPhases) {
  const TrainFixture f("x4_f8_b2_g4_adam");
  auto backend = make_cpu_backend();
  RRDBNet net(f.config, f.weights, *backend);
  Trainer trainer(net, *backend, f.trainer_options());
  trainer.step(f.all.at("lr"), f.all.at("hr"), 1e-3);
  const TrainPhaseSeconds off = trainer.last_phases();
  EXPECT_EQ(off.forward + off.loss + off.backward + off.optimizer + off.prepare, 0.0) << "timing is off by default";
  EXPECT_EQ(off.forward_issue + off.backward_issue, 0.0);

  trainer.set_time_phases(true);
  const auto t0 = std::chrono::steady_clock::now();
  trainer.step(f.all.at("lr"), f.all.at("hr"), 1e-3);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const TrainPhaseSeconds p = trainer.last_phases();
  for (double phase : {p.forward, p.loss, p.backward, p.optimizer, p.prepare}) EXPECT_GT(phase, 0.0);
  EXPECT_LE(p.forward + p.loss + p.backward + p.optimizer + p.prepare, wall);
  EXPECT_GT(p.forward_issue, 0.0);
  EXPECT_LE(p.forward_issue, p.forward);
  EXPECT_GT(p.backward_issue, 0.0);
  EXPECT_LE(p.backward_issue, p.backward);
}

TEST(LrSchedule, StepAndMultiStepMatchTorchFormulas) {
  LrSchedule s;
  s.base_lr = 1e-4, s.step_size = 16, s.gamma = 0.5;
  EXPECT_DOUBLE_EQ(s.lr_at(0), 1e-4);
  EXPECT_DOUBLE_EQ(s.lr_at(15), 1e-4);
  EXPECT_DOUBLE_EQ(s.lr_at(16), 5e-5);
  EXPECT_DOUBLE_EQ(s.lr_at(49), 1.25e-5);
  s.kind = LrSchedule::Kind::multistep;
  s.milestones = {10, 30};
  s.gamma = 0.1;
  EXPECT_DOUBLE_EQ(s.lr_at(9), 1e-4);
  EXPECT_DOUBLE_EQ(s.lr_at(10), 1e-5);
  EXPECT_NEAR(s.lr_at(30), 1e-6, 1e-20);
  s.kind = LrSchedule::Kind::constant;
  EXPECT_DOUBLE_EQ(s.lr_at(100), 1e-4);
}

}  // namespace
}  // namespace microsr
