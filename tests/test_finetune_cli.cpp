// `microsr make-pairs` + `microsr finetune` end to end on a tiny RRDBNet: an interrupted and
// resumed run equals an uninterrupted one bit for bit, validation L1 goes down, and the output
// .pth loads in PyTorch (tools/check_finetuned_pth.py) with exactly the tensors we meant to save.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "../src/cli/subcommands.h"
#include "microsr/finetune.h"
#include "microsr/image_io.h"
#include "microsr/train.h"
#include "microsr/weights.h"
#include "test_gpu_helpers.h"
#include "test_helpers.h"

namespace fs = std::filesystem;

namespace microsr {
namespace {

using testing::run_cli;

std::vector<std::vector<std::string>> read_csv(const std::string& path, std::size_t columns) {
  std::ifstream in(path);
  std::vector<std::vector<std::string>> rows;
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> fields;
    std::stringstream ss(line);
    std::string f;
    while (std::getline(ss, f, ',') && fields.size() < columns) fields.push_back(f);
    rows.push_back(fields);
  }
  return rows;
}

class FinetuneCli : public ::testing::Test {
 protected:
  static inline std::string dir;

  // Six smooth random 40×40 RGB crops → pairs (LR 10×10); a tiny random x4 RRDBNet as --init.
  static void SetUpTestSuite() {
    dir = testing::temp_path("finetune");
    fs::remove_all(dir);
    fs::create_directories(dir + "/crops");
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> u(0.f, 1.f);
    for (int k = 0; k < 6; ++k) {
      Image img;
      img.width = img.height = 40, img.channels = 3;
      img.pixels.resize(3 * 40 * 40);
      const float fx = 0.1f + 0.3f * u(rng), fy = 0.1f + 0.3f * u(rng), phase = 6.f * u(rng);
      for (int c = 0; c < 3; ++c)
        for (int y = 0; y < 40; ++y)
          for (int x = 0; x < 40; ++x)
            img.pixels[(c * 40 + y) * 40 + x] = 0.5f + 0.4f * std::sin(fx * x + phase + c) * std::cos(fy * y);
      write_png(dir + "/crops/crop" + std::to_string(k) + ".png", img);
    }
    ASSERT_EQ(run_cli(cli::run_make_pairs, {dir + "/crops", "-o", dir + "/pairs", "--min-size", "32"}), 0);
    const StateDict fixture = load_safetensors(testing::data_path("train/x4_f8_b2_g4_adam.safetensors"));
    RRDBNetConfig config;
    config.num_feat = 8, config.num_block = 2, config.num_grow_ch = 4;
    StateDict init;
    for (const auto& p : config.parameter_table()) init.add(p.name, fixture.at(p.name));
    save_pth(dir + "/init.pth", init);
  }
  static void TearDownTestSuite() { fs::remove_all(dir); }

  // 3 iterations per epoch (6 pairs, batch 2) × 4 epochs.
  static std::vector<std::string> args(const std::string& out) {
    return {"--pairs",
            dir + "/pairs",
            "-o",
            out,
            "--init",
            dir + "/init.pth",
            "--epochs",
            "4",
            "--batch",
            "2",
            "--patch",
            "16",
            "--lr",
            "2e-3",
            "--lr-step",
            "2",
            "--ema",
            "0.9",
            "--val",
            dir + "/pairs",
            "--threads",
            "2",
            "--checkpoint-every",
            "2",
            "--seed",
            "3"};
  }
  static std::vector<std::string> plus(std::vector<std::string> a, std::initializer_list<std::string> more) {
    a.insert(a.end(), more);
    return a;
  }
};

TEST_F(FinetuneCli, ResumedRunEqualsUninterruptedRunAndValidationImproves) {
  const std::string straight = dir + "/straight/out.pth", resumed = dir + "/resumed/out.pth";
  fs::create_directories(dir + "/straight");
  fs::create_directories(dir + "/resumed");
  ASSERT_EQ(run_cli(cli::run_finetune, args(straight)), 0);

  ASSERT_EQ(run_cli(cli::run_finetune, plus(args(resumed), {"--max-iterations", "5"})), 0);
  EXPECT_FALSE(fs::exists(resumed)) << "a stopped run must not write the final weights";
  EXPECT_TRUE(fs::exists(dir + "/resumed/out.ckpt.safetensors"));
  ASSERT_EQ(run_cli(cli::run_finetune, plus(args(resumed), {"--resume"})), 0);

  // Same losses, same learning rates, same gradient norms; the files hold the same bytes.
  const auto a = read_csv(dir + "/straight/out.iterations.csv", 5),
             b = read_csv(dir + "/resumed/out.iterations.csv", 5);
  ASSERT_EQ(a.size(), 13u);  // header + 12 iterations
  EXPECT_EQ(a, b);
  const auto ea = read_csv(dir + "/straight/out.epochs.csv", 6), eb = read_csv(dir + "/resumed/out.epochs.csv", 6);
  ASSERT_EQ(ea.size(), 6u);  // header + before training + 4 epochs
  EXPECT_EQ(ea, eb);
  EXPECT_EQ(testing::read_bytes(straight), testing::read_bytes(resumed));

  // Validation L1 (column 3) after 4 epochs is below the starting model's.
  const double before = std::stod(ea[1][3]), after = std::stod(ea[5][3]);
  EXPECT_LT(after, 0.9 * before) << "validation L1 " << before << " → " << after;
}

TEST_F(FinetuneCli, OutputLoadsInPyTorchWithTheSavedTensors) {
  const std::string out = dir + "/torch/out.pth";
  fs::create_directories(dir + "/torch");
  ASSERT_EQ(run_cli(cli::run_finetune, plus(args(out), {"--epochs", "1"})), 0);
  ASSERT_EQ(std::system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1"), 0)
      << "/usr/bin/python3 with torch is needed (tools/test.sh installs python3-torch)";
  const std::string command =
      "/usr/bin/python3 " MICROSR_SOURCE_DIR "/tools/check_finetuned_pth.py " + out + " " + dir + "/torch/dump";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;

  // What torch read equals the final checkpoint: its weights (params) and its EMA (params_ema).
  const TrainingCheckpoint ckpt = load_checkpoint(dir + "/torch/out.ckpt.safetensors");
  const StateDict params = load_safetensors(dir + "/torch/dump/params.safetensors");
  const StateDict ema = load_safetensors(dir + "/torch/dump/params_ema.safetensors");
  ASSERT_EQ(params.size(), ckpt.weights.size());
  const Tensor& flat_ema = ckpt.optimizer.at("ema");
  int64_t offset = 0;
  for (const auto& [name, t] : ckpt.weights.entries) {
    testing::expect_close(params.at(name), t, 0.0, "params." + name);
    testing::expect_close(ema.at(name), Tensor::borrow(flat_ema.f32() + offset, t.shape()), 0.0, "params_ema." + name);
    offset += t.numel();
  }
  // And microsr itself reads the file back (params_ema preferred, as Real-ESRGAN does).
  testing::expect_close(load_pth(out).at("conv_last.bias"), ema.at("conv_last.bias"), 0.0, "load_pth");
}

TEST_F(FinetuneCli, ClearErrors) {
  testing::expect_error([&] { run_cli(cli::run_finetune, {"-o", dir + "/x.pth"}); }, "--pairs DIR is required");
  testing::expect_error([&] { run_cli(cli::run_finetune, {"--pairs", dir + "/pairs", "-o", dir + "/x.png"}); }, ".pth");
  const std::string out = dir + "/err/out.pth";
  fs::create_directories(dir + "/err");
  testing::expect_error([&] { run_cli(cli::run_finetune, plus(args(out), {"--resume"})); }, "no checkpoint");
  ASSERT_EQ(run_cli(cli::run_finetune, plus(args(out), {"--max-iterations", "1"})), 0);
  testing::expect_error(
      [&] {
        run_cli(cli::run_finetune, plus(args(out), {"--resume", "--batch", "3"}));
      },
      "other settings");
  testing::expect_error([&] { run_cli(cli::run_finetune, plus(args(out), {"--patch", "18"})); }, "not a multiple");
  testing::expect_error([&] { run_cli(cli::run_finetune, plus(args(out), {"--batch", "7"})); }, "fewer than the batch");
  testing::expect_error([&] { run_cli(cli::run_finetune, {"--pairs", dir + "/nowhere", "-o", out}); }, "nowhere");
}

TEST_F(FinetuneCli, CreatesAMissingOutputFolder) {  // issue 13, case 9
  const std::string out = dir + "/not/yet/there/out.pth";
  ASSERT_FALSE(fs::exists(dir + "/not"));
  ASSERT_EQ(run_cli(cli::run_finetune, plus(args(out), {"--epochs", "1"})), 0);
  EXPECT_TRUE(fs::is_regular_file(out));
  EXPECT_TRUE(fs::is_regular_file(dir + "/not/yet/there/out.epochs.csv"));
}

// The library's fine-tuning, without the CLI: what an observer hears, and what it can stop.
struct RecordingObserver : FinetuneObserver {
  std::vector<std::string> notes;
  std::vector<IterationRecord> iterations;
  std::vector<EpochRecord> epochs;
  int64_t stop_after = -1;  // iterations this observer lets run before asking to stop
  void note(const std::string& line) override { notes.push_back(line); }
  void iteration(const IterationRecord& r) override { iterations.push_back(r); }
  void epoch(const EpochRecord& r) override { epochs.push_back(r); }
  bool stop_requested() override { return stop_after >= 0 && int64_t(iterations.size()) >= stop_after; }
  bool heard(const std::string& needle) const {
    for (const std::string& n : notes)
      if (n.find(needle) != std::string::npos) return true;
    return false;
  }
};

class FinetuneLibrary : public FinetuneCli {
 protected:
  // The same run as FinetuneCli::args (3 iterations per epoch × 4 epochs).
  static FinetuneSettings settings(const std::string& out) {
    FinetuneSettings s;
    s.pairs = s.val = dir + "/pairs";
    s.out = out;
    s.init = dir + "/init.pth";
    s.epochs = 4, s.batch = 2, s.patch = 16, s.checkpoint_every = 2, s.seed = 3;
    s.schedule.base_lr = 2e-3, s.schedule.step_size = 2;
    s.trainer.ema_decay = 0.9;
    return s;
  }
};

TEST_F(FinetuneLibrary, StopsWhenAskedAndResumesToTheEnd) {
  auto backend = make_cpu_backend(CpuOptions{});
  const FinetuneSettings s = settings(dir + "/library/out.pth");
  RecordingObserver first;
  first.stop_after = 4;
  const FinetuneResult stopped = finetune(s, *backend, first);
  EXPECT_EQ(stopped.end, FinetuneResult::End::interrupted);
  EXPECT_EQ(stopped.iterations, 4);
  ASSERT_EQ(first.iterations.size(), 4u);
  EXPECT_EQ(first.iterations.back().total, 12);
  EXPECT_EQ(first.epochs.size(), 2u);  // before training, epoch 1
  EXPECT_TRUE(first.heard("continue with the same command and --resume"));
  EXPECT_FALSE(fs::exists(s.out));

  FinetuneSettings again = s;
  again.resume = true;
  RecordingObserver second;
  const FinetuneResult finished = finetune(again, *backend, second);
  EXPECT_EQ(finished.end, FinetuneResult::End::finished);
  EXPECT_EQ(finished.iterations, 12);
  ASSERT_EQ(second.iterations.size(), 8u);
  EXPECT_EQ(second.iterations.front().iteration, 5);
  EXPECT_EQ(second.epochs.size(), 3u);  // epochs 2, 3, 4
  EXPECT_TRUE(std::isfinite(finished.first_epoch_loss)) << "carried over from the first call";
  EXPECT_LT(finished.last_epoch_loss, finished.first_epoch_loss);
  EXPECT_GT(finished.mean_weight_change, 0);
  EXPECT_TRUE(fs::is_regular_file(s.out));
}

// A run that diverges before its first checkpoint must not point at a checkpoint that does not
// exist (issue 13, case 9). Weights ×1e30 are finite, so they load, but the output overflows.
TEST_F(FinetuneLibrary, DivergenceBeforeAnyCheckpointSaysThereIsNone) {
  StateDict huge = load_rrdbnet_weights(dir + "/init.pth");
  for (auto& [name, t] : huge.entries)
    for (int64_t i = 0; i < t.numel(); ++i) t.f32()[i] = t.f32()[i] * 1e30f + 1e30f;
  save_pth(dir + "/huge.pth", huge);
  FinetuneSettings s = settings(dir + "/diverged/out.pth");
  s.init = dir + "/huge.pth";
  s.val.clear();
  auto backend = make_cpu_backend(CpuOptions{});
  RecordingObserver observer;
  const FinetuneResult r = finetune(s, *backend, observer);
  EXPECT_EQ(r.end, FinetuneResult::End::diverged);
  EXPECT_EQ(r.iterations, 0);
  EXPECT_TRUE(observer.heard("stopping: ")) << ::testing::PrintToString(observer.notes);
  EXPECT_TRUE(observer.heard("no checkpoint was saved")) << "notes: " << ::testing::PrintToString(observer.notes);
  EXPECT_FALSE(observer.heard("last good checkpoint"));
  EXPECT_FALSE(fs::exists(s.checkpoint_path()));
  EXPECT_FALSE(fs::exists(s.out));
}

// Fine-tuning end to end on the GPU (never run on a device before: the CUDA training ops had run
// one iteration at a time). The same run as FinetuneLibrary's, on the CUDA backend in fp32:
//   * stopped after 5 iterations and resumed on a new backend (as a new process would), it ends
//     with the same weights file, bit for bit, as the run without a stop: the backward
//     convolutions take deterministic algorithms, and `legacy_heuristic` makes the forward ones
//     cuDNN's ranking (a timed search may choose differently on another backend);
//   * it follows the CPU's run: the same iterations, the validation loss within 1% of the CPU's
//     at every epoch (fp32 on both; they differ in summation order only).
class GpuFinetune : public FinetuneLibrary {
 protected:
  static std::unique_ptr<Backend> gpu() { return gpu_testing::cuda_backend(Precision::fp32, "legacy_heuristic"); }
};

TEST_F(GpuFinetune, ResumedRunEqualsUninterruptedAndFollowsTheCpu) {
  SKIP_WITHOUT_CUDA_DEVICE();
  const FinetuneSettings straight = settings(dir + "/gpu/straight.pth"), cpu_run = settings(dir + "/gpu/cpu.pth");
  FinetuneSettings stopped = settings(dir + "/gpu/resumed.pth");
  RecordingObserver on_gpu, on_cpu, first, second;
  const FinetuneResult whole = finetune(straight, *gpu(), on_gpu);
  ASSERT_EQ(whole.end, FinetuneResult::End::finished);
  EXPECT_EQ(whole.iterations, 12);

  first.stop_after = 5;
  EXPECT_EQ(finetune(stopped, *gpu(), first).end, FinetuneResult::End::interrupted);
  stopped.resume = true;
  EXPECT_EQ(finetune(stopped, *gpu(), second).end, FinetuneResult::End::finished);
  EXPECT_EQ(testing::read_bytes(straight.out), testing::read_bytes(stopped.out))
      << "a resumed GPU run must end where the uninterrupted one does (with MICROSR_CUDA_VERBOSE=1, a backward "
         "convolution that ran a nondeterministic algorithm says 'running N (nondeterministic)' on stderr)";

  auto cpu = make_cpu_backend(CpuOptions{});
  const FinetuneResult reference = finetune(cpu_run, *cpu, on_cpu);
  ASSERT_EQ(on_gpu.epochs.size(), on_cpu.epochs.size());
  for (std::size_t e = 0; e < on_cpu.epochs.size(); ++e) {
    const double g = on_gpu.epochs[e].val.l1, c = on_cpu.epochs[e].val.l1;
    std::printf("[ info ] epoch %zu: validation L1 GPU %.7f, CPU %.7f\n", e, g, c);
    EXPECT_NEAR(g, c, 0.01 * std::abs(c)) << "epoch record " << e;
  }
  EXPECT_LT(whole.last_epoch_loss, whole.first_epoch_loss) << "the loss goes down on the GPU too";
  EXPECT_NEAR(whole.last_epoch_loss, reference.last_epoch_loss, 0.01 * reference.last_epoch_loss);
}

}  // namespace
}  // namespace microsr
